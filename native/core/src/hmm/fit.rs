//! Baum-Welch (EM) with hmmlearn 0.3.3's M-step, default priors and stopping rule; seeded
//! initialisation (k-means++ or a Gaussian mixture, via `crate::cluster`) or given parameters;
//! restarts on the thread pool.
//!
//! M-step (γ posteriors, ξ pair posteriors, summed over all sequences; N_k = Σ_t γ_tk;
//! c_n,k = Σ_t γ_tk (x_t − μ_k)(x_t − μ_k)ᵀ at the new mean; p = covars_prior):
//!   startprob ∝ Σ_sequences γ_first          (startprob_prior = 1)
//!   transmat_ij ∝ Σ_t ξ_t(i, j)              (transmat_prior = 1)
//!   μ_k = Σ_t γ_tk x_t / N_k                 (means_weight = 0)
//!   full:      Σ_k = (p + c_n,k) / N_k, p added to every element
//!   diag:      σ²_kd = (p + c_n,kd) / max(N_k, 1e-5)
//!   spherical: σ²_k = mean_d of the diag value
//!   tied:      Σ = (p + Σ_k c_n,k) / Σ_k N_k
//! then the floor: every covariance eigenvalue ≥ min_covar (`emission::floor_covars`).
//! Degenerate cases hmmlearn turns into NaN keep their previous value: a startprob/transmat row
//! with zero total posterior, and the mean and covariance of a state with N_k below the
//! smallest normal double.
//!
//! Stopping: history[i] = log p(X | θ_i) from the E-step of iteration i+1 (θ_0 = init); the
//! M-step of every iteration is applied; stop after iteration i when
//! history[i] − history[i−1] < tol ('tol', or 'decrease' if negative), else after n_iter.

use super::emission::{floor_covars, Emission};
use super::lattice::Chain;
use super::seqs::Seqs;
use super::stats::{estep, Stats, Workspace};
use super::{check_x, covars_len, log_space, scaled, CovType, GaussianHmm, Implementation};
use crate::cluster::{self, GmmOptions};
use crate::error::DataError;
use rayon::prelude::*;

/// Which parameters EM updates (hmmlearn's `params` letters 's', 't', 'm', 'c').
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub start: bool,
    pub trans: bool,
    pub means: bool,
    pub covars: bool,
}

impl Params {
    pub const ALL: Params = Params {
        start: true,
        trans: true,
        means: true,
        covars: true,
    };

    /// Parse a string of the letters 's', 't', 'm', 'c' (any order, each at most once; empty:
    /// nothing is learned).
    pub fn parse(s: &str) -> Result<Params, DataError> {
        let mut p = Params {
            start: false,
            trans: false,
            means: false,
            covars: false,
        };
        for ch in s.chars() {
            let slot = match ch {
                's' => &mut p.start,
                't' => &mut p.trans,
                'm' => &mut p.means,
                'c' => &mut p.covars,
                _ => {
                    return Err(DataError::arg(format!(
                        "params may contain only the letters s, t, m, c; got '{s}'"
                    )))
                }
            };
            if *slot {
                return Err(DataError::arg(format!("params has '{ch}' twice: '{s}'")));
            }
            *slot = true;
        }
        Ok(p)
    }
}

/// Initial parameters of EM.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// k-means++ seeding and Lloyd iterations: means = centers; every state's covariance =
    /// cov(X) (ddof 1) + min_covar·I in the model's type (spherical: mean of the diagonal);
    /// startprob uniform; transmat from the transition counts of the k-means labels within
    /// sequences, plus one, rows normalised.
    KMeansPP,
    /// A Gaussian mixture of the same covariance type (EM, reg_covar = max(min_covar, 1e-6)):
    /// its means and covariances (floored); startprob uniform; transmat from the transition
    /// counts of the most responsible component, plus one, rows normalised.
    Gmm,
    /// These parameters exactly (a single restart).
    Model(GaussianHmm),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    pub k: usize,
    pub cov_type: CovType,
    pub n_iter: usize,
    pub tol: f64,
    pub min_covar: f64,
    pub covars_prior: f64,
    pub init: Init,
    pub n_restarts: usize,
    pub seed: u64,
    pub implementation: Implementation,
    pub params: Params,
}

