//! Binding of regime_core::cluster: k-means, Gaussian mixtures (fit, and predict/score on saved
//! parameters), silhouette.
//!
//! Points cross as one row-major `Float64Array` of n × d values plus `d`. Every kernel runs on
//! the pool (`pool::install`), so `setThreads` applies; results do not depend on the thread
//! count. `…Sync` calls read their inputs in place and block the JS thread; the others copy
//! their inputs into Rust `Vec`s on the JS thread and compute off it (AsyncTask). A mixture
//! crosses back as plain parameters (`JsGmmParams`), which the predict/score calls take again,
//! so a saved model needs no native handle.

use crate::{data_err, guard, pool};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use regime_core::cluster::{self, CovType, Gmm, GmmOptions, KMeans, KMeansOptions, Silhouette};
use regime_core::DataError;

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

/// A seed: an integer in [0, 2^53).
fn seed_arg(v: f64) -> Result<u64> {
    if !v.is_finite() || v.fract() != 0.0 || !(0.0..9_007_199_254_740_992.0).contains(&v) {
        return Err(invalid(format!("Expected integer between 0 and 2^53 - 1 for seed but received {v}")));
    }
    Ok(v as u64)
}

/// (n, d) of a row-major point array.
fn shape(len: usize, d: f64) -> Result<(usize, usize)> {
    let d = count(d, "d", 1)?;
    if len == 0 || !len.is_multiple_of(d) {
        return Err(invalid(format!("Expected x with a positive multiple of d = {d} values but received {len}")));
    }
    Ok((len / d, d))
}

fn cov_arg(s: &str) -> Result<CovType> {
    CovType::from_name(s).ok_or_else(|| invalid(format!("Expected 'full', 'diag', 'tied' or 'spherical' for covarianceType but received '{s}'")))
}

fn u32s(v: Vec<usize>) -> Uint32Array {
    Uint32Array::new(v.into_iter().map(|l| l as u32).collect())
}

// ------------------------------------------------------------------------------------------
// k-means

#[napi(object)]
pub struct JsKMeans {
    /// k × d, row-major.
    pub centers: Float64Array,
    pub labels: Uint32Array,
    pub inertia: f64,
    pub n_iter: u32,
    pub converged: bool,
}

/// k-means arguments, checked on the JS thread.
pub struct KMeansArgs {
    n: usize,
    d: usize,
    /// Given initial centers (one Lloyd run), else k-means++ restarts.
    init: Option<Vec<f64>>,
    opts: KMeansOptions,
}

fn kmeans_args(len: usize, d: f64, k: f64, init: Option<&[f64]>, n_init: f64, max_iter: f64, seed: f64) -> Result<KMeansArgs> {
    let (n, d) = shape(len, d)?;
    let k = count(k, "k", 1)?;
    let opts = KMeansOptions { k, n_init: count(n_init, "nInit", 1)?, max_iter: count(max_iter, "maxIter", 1)?, seed: seed_arg(seed)? };
    if let Some(c) = init {
        if c.len() != k * d {
            return Err(invalid(format!("Expected init of length k × d = {k} × {d} but received {}", c.len())));
        }
        if opts.n_init != 1 {
            return Err(invalid(format!("Expected nInit 1 with given initial centers but received {}", opts.n_init)));
        }
    }
    Ok(KMeansArgs { n, d, init: init.map(|c| c.to_vec()), opts })
}

fn run_kmeans(x: &[f64], a: &KMeansArgs) -> std::result::Result<KMeans, DataError> {
    match &a.init {
        Some(c) => cluster::kmeans(x, a.n, a.d, c, a.opts.max_iter),
        None => cluster::kmeans_fit(x, a.n, a.d, &a.opts),
    }
}

fn kmeans_to_js(k: KMeans) -> JsKMeans {
    JsKMeans {
        centers: Float64Array::new(k.centers),
        labels: u32s(k.labels),
        inertia: k.inertia,
        n_iter: k.n_iter as u32,
        converged: k.converged,
    }
}

