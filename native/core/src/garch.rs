//! (module garch: being written)
