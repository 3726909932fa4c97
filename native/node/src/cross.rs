//! (binding of regime_core::cross: being written)
