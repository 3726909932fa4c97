//! The one thread pool every kernel runs on. Its size comes from `setThreads`, else the
//! `REGIME_THREADS` environment variable, else the number of cores. Kernels partition work
//! deterministically, so results do not depend on the size.

use napi::{Error, Status};
use napi_derive::napi;
use std::sync::{Arc, RwLock};

static POOL: RwLock<Option<Arc<rayon::ThreadPool>>> = RwLock::new(None);

fn default_threads() -> usize {
    std::env::var("REGIME_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

fn build(n: usize) -> napi::Result<Arc<rayon::ThreadPool>> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("regime-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| Error::new(Status::GenericFailure, format!("cannot start thread pool: {e}")))
}

pub(crate) fn pool() -> napi::Result<Arc<rayon::ThreadPool>> {
    if let Some(p) = POOL.read().unwrap().as_ref() {
        return Ok(p.clone());
    }
    let mut w = POOL.write().unwrap();
    if w.is_none() {
        *w = Some(build(default_threads())?);
    }
    Ok(w.as_ref().unwrap().clone())
}

/// Run `f` on the pool.
pub(crate) fn install<T: Send>(f: impl FnOnce() -> T + Send) -> napi::Result<T> {
    Ok(pool()?.install(f))
}

/// Number of threads kernels use.
#[napi]
pub fn threads() -> napi::Result<u32> {
    Ok(pool()?.current_num_threads() as u32)
}

/// Set the number of threads kernels use (1..=1024). Work already running keeps its pool.
#[napi]
pub fn set_threads(n: u32) -> napi::Result<u32> {
    if n == 0 || n > 1024 {
        return Err(Error::new(Status::InvalidArg, format!("Expected threads between 1 and 1024 but received {n}")));
    }
    let p = build(n as usize)?;
    *POOL.write().unwrap() = Some(p);
    Ok(n)
}
