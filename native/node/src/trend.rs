//! (binding of regime_core::trend: being written)
