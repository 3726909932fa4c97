//! (binding of regime_core::har: being written)
