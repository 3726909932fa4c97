//! Binding of regime_core::rolling: rolling window statistics, corr/cov, EWM mean/std, their
//! warm-up lengths, a parallel batch over many series, and the streaming classes.
//!
//! Sync calls read their input in place (a `Float64Array` view, no copy) and hand the result
//! `Vec` to V8 without a copy. `rollingMany` runs on the pool, off the JS thread, and also reads
//! its inputs in place: the task holds the `Float64Array`s (references that keep them alive)
//! and takes slices of them on the worker. The caller must therefore not write to, transfer or
//! detach those arrays until the Promise settles. Statistic names are checked here and name
//! the value they reject.

use crate::{data_err, guard, pool};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use regime_core::rolling::{self, EwmStat, PairStat, Stat, Window};

fn invalid(msg: String) -> Error {
    Error::new(Status::InvalidArg, msg)
}

/// An integer argument ≥ `min`, checked again after the TS layer.
fn count(v: f64, name: &str, min: usize) -> Result<usize> {
    if !v.is_finite() || v.fract() != 0.0 || v < min as f64 || v > u32::MAX as f64 {
        return Err(invalid(format!("Expected integer >= {min} for {name} but received {v}")));
    }
    Ok(v as usize)
}

fn stat_arg(stat: &str) -> Result<Stat> {
    Stat::from_name(stat).ok_or_else(|| {
        let names: Vec<&str> = Stat::ALL.iter().map(|s| s.name()).collect();
        invalid(format!("Expected one of {} for stat but received '{stat}'", names.join(", ")))
    })
}

fn pair_arg(stat: &str) -> Result<PairStat> {
    PairStat::from_name(stat).ok_or_else(|| invalid(format!("Expected 'corr' or 'cov' for stat but received '{stat}'")))
}

fn ewm_arg(stat: &str) -> Result<EwmStat> {
    EwmStat::from_name(stat).ok_or_else(|| invalid(format!("Expected 'mean' or 'std' for stat but received '{stat}'")))
}

/// Window from the JS arguments: `minPeriods` defaults to the window, `ddof` to 1.
fn window_arg(window: f64, min_periods: Option<f64>, ddof: Option<f64>) -> Result<Window> {
    let len = count(window, "window", 1)?;
    let mut w = Window::new(len);
    if let Some(p) = min_periods {
        w.min_periods = count(p, "minPeriods", 1)?;
    }
    if let Some(d) = ddof {
        w.ddof = count(d, "ddof", 0)?;
    }
    Ok(w)
}

/// Rolling `stat` ('sum', 'mean', 'var', 'std', 'skew', 'kurt', 'min', 'max', 'zscore') of `x`
/// over `window` rows (pandas semantics: missing values skipped, NaN below `minPeriods`
/// observations).
#[napi]
pub fn rolling_stat(
    x: Float64ArraySlice,
    stat: String,
    window: f64,
    min_periods: Option<f64>,
    ddof: Option<f64>,
) -> Result<Float64Array> {
    let s = stat_arg(&stat)?;
    let w = window_arg(window, min_periods, ddof)?;
    guard("rollingStat", || Ok(Float64Array::new(rolling::rolling(&x, s, w).map_err(data_err)?)))
}

/// Rolling 'corr' or 'cov' of two equally long series; a row counts when both values are finite.
#[napi]
pub fn rolling_pair(
    x: Float64ArraySlice,
    y: Float64ArraySlice,
    stat: String,
    window: f64,
    min_periods: Option<f64>,
    ddof: Option<f64>,
) -> Result<Float64Array> {
    let s = pair_arg(&stat)?;
    let w = window_arg(window, min_periods, ddof)?;
    guard("rollingPair", || Ok(Float64Array::new(rolling::rolling_pair(&x, &y, s, w).map_err(data_err)?)))
}

/// EWM 'mean' or 'std' (adjust=False, bias-corrected std) with smoothing factor `alpha` in (0, 1].
#[napi]
pub fn rolling_ewm(x: Float64ArraySlice, stat: String, alpha: f64) -> Result<Float64Array> {
    let s = ewm_arg(&stat)?;
    guard("rollingEwm", || Ok(Float64Array::new(rolling::ewm(&x, s, alpha).map_err(data_err)?)))
}

