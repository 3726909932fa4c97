//! regime-node: the napi-rs binding of regime-core. Marshalling only: argument checks,
//! conversion to and from typed arrays, errors, and the thread pool. No numerics here.
//!
//! Errors: bad input from the caller becomes a JS Error with code `InvalidArg` (the CLI's
//! "user error"); anything else is `GenericFailure`. Kernels never panic across the boundary:
//! each entry point runs under `catch_unwind` via `guard`.

#![deny(clippy::all)]

mod bars;
mod cluster;
mod cross;
mod garch;
mod har;
mod hmm;
mod klines;
mod nn;
mod pool;
mod rolling;
mod synth;
mod trend;

use napi::{Error, Status};
use napi_derive::napi;

pub(crate) fn data_err(e: regime_core::DataError) -> Error {
    Error::new(Status::InvalidArg, e.to_string())
}

/// Run `f`, turning a panic into a JS error instead of aborting the process.
pub(crate) fn guard<T>(what: &str, f: impl FnOnce() -> napi::Result<T>) -> napi::Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error::new(Status::GenericFailure, format!("internal error in {what}: {msg}")))
        }
    }
}

/// Version of the native core, e.g. "0.1.0".
#[napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
