//! Binding of regime_core::cross. Layout: returns/vols/volumes as one row-major T×N
//! Float64Array (asset j at row t is `x[t * nAssets + j]`), correlation matrices as T×N×N.
//!
//! The sliding kernels (correlation matrices, correlation/β to a reference) run on the pool:
//! the async forms copy their inputs into Rust on the JS thread and compute off it; the `Sync`
//! forms read the inputs in place and block. The matrix statistics and cross-sectional helpers
//! are cheap single passes and run synchronously on the inputs in place.

use crate::trend::int_arg;
use crate::{data_err, guard, pool};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use regime_core::cross::{self, RefStat};

fn assets_arg(v: f64) -> Result<usize> {
    let n = int_arg(v, "nAssets", 1)?;
    if n > cross::MAX_ASSETS {
        return Err(Error::new(
            Status::InvalidArg,
            format!("Expected nAssets between 1 and {} but received {n}", cross::MAX_ASSETS),
        ));
    }
    Ok(n)
}

fn check_multiple(name: &str, len: usize, unit: usize, what: &str) -> Result<()> {
    if !len.is_multiple_of(unit) {
        return Err(Error::new(Status::InvalidArg, format!("{name} has length {len}, which is not a multiple of {what} ({unit})")));
    }
    Ok(())
}

enum Job {
    Matrix,
    Vs(RefStat, Vec<f64>),
}

fn run(job: &Job, x: &[f64], n: usize, window: usize) -> Result<Vec<f64>> {
    let what = match job {
        Job::Matrix => "rollingCorrMatrix",
        Job::Vs(RefStat::Corr, _) => "corrTo",
        Job::Vs(RefStat::Beta, _) => "betaTo",
    };
    guard(what, || {
        pool::install(|| match job {
            Job::Matrix => cross::rolling_corr_matrix(x, n, window),
            Job::Vs(stat, r) => cross::rolling_vs_reference(x, n, r, window, *stat),
        })?
        .map_err(data_err)
    })
}

pub struct CrossTask {
    job: Job,
    x: Vec<f64>,
    n: usize,
    window: usize,
}

impl Task for CrossTask {
    type Output = Vec<f64>;
    type JsValue = Float64Array;
    fn compute(&mut self) -> Result<Self::Output> {
        run(&self.job, &self.x, self.n, self.window)
    }
    fn resolve(&mut self, _env: Env, out: Self::Output) -> Result<Self::JsValue> {
        Ok(Float64Array::new(out))
    }
}

fn task(job: Job, returns: &[f64], n: f64, window: f64) -> Result<AsyncTask<CrossTask>> {
    let n = assets_arg(n)?;
    check_multiple("returns", returns.len(), n, "nAssets")?;
    let window = int_arg(window, "window", 2)?;
    Ok(AsyncTask::new(CrossTask { job, x: returns.to_vec(), n, window }))
}

fn reference_len(reference: &[f64], returns: &[f64], n: usize) -> Result<()> {
    if reference.len() * n != returns.len() {
        return Err(Error::new(
            Status::InvalidArg,
            format!("reference has length {} but returns has {} rows", reference.len(), returns.len() / n),
        ));
    }
    Ok(())
}

/// Sliding Pearson correlation matrices (T×N×N) over `window` rows of the T×N returns,
/// computed incrementally on the pool, off the JS thread.
#[napi(ts_return_type = "Promise<Float64Array>")]
pub fn rolling_corr_matrix(returns: Float64ArraySlice, n_assets: f64, window: f64) -> Result<AsyncTask<CrossTask>> {
    task(Job::Matrix, &returns, n_assets, window)
}

/// Blocking variant of `rollingCorrMatrix`.
#[napi]
pub fn rolling_corr_matrix_sync(returns: Float64ArraySlice, n_assets: f64, window: f64) -> Result<Float64Array> {
    let n = n_assets_checked(&returns, n_assets)?;
    let w = int_arg(window, "window", 2)?;
    Ok(Float64Array::new(run(&Job::Matrix, &returns, n, w)?))
}

fn n_assets_checked(returns: &[f64], n: f64) -> Result<usize> {
    let n = assets_arg(n)?;
    check_multiple("returns", returns.len(), n, "nAssets")?;
    Ok(n)
}

fn ref_stat(stat: &str) -> Result<RefStat> {
    match stat {
        "corr" => Ok(RefStat::Corr),
        "beta" => Ok(RefStat::Beta),
        _ => Err(Error::new(Status::InvalidArg, format!("Expected 'corr' or 'beta' for stat but received '{stat}'"))),
    }
}

