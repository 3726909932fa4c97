//! Binding of regime_core::garch: GARCH(1,1) fit, fixed-parameter filter/likelihood, and many
//! fits on the pool. Sync calls read `y` in place (the JS thread is blocked while they run);
//! `garchFitMany` copies every series into Rust before its task starts. Parameters cross as
//! θ = [μ, ω, α, β] (normal) or [μ, ω, α, β, ν] (Student t).

use crate::{data_err, guard, pool};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use regime_core::garch::{self, Dist, FilterInit, FitOptions, GarchFilter, GarchFit, GarchParams};

#[napi(object)]
pub struct JsGarchFitOptions {
    /// Iteration cap of the optimiser (default 500).
    pub max_iter: Option<f64>,
    /// Projected-gradient tolerance (default 1e-8).
    pub tol: Option<f64>,
}

/// A fitted GARCH(1,1). Vectors are in θ order.
#[napi(object)]
pub struct JsGarchFit {
    pub dist: String,
    pub params: Vec<f64>,
    pub std_err_robust: Vec<f64>,
    /// Robust covariance, k×k row-major.
    pub cov_robust: Vec<f64>,
    pub loglik: f64,
    pub nobs: u32,
    pub backcast: f64,
    pub starting_values: Vec<f64>,
    /// σ_t, the forecast for observation t from data up to t−1.
    pub conditional_vol: Float64Array,
    pub resid: Float64Array,
    pub forecast_variance: f64,
    /// e²_{T−1} and σ²_{T−1}: the state a filter continues from.
    pub state_resid2: f64,
    pub state_sigma2: f64,
    pub converged: bool,
    pub iterations: u32,
    pub evaluations: u32,
    /// 'gradient' | 'decrease' | 'line-search' | 'max-iterations'.
    pub stop_reason: String,
    pub grad_norm: f64,
}

/// Where the variance recursion starts: a backcast, or a state (resid2 and sigma2), or neither
/// (the backcast of y itself, arch's in-sample convention).
#[napi(object)]
pub struct JsGarchInit {
    pub backcast: Option<f64>,
    pub resid2: Option<f64>,
    pub sigma2: Option<f64>,
}

#[napi(object)]
pub struct JsGarchFilter {
    pub conditional_vol: Float64Array,
    pub resid: Float64Array,
    pub loglik: f64,
    pub forecast_variance: f64,
    pub state_resid2: f64,
    pub state_sigma2: f64,
    /// The backcast used (NaN when the filter started from a state).
    pub backcast: f64,
}

fn fit_options(o: Option<JsGarchFitOptions>) -> Result<FitOptions> {
    let mut f = FitOptions::default();
    if let Some(o) = o {
        if let Some(m) = o.max_iter {
            if !(m.is_finite() && m.fract() == 0.0 && (1.0..=1e6).contains(&m)) {
                return Err(Error::new(Status::InvalidArg, format!("Expected integer between 1 and 1000000 for maxIter but received {m}")));
            }
            f.max_iter = m as usize;
        }
        if let Some(t) = o.tol {
            if !(t.is_finite() && t > 0.0) {
                return Err(Error::new(Status::InvalidArg, format!("Expected positive number for tol but received {t}")));
            }
            f.tol = t;
        }
    }
    Ok(f)
}

fn parse_dist(s: &str) -> Result<Dist> {
    Dist::parse(s).map_err(data_err)
}

fn fit_to_js(f: GarchFit) -> JsGarchFit {
    let c = f.convergence;
    JsGarchFit {
        dist: f.dist.name().to_string(),
        params: f.params.to_vec(),
        std_err_robust: f.std_err_robust,
        cov_robust: f.cov_robust,
        loglik: f.loglik,
        nobs: f.nobs as u32,
        backcast: f.backcast,
        starting_values: f.starting_values.to_vec(),
        conditional_vol: Float64Array::new(f.filter.sigma),
        resid: Float64Array::new(f.filter.resid),
        forecast_variance: f.filter.forecast_variance,
        state_resid2: f.filter.state.resid2,
        state_sigma2: f.filter.state.sigma2,
        converged: c.converged,
        iterations: c.iterations as u32,
        evaluations: c.evaluations as u32,
        stop_reason: c.reason.name().to_string(),
        grad_norm: c.grad_norm,
    }
}

