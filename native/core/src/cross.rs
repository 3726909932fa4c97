//! (module cross: being written)
