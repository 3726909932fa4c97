//! Binding of regime_core::hmm: Gaussian HMM fit (async with progress, and sync), score,
//! Viterbi, smoothed and filtered posteriors, sampling, information criteria, forward-backward
//! and Viterbi on a given emission matrix, and the streaming filter class.
//!
//! Layout: X is a row-major Float64Array (T × nFeatures) plus optional sequence `lengths`;
//! models cross as plain objects of Float64Arrays (startprob K, transmat K×K, means K×D, covars
//! full K×D×D | diag K×D | tied D×D | spherical K). Sync calls read X in place and run on the
//! kernels' pool (the JS thread waits). `hmmFit` copies X into Rust before its task starts and
//! runs off the JS thread; each EM iteration is queued to `onProgress` through a threadsafe
//! function (non-blocking, unbounded queue: every update is delivered, in order per restart).
//! The callback's return value `false` cancels the fit at the next iteration; the engine's
//! wrapper returns false when the user's callback throws, so no JS exception escapes it.

use crate::{data_err, guard, pool};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use regime_core::hmm::{self, FitOptions, FitResult, GaussianHmm, Implementation, Init, Params};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn invalid(msg: String) -> Error {
    Error::new(Status::InvalidArg, msg)
}

/// A Gaussian HMM. Shapes: startprob K; transmat K×K (row i: from state i); means K×D; covars
/// full K×D×D, diag K×D (variances), tied D×D, spherical K.
#[napi(object)]
pub struct JsHmmModel {
    pub n_states: u32,
    pub n_features: u32,
    /// 'full' | 'diag' | 'tied' | 'spherical'.
    pub covariance_type: String,
    pub startprob: Float64Array,
    pub transmat: Float64Array,
    pub means: Float64Array,
    pub covars: Float64Array,
}

fn model_from_js(m: &JsHmmModel) -> Result<GaussianHmm> {
    let cov_type = hmm::cov_type_from_name(&m.covariance_type).ok_or_else(|| {
        invalid(format!(
            "Expected 'full', 'diag', 'tied' or 'spherical' for covarianceType but received '{}'",
            m.covariance_type
        ))
    })?;
    let g = GaussianHmm {
        k: m.n_states as usize,
        d: m.n_features as usize,
        cov_type,
        startprob: m.startprob.to_vec(),
        transmat: m.transmat.to_vec(),
        means: m.means.to_vec(),
        covars: m.covars.to_vec(),
    };
    g.validate().map_err(data_err)?;
    Ok(g)
}

fn model_to_js(m: GaussianHmm) -> JsHmmModel {
    JsHmmModel {
        n_states: m.k as u32,
        n_features: m.d as u32,
        covariance_type: hmm::cov_type_name(m.cov_type).to_string(),
        startprob: Float64Array::new(m.startprob),
        transmat: Float64Array::new(m.transmat),
        means: Float64Array::new(m.means),
        covars: Float64Array::new(m.covars),
    }
}

fn lengths_arg(l: &Option<Vec<u32>>) -> Option<Vec<usize>> {
    l.as_ref().map(|v| v.iter().map(|&n| n as usize).collect())
}

#[napi(object)]
pub struct JsHmmFitOptions {
    pub n_states: u32,
    /// Default 'full'.
    pub covariance_type: Option<String>,
    /// Default 100.
    pub n_iter: Option<u32>,
    /// Default 1e-2.
    pub tol: Option<f64>,
    /// Covariance eigenvalue floor, default 1e-3.
    pub min_covar: Option<f64>,
    /// Default 1e-2.
    pub covars_prior: Option<f64>,
    /// 'kmeans++' (default) or 'gmm'; ignored when `initModel` is given.
    pub init: Option<String>,
    pub init_model: Option<JsHmmModel>,
    /// Default 1.
    pub n_restarts: Option<u32>,
    /// Non-negative integer, default 0.
    pub seed: Option<f64>,
    /// 'scaled' (default) or 'log'.
    pub implementation: Option<String>,
    /// Letters of 'stmc', default 'stmc'.
    pub params: Option<String>,
}

