//! (binding of regime_core::cluster: being written)
