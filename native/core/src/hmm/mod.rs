//! Gaussian hidden Markov models (being written).
