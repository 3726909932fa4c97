//! (binding of regime_core::rolling: being written)