impl FitOptions {
    /// Defaults: full covariance, 100 iterations, tol 1e-2 (hmmlearn), min_covar 1e-3,
    /// covars_prior 1e-2, k-means++ init, 1 restart, seed 0, scaled, 'stmc'.
    pub fn new(k: usize) -> FitOptions {
        FitOptions {
            k,
            cov_type: CovType::Full,
            n_iter: 100,
            tol: 1e-2,
            min_covar: 1e-3,
            covars_prior: 1e-2,
            init: Init::KMeansPP,
            n_restarts: 1,
            seed: 0,
            implementation: Implementation::Scaled,
            params: Params::ALL,
        }
    }
}

/// One EM iteration's report: `iteration` counts from 1; `loglik` = history[iteration − 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub restart: usize,
    pub iteration: usize,
    pub loglik: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Tol,
    Decrease,
    MaxIter,
}

impl StopReason {
    pub fn name(self) -> &'static str {
        match self {
            StopReason::Tol => "tol",
            StopReason::Decrease => "decrease",
            StopReason::MaxIter => "max-iter",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RestartReport {
    pub seed: u64,
    /// log p(X | final parameters of this restart).
    pub loglik: f64,
    pub n_iter: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FitResult {
    pub model: GaussianHmm,
    pub loglik_history: Vec<f64>,
    pub n_iter: usize,
    /// True when stopped by the tolerance ('tol' or 'decrease', as hmmlearn's monitor).
    pub converged: bool,
    pub reason: StopReason,
    /// log p(X | final parameters): not part of the history.
    pub final_score: f64,
    pub restarts: Vec<RestartReport>,
    /// Index of the kept restart (highest final score; ties: the lowest index).
    pub best_restart: usize,
}

fn check_options(o: &FitOptions, d: usize, t: usize) -> Result<(), DataError> {
    if o.k == 0 {
        return Err(DataError::arg("nStates must be at least 1"));
    }
    if t < o.k {
        return Err(DataError::arg(format!(
            "cannot fit {} states to {t} observations (T < K)",
            o.k
        )));
    }
    if o.n_iter == 0 {
        return Err(DataError::arg("nIter must be at least 1"));
    }
    if !(o.tol.is_finite() && o.tol >= 0.0) {
        return Err(DataError::arg(format!(
            "tol must be a non-negative number, got {}",
            o.tol
        )));
    }
    if !(o.min_covar.is_finite() && o.min_covar >= 0.0) {
        return Err(DataError::arg(format!(
            "minCovar must be a non-negative number, got {}",
            o.min_covar
        )));
    }
    if !(o.covars_prior.is_finite() && o.covars_prior >= 0.0) {
        return Err(DataError::arg(format!(
            "covarsPrior must be a non-negative number, got {}",
            o.covars_prior
        )));
    }
    if o.n_restarts == 0 {
        return Err(DataError::arg("nRestarts must be at least 1"));
    }
    if let Init::Model(m) = &o.init {
        if o.n_restarts > 1 {
            return Err(DataError::arg(
                "nRestarts > 1 needs a seeded initialisation ('kmeans++' or 'gmm'): restarts from one given model would be identical",
            ));
        }
        if m.k != o.k || m.d != d || m.cov_type != o.cov_type {
            return Err(DataError::arg(format!(
                "the init model has {} states, {} features and '{}' covariance; the fit asks for {}, {d} and '{}'",
                m.k,
                m.d,
                super::cov_type_name(m.cov_type),
                o.k,
                super::cov_type_name(o.cov_type)
            )));
        }
        m.validate()
            .map_err(|e| DataError::arg(format!("init: {e}")))?;
    }
    Ok(())
}

/// Column means and the covariance (ddof 1; ddof 0 for a single row) of X, D × D.
fn data_cov(x: &[f64], d: usize) -> Vec<f64> {
    let t = x.len() / d;
    let mut mean = vec![0.0; d];
    for r in x.chunks_exact(d) {
        mean.iter_mut().zip(r).for_each(|(m, v)| *m += v);
    }
    mean.iter_mut().for_each(|m| *m /= t as f64);
    let mut c = vec![0.0; d * d];
    for r in x.chunks_exact(d) {
        for i in 0..d {
            let di = r[i] - mean[i];
            for j in 0..=i {
                c[i * d + j] += di * (r[j] - mean[j]);
            }
        }
    }
    let n = if t > 1 { (t - 1) as f64 } else { 1.0 };
    for i in 0..d {
        for j in 0..=i {
            c[i * d + j] /= n;
            c[j * d + i] = c[i * d + j];
        }
    }
    c
}

/// A D × D template covariance in the layout of `c` for K states.
fn distribute(template: &[f64], c: CovType, k: usize, d: usize) -> Vec<f64> {
    match c {
        CovType::Full => (0..k).flat_map(|_| template.iter().copied()).collect(),
        CovType::Tied => template.to_vec(),
        CovType::Diag => (0..k)
            .flat_map(|_| (0..d).map(|i| template[i * d + i]))
            .collect(),
        CovType::Spherical => {
            let m = (0..d).map(|i| template[i * d + i]).sum::<f64>() / d as f64;
            vec![m; k]
        }
    }
}

/// Transition matrix from hard labels: counts within sequences plus one, rows normalised.
fn transmat_from_labels(labels: &[usize], seqs: &Seqs, k: usize) -> Vec<f64> {
    let mut a = vec![1.0; k * k];
    for &(s, l) in &seqs.seqs {
        for t in s..s + l - 1 {
            a[labels[t] * k + labels[t + 1]] += 1.0;
        }
    }
    for i in 0..k {
        let row = &mut a[i * k..(i + 1) * k];
        let sum: f64 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= sum);
    }
    a
}

fn initial_model(
    x: &[f64],
    d: usize,
    seqs: &Seqs,
    o: &FitOptions,
    seed: u64,
) -> Result<GaussianHmm, DataError> {
    let (k, t) = (o.k, seqs.t);
    let startprob = vec![1.0 / k as f64; k];
    match &o.init {
        Init::Model(m) => Ok(m.clone()),
        Init::KMeansPP => {
            let centers = cluster::kmeans_pp_init(x, t, d, k, seed)
                .map_err(|e| DataError::arg(format!("k-means++ initialisation: {e}")))?;
            let km = cluster::kmeans(x, t, d, &centers, 300)
                .map_err(|e| DataError::arg(format!("k-means initialisation: {e}")))?;
            let mut cv = data_cov(x, d);
            for i in 0..d {
                cv[i * d + i] += o.min_covar;
            }
            Ok(GaussianHmm {
                k,
                d,
                cov_type: o.cov_type,
                startprob,
                transmat: transmat_from_labels(&km.labels, seqs, k),
                means: km.centers,
                covars: distribute(&cv, o.cov_type, k, d),
            })
        }
        Init::Gmm => {
            let g = cluster::gmm_fit(
                x,
                t,
                d,
                &GmmOptions {
                    k,
                    cov_type: o.cov_type,
                    max_iter: 100,
                    tol: 1e-3,
                    reg_covar: o.min_covar.max(1e-6),
                    n_init: 1,
                    seed,
                },
            )
            .map_err(|e| DataError::arg(format!("Gaussian-mixture initialisation: {e}")))?;
            if g.means.len() != k * d
                || g.covars.len() != covars_len(o.cov_type, k, d)
                || g.weights.len() != k
            {
                return Err(DataError::arg(
                    "Gaussian-mixture initialisation returned parameters of the wrong shape",
                ));
            }
            let labels = g
                .predict(x, t)
                .map_err(|e| DataError::arg(format!("Gaussian-mixture initialisation: {e}")))?;
            let mut covars = g.covars;
            floor_covars(o.cov_type, k, d, &mut covars, o.min_covar);
            Ok(GaussianHmm {
                k,
                d,
                cov_type: o.cov_type,
                startprob,
                transmat: transmat_from_labels(&labels, seqs, k),
                means: g.means,
                covars,
            })
        }
    }
}

/// Apply the M-step to `m` (whose means were the shift of `st`).
fn mstep(m: &mut GaussianHmm, st: &Stats, o: &FitOptions) {
    let (k, d) = (m.k, m.d);
    let p = &o.params;
    if p.start {
        let s: f64 = st.start.iter().sum();
        if s > 0.0 {
            m.startprob
                .iter_mut()
                .zip(&st.start)
                .for_each(|(a, b)| *a = b / s);
        }
    }
    if p.trans {
        for i in 0..k {
            let row = &st.trans[i * k..(i + 1) * k];
            let s: f64 = row.iter().sum();
            if s > 0.0 {
                m.transmat[i * k..(i + 1) * k]
                    .iter_mut()
                    .zip(row)
                    .for_each(|(a, b)| *a = b / s);
            }
        }
    }
    // δ_k = new mean − shift (0 when the means are not learned or the state has no mass).
    let alive: Vec<bool> = st.post.iter().map(|&n| n >= f64::MIN_POSITIVE).collect();
    let mut delta = vec![0.0; k * d];
    if p.means {
        for s in 0..k {
            if alive[s] {
                for a in 0..d {
                    delta[s * d + a] = st.s[s * d + a] / st.post[s];
                    m.means[s * d + a] += delta[s * d + a];
                }
            }
        }
    }
    if p.covars {
        let prior = o.covars_prior;
        let full = matches!(m.cov_type, CovType::Full | CovType::Tied);
        let w = if full { d * (d + 1) / 2 } else { d };
        // c_n per state: Σ γ (x − μ)(x − μ)ᵀ = S − δ sᵀ − s δᵀ + N δ δᵀ (packed or diagonal).
        let cn = |s: usize, a: usize, b: usize, idx: usize| -> f64 {
            let (da, db) = (delta[s * d + a], delta[s * d + b]);
            let (sa, sb) = (st.s[s * d + a], st.s[s * d + b]);
            st.ss[s * w + idx] - da * sb - sa * db + st.post[s] * da * db
        };
        match m.cov_type {
            CovType::Full => {
                for s in (0..k).filter(|&s| alive[s]) {
                    let n = st.post[s];
                    let mut idx = 0;
                    for a in 0..d {
                        for b in 0..=a {
                            let v = (prior + cn(s, a, b, idx)) / n;
                            m.covars[s * d * d + a * d + b] = v;
                            m.covars[s * d * d + b * d + a] = v;
                            idx += 1;
                        }
                    }
                }
            }
            CovType::Tied => {
                let n: f64 = st.post.iter().sum();
                let mut idx = 0;
                for a in 0..d {
                    for b in 0..=a {
                        let c: f64 = (0..k).map(|s| cn(s, a, b, idx)).sum();
                        let v = (prior + c) / n;
                        m.covars[a * d + b] = v;
                        m.covars[b * d + a] = v;
                        idx += 1;
                    }
                }
            }
            CovType::Diag | CovType::Spherical => {
                for s in (0..k).filter(|&s| alive[s]) {
                    let n = st.post[s].max(1e-5);
                    if m.cov_type == CovType::Diag {
                        for a in 0..d {
                            m.covars[s * d + a] = (prior + cn(s, a, a, a)) / n;
                        }
                    } else {
                        m.covars[s] =
                            (0..d).map(|a| (prior + cn(s, a, a, a)) / n).sum::<f64>() / d as f64;
                    }
                }
            }
        }
        floor_covars(m.cov_type, k, d, &mut m.covars, o.min_covar);
    }
}

/// The log-prior of hmmlearn's default priors (up to a constant) that EM maximises together
/// with the likelihood: −½ p Σ_k 1ᵀ Σ_k⁻¹ 1 (full; once for tied), −½ p Σ_kd 1/σ²_kd (diag),
/// −½ p D Σ_k 1/σ²_k (spherical), p = covars_prior. log p(X | θ) + log_prior(θ) never
/// decreases under the M-step (except through the 1e-5 floor of the diag denominator).
pub fn log_prior(m: &GaussianHmm, covars_prior: f64) -> f64 {
    let d = m.d;
    let quad_ones = |c: &[f64]| -> f64 {
        // 1ᵀ Σ⁻¹ 1 = ‖L⁻¹ 1‖² by forward substitution.
        let l = super::emission::cholesky(c, d).expect("positive definite");
        let mut y = vec![0.0; d];
        for i in 0..d {
            let s: f64 = (0..i).map(|j| l[i * d + j] * y[j]).sum();
            y[i] = (1.0 - s) / l[i * d + i];
        }
        y.iter().map(|v| v * v).sum()
    };
    let s = match m.cov_type {
        CovType::Full => (0..m.k)
            .map(|s| quad_ones(&m.covars[s * d * d..(s + 1) * d * d]))
            .sum::<f64>(),
        CovType::Tied => quad_ones(&m.covars),
        CovType::Diag => m.covars.iter().map(|v| 1.0 / v).sum(),
        CovType::Spherical => m.covars.iter().map(|v| d as f64 / v).sum(),
    };
    -0.5 * covars_prior * s
}

struct RunOut {
    model: GaussianHmm,
    history: Vec<f64>,
    reason: StopReason,
    final_score: f64,
}

fn cancelled() -> DataError {
    DataError::arg("the fit was cancelled by its progress callback")
}

/// log p(X | m) with the workspace's lattice (scaled with the log-space fallback).
fn score_ws(
    m: &GaussianHmm,
    x: &[f64],
    seqs: &Seqs,
    ws: &mut Workspace,
    imp: Implementation,
) -> Result<f64, DataError> {
    let em = Emission::new(m.cov_type, m.k, m.d, &m.means, &m.covars)?;
    let ch = Chain::new(&m.startprob, &m.transmat);
    if imp == Implementation::Scaled {
        em.fill_scaled(x, &mut ws.lat.b, &mut ws.lat.shift);
        if scaled::forward_lat(&ch, seqs, &mut ws.lat) {
            return Ok(ws.lat.seq_ll.iter().sum());
        }
    }
    em.fill_log(x, &mut ws.lat.b);
    log_space::forward_lat(&ch, seqs, &mut ws.lat);
    Ok(ws.lat.seq_ll.iter().sum())
}

fn run_em(
    x: &[f64],
    seqs: &Seqs,
    o: &FitOptions,
    restart: usize,
    seed: u64,
    progress: &(dyn Fn(Progress) -> bool + Sync),
) -> Result<RunOut, DataError> {
    let d = x.len() / seqs.t;
    let mut m = initial_model(x, d, seqs, o, seed)?;
    let full = matches!(o.cov_type, CovType::Full | CovType::Tied);
    let mut ws = Workspace::new(seqs, o.k, d, full);
    let mut history = Vec::with_capacity(o.n_iter.min(10_000));
    let mut reason = StopReason::MaxIter;
    for it in 0..o.n_iter {
        let em = Emission::new(m.cov_type, m.k, d, &m.means, &m.covars)
            .map_err(|e| DataError::arg(format!("EM iteration {}: {e}", it + 1)))?;
        let ch = Chain::new(&m.startprob, &m.transmat);
        let (ll, st) = estep(&ch, &em, x, seqs, &mut ws, o.implementation, &m.means)
            .map_err(|e| DataError::arg(format!("EM iteration {}: {e}", it + 1)))?;
        history.push(ll);
        if !progress(Progress {
            restart,
            iteration: it + 1,
            loglik: ll,
        }) {
            return Err(cancelled());
        }
        mstep(&mut m, &st, o);
        if let [.., a, b] = history[..] {
            let delta = b - a;
            if delta < o.tol {
                reason = if delta < 0.0 {
                    StopReason::Decrease
                } else {
                    StopReason::Tol
                };
                break;
            }
        }
    }
    let final_score = score_ws(&m, x, seqs, &mut ws, o.implementation)
        .map_err(|e| DataError::arg(format!("after the last EM iteration: {e}")))?;
    Ok(RunOut {
        model: m,
        history,
        reason,
        final_score,
    })
}

/// Fit a Gaussian HMM to X (T × D row-major; `lengths` splits it into sequences, None for one).
/// Restarts r = 0..n_restarts use seed + r and run in parallel on the current rayon pool (at
/// most as many at a time as it has threads, to bound memory); the restart with the highest
/// final score is kept. `progress` is called after every E-step, from pool threads; returning
/// false cancels the fit (an error). Results do not depend on the thread count.
pub fn fit(
    x: &[f64],
    d: usize,
    lengths: Option<&[usize]>,
    o: &FitOptions,
    progress: &(dyn Fn(Progress) -> bool + Sync),
) -> Result<FitResult, DataError> {
    let seqs = check_x(x, d, lengths)?;
    check_options(o, d, seqs.t)?;
    if o.min_covar == 0.0 {
        for j in 0..d {
            let v0 = x[j];
            if x.chunks_exact(d).all(|r| r[j] == v0) {
                return Err(DataError::arg(format!(
                    "column {j} of X is constant (zero variance): its covariance would be singular; set minCovar > 0 or drop the column"
                )));
            }
        }
    }
    let n = o.n_restarts;
    let batch = rayon::current_num_threads().max(1);
    let mut runs: Vec<RunOut> = Vec::with_capacity(n);
    for b in (0..n).step_by(batch) {
        let part: Vec<Result<RunOut, DataError>> = (b..(b + batch).min(n))
            .into_par_iter()
            .map(|r| run_em(x, &seqs, o, r, o.seed.wrapping_add(r as u64), progress))
            .collect();
        for p in part {
            runs.push(p?); // the first error by restart index
        }
    }
    let restarts: Vec<RestartReport> = runs
        .iter()
        .enumerate()
        .map(|(r, run)| RestartReport {
            seed: o.seed.wrapping_add(r as u64),
            loglik: run.final_score,
            n_iter: run.history.len(),
        })
        .collect();
    let mut best = 0;
    for r in 1..n {
        if runs[r].final_score > runs[best].final_score || runs[best].final_score.is_nan() {
            best = r;
        }
    }
    let run = runs.swap_remove(best);
    Ok(FitResult {
        model: run.model,
        n_iter: run.history.len(),
        loglik_history: run.history,
        converged: run.reason != StopReason::MaxIter,
        reason: run.reason,
        final_score: run.final_score,
        restarts,
        best_restart: best,
    })
}
