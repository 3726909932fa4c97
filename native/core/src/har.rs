//! (module har: being written)