/// k-means of the n × d points in `x`: Lloyd from the given `init` centers (k × d; nInit must
/// be 1), else the best (lowest inertia) of `nInit` seeded k-means++ restarts. Blocking.
#[napi]
pub fn kmeans_sync(
    x: Float64ArraySlice,
    d: f64,
    k: f64,
    init: Option<Float64ArraySlice>,
    n_init: f64,
    max_iter: f64,
    seed: f64,
) -> Result<JsKMeans> {
    let a = kmeans_args(x.len(), d, k, init.as_deref(), n_init, max_iter, seed)?;
    let xs: &[f64] = &x;
    guard("kmeansSync", || Ok(kmeans_to_js(pool::install(|| run_kmeans(xs, &a))?.map_err(data_err)?)))
}

pub struct KMeansTask {
    x: Vec<f64>,
    args: KMeansArgs,
}

impl Task for KMeansTask {
    type Output = KMeans;
    type JsValue = JsKMeans;
    fn compute(&mut self) -> Result<Self::Output> {
        let (x, a) = (&self.x, &self.args);
        guard("kmeans", || pool::install(|| run_kmeans(x, a))?.map_err(data_err))
    }
    fn resolve(&mut self, _env: Env, out: Self::Output) -> Result<Self::JsValue> {
        Ok(kmeans_to_js(out))
    }
}

/// `kmeansSync` off the JS thread; `x` and `init` are copied before the task starts.
#[napi(ts_return_type = "Promise<JsKMeans>")]
pub fn kmeans(
    x: Float64ArraySlice,
    d: f64,
    k: f64,
    init: Option<Float64ArraySlice>,
    n_init: f64,
    max_iter: f64,
    seed: f64,
) -> Result<AsyncTask<KMeansTask>> {
    let args = kmeans_args(x.len(), d, k, init.as_deref(), n_init, max_iter, seed)?;
    Ok(AsyncTask::new(KMeansTask { x: x.to_vec(), args }))
}

// ------------------------------------------------------------------------------------------
// Gaussian mixtures

/// Every option of a mixture fit (the TS layer fills the defaults).
#[napi(object)]
pub struct JsGmmOptions {
    pub k: f64,
    /// 'full' | 'diag' | 'tied' | 'spherical'.
    pub covariance_type: String,
    pub max_iter: f64,
    pub tol: f64,
    pub reg_covar: f64,
    pub n_init: f64,
    pub seed: f64,
}

/// The parameters of a mixture. covariances: full k × d × d, diag k × d, tied d × d,
/// spherical k.
#[napi(object)]
pub struct JsGmmParams {
    pub covariance_type: String,
    pub d: u32,
    pub weights: Float64Array,
    /// k × d
    pub means: Float64Array,
    pub covariances: Float64Array,
}

/// A fitted mixture: its parameters and how EM went (scikit-learn's attributes).
#[napi(object)]
pub struct JsGmmFit {
    pub params: JsGmmParams,
    /// Σ ln p(x_i) over the training points at the returned parameters.
    pub loglik: f64,
    /// scikit-learn's lower_bound_: mean log-likelihood of the last E-step (−Infinity if maxIter = 0).
    pub lower_bound: f64,
    /// scikit-learn's lower_bounds_: the mean log-likelihood of every E-step.
    pub lower_bounds: Float64Array,
    pub n_iter: u32,
    pub converged: bool,
}

/// The fit, predict and score numbers of a mixture on some points.
#[napi(object)]
pub struct JsGmmScore {
    /// Mean log-likelihood per point.
    pub score: f64,
    pub bic: f64,
    pub aic: f64,
    pub n_parameters: u32,
}

pub struct GmmArgs {
    n: usize,
    d: usize,
    opts: GmmOptions,
}

fn gmm_args(len: usize, d: f64, o: &JsGmmOptions) -> Result<GmmArgs> {
    let (n, d) = shape(len, d)?;
    let finite_nonneg = |v: f64, name: &str| {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(invalid(format!("Expected finite number >= 0 for {name} but received {v}")))
        }
    };
    let opts = GmmOptions {
        k: count(o.k, "k", 1)?,
        cov_type: cov_arg(&o.covariance_type)?,
        max_iter: count(o.max_iter, "maxIter", 0)?,
        tol: finite_nonneg(o.tol, "tol")?,
        reg_covar: finite_nonneg(o.reg_covar, "regCovar")?,
        n_init: count(o.n_init, "nInit", 1)?,
        seed: seed_arg(o.seed)?,
    };
    Ok(GmmArgs { n, d, opts })
}