fn fit_options(o: &JsHmmFitOptions) -> Result<FitOptions> {
    let mut f = FitOptions::new(o.n_states as usize);
    if let Some(c) = &o.covariance_type {
        f.cov_type = hmm::cov_type_from_name(c).ok_or_else(|| {
            invalid(format!("Expected 'full', 'diag', 'tied' or 'spherical' for covarianceType but received '{c}'"))
        })?;
    }
    if let Some(n) = o.n_iter {
        f.n_iter = n as usize;
    }
    if let Some(v) = o.tol {
        f.tol = v;
    }
    if let Some(v) = o.min_covar {
        f.min_covar = v;
    }
    if let Some(v) = o.covars_prior {
        f.covars_prior = v;
    }
    if let Some(n) = o.n_restarts {
        f.n_restarts = n as usize;
    }
    if let Some(s) = o.seed {
        if !(s.is_finite() && s >= 0.0 && s.fract() == 0.0 && s <= 9_007_199_254_740_991.0) {
            return Err(invalid(format!("Expected non-negative safe integer for seed but received {s}")));
        }
        f.seed = s as u64;
    }
    if let Some(i) = &o.implementation {
        f.implementation = Implementation::from_name(i)
            .ok_or_else(|| invalid(format!("Expected 'scaled' or 'log' for implementation but received '{i}'")))?;
    }
    if let Some(p) = &o.params {
        f.params = Params::parse(p).map_err(data_err)?;
    }
    f.init = match (&o.init_model, o.init.as_deref()) {
        (Some(m), _) => Init::Model(model_from_js(m)?),
        (None, None | Some("kmeans++")) => Init::KMeansPP,
        (None, Some("gmm")) => Init::Gmm,
        (None, Some(other)) => {
            return Err(invalid(format!("Expected 'kmeans++' or 'gmm' for init but received '{other}'")))
        }
    };
    Ok(f)
}

#[napi(object)]
pub struct JsHmmRestart {
    pub seed: f64,
    pub loglik: f64,
    pub n_iter: u32,
}

#[napi(object)]
pub struct JsHmmFitResult {
    pub model: JsHmmModel,
    pub loglik_history: Vec<f64>,
    pub n_iter: u32,
    pub converged: bool,
    /// 'tol' | 'decrease' | 'max-iter'.
    pub reason: String,
    pub final_score: f64,
    pub restarts: Vec<JsHmmRestart>,
    pub best_restart: u32,
}

fn fit_to_js(r: FitResult) -> JsHmmFitResult {
    JsHmmFitResult {
        model: model_to_js(r.model),
        loglik_history: r.loglik_history,
        n_iter: r.n_iter as u32,
        converged: r.converged,
        reason: r.reason.name().to_string(),
        final_score: r.final_score,
        restarts: r
            .restarts
            .iter()
            .map(|s| JsHmmRestart { seed: s.seed as f64, loglik: s.loglik, n_iter: s.n_iter as u32 })
            .collect(),
        best_restart: r.best_restart as u32,
    }
}

/// One EM iteration: `iteration` counts from 1, `loglik` is log p(X) before its M-step.
#[napi(object)]
pub struct JsHmmProgress {
    pub restart: u32,
    pub iteration: u32,
    pub loglik: f64,
}

type ProgressFn = ThreadsafeFunction<JsHmmProgress, bool, JsHmmProgress, Status, false>;

/// Fit on the pool; no JS values are touched (X and options were copied before the task).
pub struct HmmFitTask {
    x: Vec<f64>,
    d: usize,
    lengths: Option<Vec<usize>>,
    options: FitOptions,
    progress: Option<ProgressFn>,
}

impl Task for HmmFitTask {
    type Output = FitResult;
    type JsValue = JsHmmFitResult;
    fn compute(&mut self) -> Result<Self::Output> {
        let x = std::mem::take(&mut self.x);
        let (d, lengths, o) = (self.d, self.lengths.take(), &self.options);
        let tsfn = self.progress.take();
        let stop = Arc::new(AtomicBool::new(false));
        let report = |p: hmm::Progress| -> bool {
            if let Some(f) = &tsfn {
                let s = stop.clone();
                let v = JsHmmProgress { restart: p.restart as u32, iteration: p.iteration as u32, loglik: p.loglik };
                f.call_with_return_value(v, ThreadsafeFunctionCallMode::NonBlocking, move |r: Result<bool>, _env| {
                    if let Ok(false) = r {
                        s.store(true, Ordering::Relaxed);
                    }
                    Ok(())
                });
            }
            !stop.load(Ordering::Relaxed)
        };
        guard("hmmFit", || pool::install(|| hmm::fit(&x, d, lengths.as_deref(), o, &report))?.map_err(data_err))
    }
    fn resolve(&mut self, _env: Env, out: Self::Output) -> Result<Self::JsValue> {
        Ok(fit_to_js(out))
    }
}

/// Baum-Welch fit off the JS thread; X (T × nFeatures, row-major) is copied first. Progress per
/// EM iteration goes to `onProgress` (return false to cancel).
#[napi(ts_return_type = "Promise<JsHmmFitResult>")]
pub fn hmm_fit(
    x: Float64Array,
    n_features: u32,
    lengths: Option<Vec<u32>>,
    options: JsHmmFitOptions,
    #[napi(ts_arg_type = "((progress: JsHmmProgress) => boolean) | undefined | null")] on_progress: Option<ProgressFn>,
) -> Result<AsyncTask<HmmFitTask>> {
    let o = fit_options(&options)?;
    Ok(AsyncTask::new(HmmFitTask {
        x: x.to_vec(),
        d: n_features as usize,
        lengths: lengths_arg(&lengths),
        options: o,
        progress: on_progress,
    }))
}