fn filter_to_js(f: GarchFilter, backcast: f64) -> JsGarchFilter {
    JsGarchFilter {
        conditional_vol: Float64Array::new(f.sigma),
        resid: Float64Array::new(f.resid),
        loglik: f.loglik,
        forecast_variance: f.forecast_variance,
        state_resid2: f.state.resid2,
        state_sigma2: f.state.sigma2,
        backcast,
    }
}

/// Maximum-likelihood GARCH(1,1) with constant mean on y (= 100·returns), dist 'normal' or 't'.
#[napi]
pub fn garch_fit_sync(y: Float64ArraySlice, dist: String, options: Option<JsGarchFitOptions>) -> Result<JsGarchFit> {
    let d = parse_dist(&dist)?;
    let o = fit_options(options)?;
    guard("garchFit", || Ok(fit_to_js(garch::fit(&y, d, &o).map_err(data_err)?)))
}

pub struct GarchFitManyTask {
    ys: Vec<Vec<f64>>,
    dist: Dist,
    options: FitOptions,
}

impl Task for GarchFitManyTask {
    type Output = Vec<GarchFit>;
    type JsValue = Vec<JsGarchFit>;
    fn compute(&mut self) -> Result<Self::Output> {
        let ys = std::mem::take(&mut self.ys);
        let (d, o) = (self.dist, self.options);
        guard("garchFitMany", || pool::install(|| garch::fit_many(&ys, d, &o))?.map_err(data_err))
    }
    fn resolve(&mut self, _env: Env, out: Self::Output) -> Result<Self::JsValue> {
        Ok(out.into_iter().map(fit_to_js).collect())
    }
}

/// Fit many series in parallel on the pool (one task per series), off the JS thread. The series
/// are copied before the task starts.
#[napi(ts_return_type = "Promise<Array<JsGarchFit>>")]
pub fn garch_fit_many(ys: Vec<Float64Array>, dist: String, options: Option<JsGarchFitOptions>) -> Result<AsyncTask<GarchFitManyTask>> {
    let d = parse_dist(&dist)?;
    let o = fit_options(options)?;
    Ok(AsyncTask::new(GarchFitManyTask { ys: ys.iter().map(|y| y.to_vec()).collect(), dist: d, options: o }))
}

/// σ_t, residuals, log-likelihood and the next-step forecast at fixed parameters θ. Causal
/// given `init`; without one the backcast of y itself is used (arch's `fix`, not causal for the
/// first 75 observations).
#[napi]
pub fn garch_filter_sync(y: Float64ArraySlice, params: Vec<f64>, init: Option<JsGarchInit>) -> Result<JsGarchFilter> {
    let p = GarchParams::from_slice(&params).map_err(data_err)?;
    let init = match init {
        None | Some(JsGarchInit { backcast: None, resid2: None, sigma2: None }) => None,
        Some(JsGarchInit { backcast: Some(b), resid2: None, sigma2: None }) => Some(FilterInit::Backcast(b)),
        Some(JsGarchInit { backcast: None, resid2: Some(e2), sigma2: Some(s2) }) => Some(FilterInit::State { resid2: e2, sigma2: s2 }),
        Some(_) => {
            return Err(Error::new(
                Status::InvalidArg,
                "Expected either backcast or both resid2 and sigma2 for init".to_string(),
            ))
        }
    };
    guard("garchFilter", || {
        let (b, f) = match init {
            None => garch::loglik(&y, &p).map_err(data_err)?,
            Some(i @ FilterInit::Backcast(b)) => (b, garch::filter(&y, &p, i).map_err(data_err)?),
            Some(i) => (f64::NAN, garch::filter(&y, &p, i).map_err(data_err)?),
        };
        Ok(filter_to_js(f, b))
    })
}

/// arch's backcast of y: Σ_{i<τ} w_i (y_i − ȳ)², τ = min(75, T), w_i ∝ 0.94^i.
#[napi]
pub fn garch_backcast_sync(y: Float64ArraySlice) -> Result<f64> {
    guard("garchBackcast", || garch::backcast(&y).map_err(data_err))
}
