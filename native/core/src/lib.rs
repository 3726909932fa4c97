//! regime-core: the numeric kernels of `regime`, in plain Rust with no Node types.
//!
//! One module per kernel family. The napi binding (`native/node`) only marshals.
//! Every public function returns `Result<_, DataError>` for bad input; panics are bugs.

pub mod bars;
pub mod cluster;
pub mod cross;
pub mod error;
pub mod garch;
pub mod grid;
pub mod har;
pub mod hmm;
pub mod klines;
pub mod nn;
pub mod resample;
pub mod rolling;
pub mod synth;
pub mod trend;

pub use bars::{GridBars, Klines};
pub use error::DataError;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;
