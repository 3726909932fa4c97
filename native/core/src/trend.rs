//! (module trend: being written)