fn gmm_to_js(g: Gmm) -> JsGmmFit {
    JsGmmFit {
        params: JsGmmParams {
            covariance_type: g.cov_type.name().to_string(),
            d: g.d as u32,
            weights: Float64Array::new(g.weights),
            means: Float64Array::new(g.means),
            covariances: Float64Array::new(g.covars),
        },
        loglik: g.loglik,
        lower_bound: g.lower_bound,
        lower_bounds: Float64Array::new(g.history),
        n_iter: g.n_iter as u32,
        converged: g.converged,
    }
}

/// Gaussian mixture of the n × d points by EM (scikit-learn's GaussianMixture with
/// init_params='kmeans'); `nInit` restarts in parallel, the highest lower bound wins. Blocking.
#[napi]
pub fn gmm_fit_sync(x: Float64ArraySlice, d: f64, options: JsGmmOptions) -> Result<JsGmmFit> {
    let a = gmm_args(x.len(), d, &options)?;
    let xs: &[f64] = &x;
    guard("gmmFitSync", || Ok(gmm_to_js(pool::install(|| cluster::gmm_fit(xs, a.n, a.d, &a.opts))?.map_err(data_err)?)))
}

pub struct GmmFitTask {
    x: Vec<f64>,
    args: GmmArgs,
}

impl Task for GmmFitTask {
    type Output = Gmm;
    type JsValue = JsGmmFit;
    fn compute(&mut self) -> Result<Self::Output> {
        let (x, a) = (&self.x, &self.args);
        guard("gmmFit", || pool::install(|| cluster::gmm_fit(x, a.n, a.d, &a.opts))?.map_err(data_err))
    }
    fn resolve(&mut self, _env: Env, out: Self::Output) -> Result<Self::JsValue> {
        Ok(gmm_to_js(out))
    }
}

/// `gmmFitSync` off the JS thread; `x` is copied before the task starts.
#[napi(ts_return_type = "Promise<JsGmmFit>")]
pub fn gmm_fit(x: Float64ArraySlice, d: f64, options: JsGmmOptions) -> Result<AsyncTask<GmmFitTask>> {
    let args = gmm_args(x.len(), d, &options)?;
    Ok(AsyncTask::new(GmmFitTask { x: x.to_vec(), args }))
}

/// The mixture of `params` (shapes, weights and positive definiteness checked) and n.
fn model(params: &JsGmmParams, x_len: usize) -> Result<(Gmm, usize)> {
    let cov = cov_arg(&params.covariance_type)?;
    let (n, d) = shape(x_len, params.d as f64)?;
    let g = Gmm::from_params(cov, d, params.weights.to_vec(), params.means.to_vec(), params.covariances.to_vec()).map_err(data_err)?;
    Ok((g, n))
}

/// Most probable component of every point (ties to the lowest index).
#[napi]
pub fn gmm_predict_sync(params: JsGmmParams, x: Float64ArraySlice) -> Result<Uint32Array> {
    let (g, n) = model(&params, x.len())?;
    let xs: &[f64] = &x;
    guard("gmmPredict", || Ok(u32s(pool::install(|| g.predict(xs, n))?.map_err(data_err)?)))
}

/// Posterior component probabilities, n × k row-major.
#[napi]
pub fn gmm_predict_proba_sync(params: JsGmmParams, x: Float64ArraySlice) -> Result<Float64Array> {
    let (g, n) = model(&params, x.len())?;
    let xs: &[f64] = &x;
    guard("gmmPredictProba", || Ok(Float64Array::new(pool::install(|| g.predict_proba(xs, n))?.map_err(data_err)?)))
}

/// ln p(x_i) of every point.
#[napi]
pub fn gmm_score_samples_sync(params: JsGmmParams, x: Float64ArraySlice) -> Result<Float64Array> {
    let (g, n) = model(&params, x.len())?;
    let xs: &[f64] = &x;
    guard("gmmScoreSamples", || Ok(Float64Array::new(pool::install(|| g.score_samples(xs, n))?.map_err(data_err)?)))
}

