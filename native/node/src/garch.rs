//! (binding of regime_core::garch: being written)
