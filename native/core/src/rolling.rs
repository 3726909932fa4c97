//! (module rolling: being written)