/// Mean log-likelihood, BIC and AIC of the points (scikit-learn's score, bic, aic).
#[napi]
pub fn gmm_score_sync(params: JsGmmParams, x: Float64ArraySlice) -> Result<JsGmmScore> {
    let (g, n) = model(&params, x.len())?;
    let xs: &[f64] = &x;
    guard("gmmScore", || {
        let score = pool::install(|| g.score(xs, n))?.map_err(data_err)?;
        Ok(JsGmmScore { score, bic: g.bic_at(score, n), aic: g.aic_at(score, n), n_parameters: g.n_parameters() as u32 })
    })
}

/// Free parameters of a mixture (scikit-learn's _n_parameters), from its parameters.
#[napi]
pub fn gmm_n_parameters(params: JsGmmParams) -> Result<u32> {
    let cov = cov_arg(&params.covariance_type)?;
    let g = Gmm::from_params(cov, params.d as usize, params.weights.to_vec(), params.means.to_vec(), params.covariances.to_vec())
        .map_err(data_err)?;
    Ok(g.n_parameters() as u32)
}

// ------------------------------------------------------------------------------------------
// Silhouette

#[napi(object)]
pub struct JsSilhouette {
    pub score: f64,
    /// s_i of every point, or of the sampled points (in `indices` order).
    pub samples: Float64Array,
    /// Indices (increasing) of the sampled points; absent when every point was used.
    pub indices: Option<Uint32Array>,
}

pub struct SilhouetteArgs {
    n: usize,
    d: usize,
    labels: Vec<usize>,
    sample: Option<(usize, u64)>,
}

fn silhouette_args(len: usize, d: f64, labels: &[u32], sample_size: Option<f64>, seed: Option<f64>) -> Result<SilhouetteArgs> {
    let (n, d) = shape(len, d)?;
    if labels.len() != n {
        return Err(invalid(format!("Expected {n} labels (one per point) but received {}", labels.len())));
    }
    let sample = match sample_size {
        Some(s) => Some((count(s, "sampleSize", 2)?, seed_arg(seed.unwrap_or(0.0))?)),
        None => None,
    };
    Ok(SilhouetteArgs { n, d, labels: labels.iter().map(|&l| l as usize).collect(), sample })
}

fn run_silhouette(x: &[f64], a: &SilhouetteArgs) -> std::result::Result<Silhouette, DataError> {
    cluster::silhouette(x, a.n, a.d, &a.labels, a.sample)
}

fn silhouette_to_js(s: Silhouette) -> JsSilhouette {
    JsSilhouette { score: s.score, samples: Float64Array::new(s.samples), indices: s.indices.map(u32s) }
}

/// Silhouette (Euclidean) of the labelled points, or of a seeded random subset of `sampleSize`
/// of them. Blocking.
#[napi]
pub fn silhouette_sync(
    x: Float64ArraySlice,
    d: f64,
    labels: Uint32ArraySlice,
    sample_size: Option<f64>,
    seed: Option<f64>,
) -> Result<JsSilhouette> {
    let a = silhouette_args(x.len(), d, &labels, sample_size, seed)?;
    let xs: &[f64] = &x;
    guard("silhouetteSync", || Ok(silhouette_to_js(pool::install(|| run_silhouette(xs, &a))?.map_err(data_err)?)))
}

pub struct SilhouetteTask {
    x: Vec<f64>,
    args: SilhouetteArgs,
}

impl Task for SilhouetteTask {
    type Output = Silhouette;
    type JsValue = JsSilhouette;
    fn compute(&mut self) -> Result<Self::Output> {
        let (x, a) = (&self.x, &self.args);
        guard("silhouette", || pool::install(|| run_silhouette(x, a))?.map_err(data_err))
    }
    fn resolve(&mut self, _env: Env, out: Self::Output) -> Result<Self::JsValue> {
        Ok(silhouette_to_js(out))
    }
}

/// `silhouetteSync` off the JS thread; `x` and `labels` are copied before the task starts.
#[napi(ts_return_type = "Promise<JsSilhouette>")]
pub fn silhouette(
    x: Float64ArraySlice,
    d: f64,
    labels: Uint32ArraySlice,
    sample_size: Option<f64>,
    seed: Option<f64>,
) -> Result<AsyncTask<SilhouetteTask>> {
    let args = silhouette_args(x.len(), d, &labels, sample_size, seed)?;
    Ok(AsyncTask::new(SilhouetteTask { x: x.to_vec(), args }))
}