/// Blocking Baum-Welch fit (on the pool; the JS thread waits).
#[napi]
pub fn hmm_fit_sync(
    x: Float64ArraySlice,
    n_features: u32,
    lengths: Option<Vec<u32>>,
    options: JsHmmFitOptions,
) -> Result<JsHmmFitResult> {
    let o = fit_options(&options)?;
    let l = lengths_arg(&lengths);
    let xs: &[f64] = &x;
    guard("hmmFitSync", || {
        let r = pool::install(|| hmm::fit(xs, n_features as usize, l.as_deref(), &o, &|_| true))?.map_err(data_err)?;
        Ok(fit_to_js(r))
    })
}

/// log p(X | model), summed over sequences.
#[napi]
pub fn hmm_score_sync(model: JsHmmModel, x: Float64ArraySlice, lengths: Option<Vec<u32>>) -> Result<f64> {
    let m = model_from_js(&model)?;
    let l = lengths_arg(&lengths);
    let xs: &[f64] = &x;
    guard("hmmScore", || pool::install(|| hmm::score(&m, xs, l.as_deref()))?.map_err(data_err))
}

#[napi(object)]
pub struct JsHmmViterbi {
    pub path: Int32Array,
    pub logprob: f64,
}

fn viterbi_to_js(v: hmm::Viterbi) -> JsHmmViterbi {
    JsHmmViterbi { path: Int32Array::new(v.path.into_iter().map(|s| s as i32).collect()), logprob: v.logprob }
}

/// Most likely state path (concatenated over sequences) and log p(X, path) summed.
#[napi]
pub fn hmm_viterbi_sync(model: JsHmmModel, x: Float64ArraySlice, lengths: Option<Vec<u32>>) -> Result<JsHmmViterbi> {
    let m = model_from_js(&model)?;
    let l = lengths_arg(&lengths);
    let xs: &[f64] = &x;
    guard("hmmViterbi", || Ok(viterbi_to_js(pool::install(|| hmm::viterbi(&m, xs, l.as_deref()))?.map_err(data_err)?)))
}

/// Smoothed posteriors, T × K.
#[napi]
pub fn hmm_posteriors_sync(model: JsHmmModel, x: Float64ArraySlice, lengths: Option<Vec<u32>>) -> Result<Float64Array> {
    let m = model_from_js(&model)?;
    let l = lengths_arg(&lengths);
    let xs: &[f64] = &x;
    guard("hmmPosteriors", || {
        Ok(Float64Array::new(pool::install(|| hmm::posteriors(&m, xs, l.as_deref()))?.map_err(data_err)?))
    })
}

/// Filtered (causal) posteriors P(z_t | x_1..x_t), T × K.
#[napi]
pub fn hmm_filtered_sync(model: JsHmmModel, x: Float64ArraySlice, lengths: Option<Vec<u32>>) -> Result<Float64Array> {
    let m = model_from_js(&model)?;
    let l = lengths_arg(&lengths);
    let xs: &[f64] = &x;
    guard("hmmFiltered", || {
        Ok(Float64Array::new(pool::install(|| hmm::filtered(&m, xs, l.as_deref()))?.map_err(data_err)?))
    })
}

#[napi(object)]
pub struct JsHmmSample {
    /// n × D, row-major.
    pub x: Float64Array,
    pub states: Int32Array,
}

/// n observations and their states from a seeded ChaCha8 stream.
#[napi]
pub fn hmm_sample_sync(model: JsHmmModel, n: u32, seed: f64) -> Result<JsHmmSample> {
    let m = model_from_js(&model)?;
    if !(seed.is_finite() && seed >= 0.0 && seed.fract() == 0.0 && seed <= 9_007_199_254_740_991.0) {
        return Err(invalid(format!("Expected non-negative safe integer for seed but received {seed}")));
    }
    guard("hmmSample", || {
        let (x, z) = hmm::sample(&m, n as usize, seed as u64).map_err(data_err)?;
        Ok(JsHmmSample { x: Float64Array::new(x), states: Int32Array::new(z.into_iter().map(|s| s as i32).collect()) })
    })
}

#[napi(object)]
pub struct JsHmmInformationCriteria {
    pub log_likelihood: f64,
    pub n_parameters: u32,
    pub aic: f64,
    pub bic: f64,
}