/// Index of the first output that can be defined on a series without missing values, for a
/// rolling stat, 'corr'/'cov', or 'ewmMean'/'ewmStd' (window arguments ignored for EWM).
#[napi]
pub fn rolling_warmup(stat: String, window: f64, min_periods: Option<f64>, ddof: Option<f64>) -> Result<u32> {
    guard("rollingWarmup", || {
        let n = match stat.as_str() {
            "ewmMean" => rolling::ewm_warmup(EwmStat::Mean),
            "ewmStd" => rolling::ewm_warmup(EwmStat::Std),
            "corr" | "cov" => {
                let (s, w) = (pair_arg(&stat)?, window_arg(window, min_periods, ddof)?);
                w.check_pair(s).map_err(data_err)?;
                rolling::pair_warmup(s, w)
            }
            _ => {
                let (s, w) = (stat_arg(&stat)?, window_arg(window, min_periods, ddof)?);
                w.check(s).map_err(data_err)?;
                rolling::warmup(s, w)
            }
        };
        Ok(n.min(u32::MAX as usize) as u32)
    })
}

pub struct RollingManyTask {
    /// The caller's arrays, read in place on the worker (not copied on the JS thread).
    xs: Vec<Float64Array>,
    stat: Stat,
    w: Window,
}

impl Task for RollingManyTask {
    type Output = Vec<Vec<f64>>;
    type JsValue = Vec<Float64Array>;
    fn compute(&mut self) -> Result<Self::Output> {
        let views: Vec<&[f64]> = self.xs.iter().map(|x| &x[..]).collect();
        let (s, w) = (self.stat, self.w);
        guard("rollingMany", || pool::install(|| rolling::rolling_many(&views, s, w))?.map_err(data_err))
    }
    fn resolve(&mut self, _env: Env, out: Self::Output) -> Result<Self::JsValue> {
        Ok(out.into_iter().map(Float64Array::new).collect())
    }
}

/// `rollingStat` over many series on the pool, off the JS thread. Long series are split into
/// time blocks, so one series also uses every thread; the result does not depend on the thread
/// count. The inputs are read in place, not copied: do not write to, transfer or detach them
/// until the Promise settles.
#[napi(ts_return_type = "Promise<Array<Float64Array>>")]
pub fn rolling_many(
    xs: Vec<Float64Array>,
    stat: String,
    window: f64,
    min_periods: Option<f64>,
    ddof: Option<f64>,
) -> Result<AsyncTask<RollingManyTask>> {
    let s = stat_arg(&stat)?;
    let w = window_arg(window, min_periods, ddof)?;
    w.check(s).map_err(data_err)?; // fail before the task starts
    Ok(AsyncTask::new(RollingManyTask { xs, stat: s, w }))
}

/// A rolling statistic fed one bar at a time; gives `rollingStat`'s values within the tolerances
/// of docs/rolling.md (not bit for bit: the batch sums blocks, the stream adds and removes).
#[napi]
pub struct RollingStream {
    inner: rolling::RollingStream,
}

#[napi]
impl RollingStream {
    #[napi(constructor)]
    pub fn new(stat: String, window: f64, min_periods: Option<f64>, ddof: Option<f64>) -> Result<Self> {
        let s = stat_arg(&stat)?;
        let w = window_arg(window, min_periods, ddof)?;
        guard("RollingStream", || Ok(RollingStream { inner: rolling::RollingStream::new(s, w).map_err(data_err)? }))
    }

    /// Add the next bar (NaN or ±Infinity for a missing one); returns the statistic of the
    /// window ending at it.
    #[napi]
    pub fn update(&mut self, x: f64) -> Result<f64> {
        guard("RollingStream.update", || Ok(self.inner.update(x)))
    }

    /// Observations (finite values) in the current window.
    #[napi(getter)]
    pub fn nobs(&self) -> u32 {
        self.inner.nobs() as u32
    }

    /// Forget every bar seen.
    #[napi]
    pub fn reset(&mut self) -> Result<()> {
        guard("RollingStream.reset", || {
            self.inner.reset();
            Ok(())
        })
    }
}

/// EWM mean or std fed one bar at a time; gives the same values as `rollingEwm`.
#[napi]
pub struct EwmStream {
    inner: rolling::EwmStream,
}

#[napi]
impl EwmStream {
    #[napi(constructor)]
    pub fn new(stat: String, alpha: f64) -> Result<Self> {
        let s = ewm_arg(&stat)?;
        guard("EwmStream", || Ok(EwmStream { inner: rolling::EwmStream::new(s, alpha).map_err(data_err)? }))
    }

    #[napi]
    pub fn update(&mut self, x: f64) -> Result<f64> {
        guard("EwmStream.update", || Ok(self.inner.update(x)))
    }

    #[napi]
    pub fn reset(&mut self) -> Result<()> {
        guard("EwmStream.reset", || {
            self.inner.reset();
            Ok(())
        })
    }
}
