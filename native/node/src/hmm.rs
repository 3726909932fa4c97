//! (binding of regime_core::hmm: being written)