/// AIC and BIC with hmmlearn's parameter count.
#[napi]
pub fn hmm_information_criteria_sync(
    model: JsHmmModel,
    x: Float64ArraySlice,
    lengths: Option<Vec<u32>>,
) -> Result<JsHmmInformationCriteria> {
    let m = model_from_js(&model)?;
    let l = lengths_arg(&lengths);
    let xs: &[f64] = &x;
    guard("hmmInformationCriteria", || {
        let ic = pool::install(|| hmm::information_criteria(&m, xs, l.as_deref()))?.map_err(data_err)?;
        Ok(JsHmmInformationCriteria {
            log_likelihood: ic.log_likelihood,
            n_parameters: ic.n_parameters as u32,
            aic: ic.aic,
            bic: ic.bic,
        })
    })
}

#[napi(object)]
pub struct JsHmmForwardBackward {
    pub log_likelihood: f64,
    /// T × K normalised forward messages (filtered probabilities).
    pub forward: Float64Array,
    /// T × K backward messages, each row normalised to sum 1.
    pub backward: Float64Array,
    /// T × K smoothed posteriors.
    pub posteriors: Float64Array,
}

fn implementation_arg(i: Option<String>) -> Result<Implementation> {
    match i.as_deref() {
        None => Ok(Implementation::Scaled),
        Some(s) => Implementation::from_name(s)
            .ok_or_else(|| invalid(format!("Expected 'scaled' or 'log' for implementation but received '{s}'"))),
    }
}

/// Forward-backward on an emission log-likelihood matrix logB (T × K, row-major).
#[napi]
pub fn hmm_forward_backward_sync(
    startprob: Float64ArraySlice,
    transmat: Float64ArraySlice,
    log_b: Float64ArraySlice,
    lengths: Option<Vec<u32>>,
    implementation: Option<String>,
) -> Result<JsHmmForwardBackward> {
    let imp = implementation_arg(implementation)?;
    let l = lengths_arg(&lengths);
    let (s, a, b): (&[f64], &[f64], &[f64]) = (&startprob, &transmat, &log_b);
    guard("hmmForwardBackward", || {
        let fb = pool::install(|| hmm::forward_backward_log_b(s, a, b, l.as_deref(), imp))?.map_err(data_err)?;
        Ok(JsHmmForwardBackward {
            log_likelihood: fb.log_likelihood,
            forward: Float64Array::new(fb.forward),
            backward: Float64Array::new(fb.backward),
            posteriors: Float64Array::new(fb.posteriors),
        })
    })
}

/// Viterbi on an emission log-likelihood matrix logB (T × K, row-major).
#[napi]
pub fn hmm_viterbi_log_b_sync(
    startprob: Float64ArraySlice,
    transmat: Float64ArraySlice,
    log_b: Float64ArraySlice,
    lengths: Option<Vec<u32>>,
) -> Result<JsHmmViterbi> {
    let l = lengths_arg(&lengths);
    let (s, a, b): (&[f64], &[f64], &[f64]) = (&startprob, &transmat, &log_b);
    guard("hmmViterbiLogB", || {
        Ok(viterbi_to_js(pool::install(|| hmm::viterbi_log_b(s, a, b, l.as_deref()))?.map_err(data_err)?))
    })
}

/// The streaming filter: one observation at a time, P(z_t | x_1..x_t); the same values as
/// `hmmFilteredSync` on the whole sequence.
#[napi]
pub struct HmmFilter {
    inner: hmm::Filter,
}

#[napi]
impl HmmFilter {
    #[napi(constructor)]
    pub fn new(model: JsHmmModel) -> Result<Self> {
        let m = model_from_js(&model)?;
        guard("HmmFilter", || Ok(HmmFilter { inner: hmm::Filter::new(&m).map_err(data_err)? }))
    }

    /// Add the next observation (nFeatures values); returns the K filtered probabilities.
    #[napi]
    pub fn update(&mut self, x: Float64ArraySlice) -> Result<Float64Array> {
        guard("HmmFilter.update", || Ok(Float64Array::new(self.inner.update(&x).map_err(data_err)?.to_vec())))
    }

    /// Observations since construction or the last reset.
    #[napi(getter)]
    pub fn steps(&self) -> f64 {
        self.inner.steps() as f64
    }

    /// log p(x_1..x_t) of the observations seen.
    #[napi(getter)]
    pub fn log_likelihood(&self) -> f64 {
        self.inner.log_likelihood()
    }

    /// Forget every observation.
    #[napi]
    pub fn reset(&mut self) -> Result<()> {
        guard("HmmFilter.reset", || {
            self.inner.reset();
            Ok(())
        })
    }
}

/// Allow (true) or forbid (false) the AVX2 copies of the HMM kernels, or query (no argument).
/// Returns whether they run. Results are bit-identical either way.
#[napi]
pub fn hmm_simd(enabled: Option<bool>) -> bool {
    match enabled {
        Some(e) => hmm::set_simd(e),
        None => hmm::simd_active(),
    }
}