/// Sliding correlation (`stat` 'corr') or β = cov/var(reference) ('beta') of each asset with a
/// reference series of length T, over `window` rows: T×N, on the pool, off the JS thread.
#[napi(ts_return_type = "Promise<Float64Array>")]
pub fn rolling_vs_reference(
    returns: Float64ArraySlice,
    n_assets: f64,
    reference: Float64ArraySlice,
    window: f64,
    stat: String,
) -> Result<AsyncTask<CrossTask>> {
    let n = n_assets_checked(&returns, n_assets)?;
    reference_len(&reference, &returns, n)?;
    task(Job::Vs(ref_stat(&stat)?, reference.to_vec()), &returns, n_assets, window)
}

/// Blocking variant of `rollingVsReference`.
#[napi]
pub fn rolling_vs_reference_sync(
    returns: Float64ArraySlice,
    n_assets: f64,
    reference: Float64ArraySlice,
    window: f64,
    stat: String,
) -> Result<Float64Array> {
    let n = n_assets_checked(&returns, n_assets)?;
    reference_len(&reference, &returns, n)?;
    let w = int_arg(window, "window", 2)?;
    // The reference is copied (T doubles) so the job can own it; the returns are read in place.
    Ok(Float64Array::new(run(&Job::Vs(ref_stat(&stat)?, reference.to_vec()), &returns, n, w)?))
}

fn matrices_checked(m: &[f64], n: f64) -> Result<usize> {
    let n = assets_arg(n)?;
    check_multiple("matrices", m.len(), n * n, "nAssets²")?;
    Ok(n)
}

/// Mean of the defined off-diagonal correlations per row (length T).
#[napi]
pub fn avg_pairwise_corr(matrices: Float64ArraySlice, n_assets: f64) -> Result<Float64Array> {
    let n = matrices_checked(&matrices, n_assets)?;
    guard("avgPairwiseCorr", || Ok(Float64Array::new({ let m: &[f64] = &matrices; pool::install(|| cross::avg_pairwise_corr(m, n)) }?.map_err(data_err)?)))
}

/// Each asset's mean defined correlation to the others (T×N).
#[napi]
pub fn mean_corr_to_others(matrices: Float64ArraySlice, n_assets: f64) -> Result<Float64Array> {
    let n = matrices_checked(&matrices, n_assets)?;
    guard("meanCorrToOthers", || Ok(Float64Array::new({ let m: &[f64] = &matrices; pool::install(|| cross::mean_corr_to_others(m, n)) }?.map_err(data_err)?)))
}

/// Pearson correlation between the upper triangles at t and t−lag over the common defined pairs (length T).
#[napi]
pub fn corr_stability(matrices: Float64ArraySlice, n_assets: f64, lag: f64) -> Result<Float64Array> {
    let n = matrices_checked(&matrices, n_assets)?;
    let lag = int_arg(lag, "lag", 1)?;
    guard("corrStability", || Ok(Float64Array::new({ let m: &[f64] = &matrices; pool::install(|| cross::corr_stability(m, n, lag)) }?.map_err(data_err)?)))
}

/// Cross-sectional std (ddof 1) of ln(vol) over the assets with a finite positive vol (length T).
#[napi]
pub fn vol_dispersion(vols: Float64ArraySlice, n_assets: f64) -> Result<Float64Array> {
    let n = assets_arg(n_assets)?;
    check_multiple("vols", vols.len(), n, "nAssets")?;
    guard("volDispersion", || Ok(Float64Array::new(cross::vol_dispersion(&vols, n).map_err(data_err)?)))
}

/// Cross-sectional median over the finite values of each row (length T).
#[napi]
pub fn cross_sectional_median(values: Float64ArraySlice, n_assets: f64) -> Result<Float64Array> {
    let n = assets_arg(n_assets)?;
    check_multiple("values", values.len(), n, "nAssets")?;
    guard("crossSectionalMedian", || Ok(Float64Array::new(cross::cross_sectional_median(&values, n).map_err(data_err)?)))
}

/// ln(vol / cross-sectional median of the finite positive vols) (T×N).
#[napi]
pub fn log_ratio_to_median(vols: Float64ArraySlice, n_assets: f64) -> Result<Float64Array> {
    let n = assets_arg(n_assets)?;
    check_multiple("vols", vols.len(), n, "nAssets")?;
    guard("logRatioToMedian", || Ok(Float64Array::new(cross::log_ratio_to_median(&vols, n).map_err(data_err)?)))
}

/// The reference asset's share of the total quote volume of the assets present, then its
/// trailing `window`-row mean (length T).
#[napi]
pub fn volume_share(quote_volume: Float64ArraySlice, n_assets: f64, reference: f64, window: f64) -> Result<Float64Array> {
    let n = assets_arg(n_assets)?;
    check_multiple("quoteVolume", quote_volume.len(), n, "nAssets")?;
    let r = int_arg(reference, "reference", 0)?;
    let w = int_arg(window, "window", 1)?;
    guard("volumeShare", || Ok(Float64Array::new(cross::volume_share(&quote_volume, n, r, w).map_err(data_err)?)))
}
