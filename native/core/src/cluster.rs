//! Clustering: k-means (k-means++ seeding, Lloyd iterations, restarts), Gaussian mixtures
//! fitted by EM (full, diagonal, tied and spherical covariance; scikit-learn semantics), and
//! the silhouette. Points are n × d row-major `f64`, every value finite.
//!
//! k-means (`kmeans_pp_init`, `kmeans`, `kmeans_fit`):
//! - k-means++ is scikit-learn's greedy variant: the first center is a uniformly drawn point;
//!   each next one is the best of 2 + ⌊ln k⌋ candidates drawn with probability ∝ D(x)² (the
//!   squared distance to the nearest chosen center), "best" being the candidate that leaves the
//!   smallest potential Σ D². Randomness comes from `ChaCha8Rng::seed_from_u64(seed)` on stream
//!   `r` for restart r (stream 0 for `kmeans_pp_init`).
//! - A Lloyd iteration assigns every point to its nearest center (squared Euclidean, ties to the
//!   lowest index), then moves each center to the mean of its points. Iteration stops when an
//!   assignment equals the previous one; `n_iter` counts that last iteration. If `max_iter`
//!   iterations pass without that, the labels are recomputed from the final centers (as
//!   scikit-learn does) and `converged` is false.
//! - Empty clusters (scikit-learn's rule, made deterministic): a cluster left without points in
//!   an assignment is moved to the point farthest from its own center (ties to the lowest
//!   index), which leaves its old cluster; several empty clusters take the farthest points in
//!   order of cluster index. A point whose cluster would become empty is skipped. The labels of
//!   that iteration are not changed; the next assignment sees the moved center.
//! - `kmeans_fit` runs `n_init` seeded restarts in parallel and keeps the lowest inertia
//!   (ties to the lowest restart).
//!
//! Gaussian mixtures (`gmm_fit`, `Gmm`) follow scikit-learn 1.2's `GaussianMixture` with
//! `init_params='kmeans'`: responsibilities start one-hot from a k-means labelling (k-means++
//! and Lloyd from this module, to convergence, on the restart's own stream); the M-step uses
//! N_k = Σ r_ik + 10·ε, weights N_k/n at the start and N_k/ΣN at each M-step, `reg_covar` added to
//! the diagonal of every covariance (spherical: to each per-feature variance before their mean);
//! the E-step is computed in log space with log-sum-exp; EM stops after the iteration whose mean
//! log-likelihood (computed in its E-step, before its M-step) changes by less than `tol` in
//! absolute value; restarts keep the highest final lower bound. Covariances are accumulated as
//! Σ r (x−μ)(x−μ)ᵀ around the new means (two passes), not as E[xxᵀ] − μμᵀ, and log-densities
//! use the Cholesky factor of Σ_k directly: the same quantities as scikit-learn with less
//! cancellation.
//!
//! Silhouette: s_i = (b_i − a_i)/max(a_i, b_i) with Euclidean distances, a_i the mean distance
//! to the other members of i's cluster, b_i the smallest mean distance to another cluster;
//! s_i = 0 in a singleton cluster (and when a_i = b_i = 0). Optional deterministic sampling
//! (scikit-learn's `sample_size`: the silhouette of a random subset of the points, computed
//! within that subset).
//!
//! Determinism: every parallel loop splits the rows into fixed tasks whose size depends only on
//! n (`task_rows`); reductions sum within a task in row order and over tasks in task order.
//! Restarts are independent and are compared in restart order. Results are therefore bit for
//! bit the same at any thread count.

use crate::error::DataError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Fewest rows per parallel task.
const BLOCK: usize = 256;
/// Most parallel tasks per pass (bounds the memory of per-task partial sums).
const MAX_TASKS: usize = 256;
/// Lloyd iterations of the k-means that initialises a mixture (scikit-learn's `max_iter`).
const GMM_KMEANS_MAX_ITER: usize = 300;

/// Rows per parallel task: at least `BLOCK`, at most `MAX_TASKS` tasks. Depends only on n, so
/// every reduction has the same association at any thread count.
fn task_rows(n: usize) -> usize {
    n.div_ceil(MAX_TASKS).max(BLOCK)
}

/// Covariance structure of Gaussian components (shared by the mixture and the HMM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CovType {
    Full,
    Diag,
    Tied,
    Spherical,
}

impl CovType {
    pub const ALL: [CovType; 4] = [
        CovType::Full,
        CovType::Diag,
        CovType::Tied,
        CovType::Spherical,
    ];

    /// scikit-learn's name: "full", "diag", "tied", "spherical".
    pub fn name(self) -> &'static str {
        match self {
            CovType::Full => "full",
            CovType::Diag => "diag",
            CovType::Tied => "tied",
            CovType::Spherical => "spherical",
        }
    }

    pub fn from_name(name: &str) -> Option<CovType> {
        CovType::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Length of the covariance parameter vector for k components in d dimensions.
    pub fn covars_len(self, k: usize, d: usize) -> usize {
        match self {
            CovType::Full => k * d * d,
            CovType::Diag => k * d,
            CovType::Tied => d * d,
            CovType::Spherical => k,
        }
    }
}

impl std::fmt::Display for CovType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

// ------------------------------------------------------------------------------------------
// Shared helpers

fn arg<T>(msg: String) -> Result<T, DataError> {
    Err(DataError::arg(msg))
}

/// n × d finite points.
fn check_points(x: &[f64], n: usize, d: usize) -> Result<(), DataError> {
    if d == 0 {
        return arg("Expected d >= 1 (values per point) but received 0".into());
    }
    if n == 0 {
        return arg("Expected at least 1 point but received n = 0".into());
    }
    if n.checked_mul(d) != Some(x.len()) {
        return arg(format!(
            "Expected x of length n × d = {n} × {d} but received length {}",
            x.len()
        ));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return arg(format!(
            "Expected finite values in x but received {} at row {}, column {}",
            x[i],
            i / d,
            i % d
        ));
    }
    Ok(())
}

fn check_k(k: usize, n: usize) -> Result<(), DataError> {
    if k == 0 {
        return arg("Expected k >= 1 clusters but received 0".into());
    }
    if k > n {
        return arg(format!(
            "Expected at least k = {k} points but received n = {n}"
        ));
    }
    Ok(())
}

fn rng_stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

#[inline]
fn row(x: &[f64], d: usize, i: usize) -> &[f64] {
    &x[i * d..(i + 1) * d]
}

/// ‖a − b‖², summed in four interleaved lanes (value j goes to lane j mod 4, then
/// (l0 + l1) + (l2 + l3) + tail): a fixed order, so the same bits everywhere, and no chain of
/// dependent additions.
#[inline]
fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    let mut s = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (u, v) in ca.zip(cb) {
        for l in 0..4 {
            let t = u[l] - v[l];
            s[l] += t * t;
        }
    }
    let mut tail = 0.0;
    for (u, v) in ra.iter().zip(rb) {
        let t = u - v;
        tail += t * t;
    }
    (s[0] + s[1]) + (s[2] + s[3]) + tail
}

/// Σ v in a fixed association (row order within a task, task order across tasks).
fn det_sum(v: &[f64]) -> f64 {
    let parts: Vec<f64> = v
        .par_chunks(task_rows(v.len()))
        .map(|c| c.iter().sum::<f64>())
        .collect();
    parts.iter().sum()
}

/// ln Σ exp(v), −∞ for an empty or all −∞ slice.
fn logsumexp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY || m.is_nan() {
        return m;
    }
    m + v.iter().map(|&u| (u - m).exp()).sum::<f64>().ln()
}

// ------------------------------------------------------------------------------------------
// k-means

#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// k × d, row-major.
    pub centers: Vec<f64>,
    pub labels: Vec<usize>,
    /// Σ_i ‖x_i − c_{label_i}‖² with the final centers.
    pub inertia: f64,
    /// Lloyd iterations run, including the one whose assignment repeated the previous one.
    pub n_iter: usize,
    /// Whether an assignment repeated the previous one within `max_iter` iterations.
    pub converged: bool,
}

/// k-means++ seeding of k centers from the n × d row-major points.
pub fn kmeans_pp_init(
    x: &[f64],
    n: usize,
    d: usize,
    k: usize,
    seed: u64,
) -> Result<Vec<f64>, DataError> {
    check_points(x, n, d)?;
    check_k(k, n)?;
    Ok(pp_seed(x, n, d, k, &mut rng_stream(seed, 0)))
}

/// Greedy k-means++ (scikit-learn's `_kmeans_plusplus` with 2 + ⌊ln k⌋ local trials).
fn pp_seed(x: &[f64], n: usize, d: usize, k: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let rows = task_rows(n);
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centers = Vec::with_capacity(k * d);
    let first = rng.random_range(0..n);
    centers.extend_from_slice(row(x, d, first));
    let c0 = row(x, d, first);
    let mut closest = vec![0.0; n];
    closest
        .par_chunks_mut(rows)
        .zip(x.par_chunks(rows * d))
        .for_each(|(o, xb)| {
            for (oi, xi) in o.iter_mut().zip(xb.chunks_exact(d)) {
                *oi = sq_dist(xi, c0);
            }
        });
    let mut cum = vec![0.0; n];
    for _ in 1..k {
        let mut acc = 0.0;
        for (c, &v) in cum.iter_mut().zip(&closest) {
            acc += v;
            *c = acc;
        }
        let total = acc;
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let cand = if total > 0.0 {
                let v = rng.random::<f64>() * total;
                let i = cum.partition_point(|&c| c <= v);
                // v rounds up to the total at worst: take the last point with positive weight.
                if i < n {
                    i
                } else {
                    closest.iter().rposition(|&c| c > 0.0).unwrap_or(n - 1)
                }
            } else {
                // Every point coincides with a chosen center: any point is as good.
                rng.random_range(0..n)
            };
            let c = row(x, d, cand);
            let mut dist = vec![0.0; n];
            dist.par_chunks_mut(rows)
                .zip(closest.par_chunks(rows))
                .zip(x.par_chunks(rows * d))
                .for_each(|((o, cl), xb)| {
                    for ((oi, &ci), xi) in o.iter_mut().zip(cl).zip(xb.chunks_exact(d)) {
                        *oi = ci.min(sq_dist(xi, c));
                    }
                });
            let pot = det_sum(&dist);
            if best.as_ref().is_none_or(|b| pot < b.0) {
                best = Some((pot, cand, dist));
            }
        }
        let (_, idx, dist) = best.expect("at least two trials");
        centers.extend_from_slice(row(x, d, idx));
        closest = dist;
    }
    centers
}

/// Nearest center of every point (ties to the lowest index) and its squared distance.
fn assign(x: &[f64], d: usize, centers: &[f64], labels: &mut [usize], dist: &mut [f64]) {
    let rows = task_rows(labels.len());
    labels
        .par_chunks_mut(rows)
        .zip(dist.par_chunks_mut(rows))
        .zip(x.par_chunks(rows * d))
        .for_each(|((lb, ds), xb)| {
            for ((l, di), xi) in lb.iter_mut().zip(ds.iter_mut()).zip(xb.chunks_exact(d)) {
                let mut best = 0;
                let mut bd = sq_dist(xi, &centers[..d]);
                for (c, cc) in centers.chunks_exact(d).enumerate().skip(1) {
                    let dc = sq_dist(xi, cc);
                    if dc < bd {
                        best = c;
                        bd = dc;
                    }
                }
                *l = best;
                *di = bd;
            }
        });
}

/// Per-cluster coordinate sums (k × d) and counts.
fn cluster_sums(x: &[f64], d: usize, k: usize, labels: &[usize]) -> (Vec<f64>, Vec<usize>) {
    let rows = task_rows(labels.len());
    let parts: Vec<(Vec<f64>, Vec<usize>)> = x
        .par_chunks(rows * d)
        .zip(labels.par_chunks(rows))
        .map(|(xb, lb)| {
            let mut s = vec![0.0; k * d];
            let mut cnt = vec![0usize; k];
            for (xi, &l) in xb.chunks_exact(d).zip(lb) {
                cnt[l] += 1;
                for (a, v) in s[l * d..(l + 1) * d].iter_mut().zip(xi) {
                    *a += v;
                }
            }
            (s, cnt)
        })
        .collect();
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0usize; k];
    for (s, c) in parts {
        for (a, v) in sums.iter_mut().zip(&s) {
            *a += v;
        }
        for (a, v) in counts.iter_mut().zip(&c) {
            *a += v;
        }
    }
    (sums, counts)
}

/// Give every empty cluster the point farthest from its center (see the module docs).
fn relocate_empty(
    x: &[f64],
    d: usize,
    labels: &[usize],
    dist: &[f64],
    sums: &mut [f64],
    counts: &mut [usize],
) {
    let empty: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] == 0).collect();
    if empty.is_empty() {
        return;
    }
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_unstable_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(a.cmp(&b)));
    let mut next = 0;
    for e in empty {
        // n ≥ k and fewer than k clusters hold points, so some cluster has two or more of
        // them, and those points lie ahead in `order` (see the proof in docs/clustering.md).
        while next < order.len() {
            let p = order[next];
            next += 1;
            let from = labels[p];
            if counts[from] < 2 {
                continue;
            }
            let xp = row(x, d, p);
            for (a, v) in sums[from * d..(from + 1) * d].iter_mut().zip(xp) {
                *a -= v;
            }
            counts[from] -= 1;
            sums[e * d..(e + 1) * d].copy_from_slice(xp);
            counts[e] = 1;
            break;
        }
    }
}

fn inertia_of(x: &[f64], d: usize, centers: &[f64], labels: &[usize]) -> f64 {
    let rows = task_rows(labels.len());
    let parts: Vec<f64> = x
        .par_chunks(rows * d)
        .zip(labels.par_chunks(rows))
        .map(|(xb, lb)| {
            xb.chunks_exact(d)
                .zip(lb)
                .map(|(xi, &l)| sq_dist(xi, row(centers, d, l)))
                .sum::<f64>()
        })
        .collect();
    parts.iter().sum()
}

/// Lloyd iterations on checked input.
fn lloyd(x: &[f64], n: usize, d: usize, k: usize, init: &[f64], max_iter: usize) -> KMeans {
    let mut centers = init.to_vec();
    let mut prev = vec![usize::MAX; n];
    let mut labels = vec![0usize; n];
    let mut dist = vec![0.0; n];
    let mut converged = false;
    let mut n_iter = 0;
    while n_iter < max_iter {
        n_iter += 1;
        assign(x, d, &centers, &mut labels, &mut dist);
        let (mut sums, mut counts) = cluster_sums(x, d, k, &labels);
        relocate_empty(x, d, &labels, &dist, &mut sums, &mut counts);
        for ((c, s), &m) in centers
            .chunks_exact_mut(d)
            .zip(sums.chunks_exact(d))
            .zip(&counts)
        {
            if m > 0 {
                let m = m as f64;
                for (ci, si) in c.iter_mut().zip(s) {
                    *ci = si / m;
                }
            }
        }
        if labels == prev {
            converged = true;
            break;
        }
        std::mem::swap(&mut labels, &mut prev);
    }
    if !converged {
        assign(x, d, &centers, &mut labels, &mut dist);
    }
    let inertia = inertia_of(x, d, &centers, &labels);
    KMeans {
        centers,
        labels,
        inertia,
        n_iter,
        converged,
    }
}

/// Lloyd iterations from the given centers until assignments stop changing (or max_iter).
pub fn kmeans(
    x: &[f64],
    n: usize,
    d: usize,
    centers: &[f64],
    max_iter: usize,
) -> Result<KMeans, DataError> {
    check_points(x, n, d)?;
    if centers.is_empty() || !centers.len().is_multiple_of(d) {
        return arg(format!(
            "Expected initial centers of length k × d (d = {d}) but received length {}",
            centers.len()
        ));
    }
    let k = centers.len() / d;
    check_k(k, n)?;
    if let Some(i) = centers.iter().position(|v| !v.is_finite()) {
        return arg(format!(
            "Expected finite initial centers but received {} at center {}, column {}",
            centers[i],
            i / d,
            i % d
        ));
    }
    if max_iter == 0 {
        return arg("Expected max_iter >= 1 but received 0".into());
    }
    Ok(lloyd(x, n, d, k, centers, max_iter))
}

/// Options of `kmeans_fit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KMeansOptions {
    pub k: usize,
    /// Restarts, each from its own k-means++ seeding; the lowest inertia wins.
    pub n_init: usize,
    pub max_iter: usize,
    pub seed: u64,
}

impl KMeansOptions {
    /// k clusters, 10 restarts, at most 300 iterations, seed 0.
    pub fn new(k: usize) -> Self {
        KMeansOptions {
            k,
            n_init: 10,
            max_iter: 300,
            seed: 0,
        }
    }
}

/// `n_init` restarts of k-means++ then Lloyd, in parallel; keeps the lowest inertia (ties to
/// the lowest restart). Restart r seeds from stream r of `seed`, so restart 0 equals
/// `kmeans(x, n, d, &kmeans_pp_init(x, n, d, k, seed)?, max_iter)`.
pub fn kmeans_fit(x: &[f64], n: usize, d: usize, o: &KMeansOptions) -> Result<KMeans, DataError> {
    check_points(x, n, d)?;
    check_k(o.k, n)?;
    if o.n_init == 0 {
        return arg("Expected n_init >= 1 but received 0".into());
    }
    if o.max_iter == 0 {
        return arg("Expected max_iter >= 1 but received 0".into());
    }
    let runs: Vec<KMeans> = (0..o.n_init)
        .into_par_iter()
        .map(|r| {
            let init = pp_seed(x, n, d, o.k, &mut rng_stream(o.seed, r as u64));
            lloyd(x, n, d, o.k, &init, o.max_iter)
        })
        .collect();
    let mut best: Option<KMeans> = None;
    for run in runs {
        if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
            best = Some(run);
        }
    }
    Ok(best.expect("n_init >= 1"))
}

// ------------------------------------------------------------------------------------------
// Gaussian mixtures

#[derive(Debug, Clone, PartialEq)]
pub struct GmmOptions {
    pub k: usize,
    pub cov_type: CovType,
    /// EM iterations per restart (0: return the k-means initialisation).
    pub max_iter: usize,
    /// Stop when |Δ mean log-likelihood| < tol.
    pub tol: f64,
    /// Added to the diagonal of every covariance (≥ 0).
    pub reg_covar: f64,
    pub n_init: usize,
    pub seed: u64,
}

impl GmmOptions {
    /// scikit-learn's defaults: full covariance, 100 iterations, tol 1e-3, reg_covar 1e-6, one
    /// initialisation; seed 0.
    pub fn new(k: usize) -> Self {
        GmmOptions {
            k,
            cov_type: CovType::Full,
            max_iter: 100,
            tol: 1e-3,
            reg_covar: 1e-6,
            n_init: 1,
            seed: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gmm {
    pub cov_type: CovType,
    pub weights: Vec<f64>,
    /// k × d
    pub means: Vec<f64>,
    /// Full: k × d × d; Diag: k × d; Tied: d × d; Spherical: k.
    pub covars: Vec<f64>,
    pub d: usize,
    /// Σ_i ln p(x_i) over the training points at the returned parameters (n · `score`);
    /// NaN for a model built with `from_params`.
    pub loglik: f64,
    /// EM iterations of the kept restart.
    pub n_iter: usize,
    /// Whether the kept restart stopped on `tol` (not on `max_iter`).
    pub converged: bool,
    /// scikit-learn's `lower_bound_`: the mean log-likelihood of the kept restart's last E-step
    /// (at the parameters before its last M-step); −∞ when max_iter = 0.
    pub lower_bound: f64,
    /// scikit-learn's `lower_bounds_`: the mean log-likelihood of every E-step of the kept restart.
    pub history: Vec<f64>,
}

/// What evaluating log N(x | μ_c, Σ_c) needs: Cholesky factors or precisions, and normalisers.
struct Factors {
    cov_type: CovType,
    k: usize,
    d: usize,
    /// Full: k lower Cholesky factors L (Σ = LLᵀ), d × d each; Tied: one; Diag: k × d
    /// precisions 1/σ²; Spherical: k precisions.
    f: Vec<f64>,
    /// −½ d ln 2π − ½ ln |Σ_c|.
    log_norm: Vec<f64>,
}

/// Lower Cholesky factor of the symmetric d × d matrix `a` (read from its lower triangle),
/// or None when `a` is not numerically positive definite.
fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for j in 0..d {
        let mut s = a[j * d + j];
        for p in 0..j {
            s -= l[j * d + p] * l[j * d + p];
        }
        if !(s > 0.0 && s.is_finite()) {
            return None;
        }
        let ljj = s.sqrt();
        l[j * d + j] = ljj;
        for i in j + 1..d {
            let mut s = a[i * d + j];
            for p in 0..j {
                s -= l[i * d + p] * l[j * d + p];
            }
            l[i * d + j] = s / ljj;
        }
    }
    Some(l)
}

impl Factors {
    /// Err(c): component c's covariance is not positive definite (c = 0 for tied).
    fn new(cov_type: CovType, k: usize, d: usize, covars: &[f64]) -> Result<Factors, usize> {
        let half_d_ln2pi = 0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln();
        let chol_norm = |l: &[f64]| -half_d_ln2pi - (0..d).map(|j| l[j * d + j].ln()).sum::<f64>();
        let (f, log_norm) = match cov_type {
            CovType::Full => {
                let mut f = Vec::with_capacity(k * d * d);
                let mut ln = Vec::with_capacity(k);
                for c in 0..k {
                    let l = cholesky(&covars[c * d * d..(c + 1) * d * d], d).ok_or(c)?;
                    ln.push(chol_norm(&l));
                    f.extend_from_slice(&l);
                }
                (f, ln)
            }
            CovType::Tied => {
                let l = cholesky(covars, d).ok_or(0usize)?;
                let ln = vec![chol_norm(&l); k];
                (l, ln)
            }
            CovType::Diag => {
                let mut f = Vec::with_capacity(k * d);
                let mut ln = Vec::with_capacity(k);
                for c in 0..k {
                    let v = &covars[c * d..(c + 1) * d];
                    if v.iter().any(|&s| !(s > 0.0 && s.is_finite())) {
                        return Err(c);
                    }
                    f.extend(v.iter().map(|&s| 1.0 / s));
                    ln.push(-half_d_ln2pi - 0.5 * v.iter().map(|s| s.ln()).sum::<f64>());
                }
                (f, ln)
            }
            CovType::Spherical => {
                let mut f = Vec::with_capacity(k);
                let mut ln = Vec::with_capacity(k);
                for (c, &s) in covars.iter().enumerate() {
                    if !(s > 0.0 && s.is_finite()) {
                        return Err(c);
                    }
                    f.push(1.0 / s);
                    ln.push(-half_d_ln2pi - 0.5 * d as f64 * s.ln());
                }
                (f, ln)
            }
        };
        Ok(Factors {
            cov_type,
            k,
            d,
            f,
            log_norm,
        })
    }

    /// out[c] = ln N(xi | μ_c, Σ_c); `y` is d values of scratch.
    fn log_pdf(&self, xi: &[f64], means: &[f64], out: &mut [f64], y: &mut [f64]) {
        let d = self.d;
        for c in 0..self.k {
            let mu = &means[c * d..(c + 1) * d];
            let q = match self.cov_type {
                CovType::Full | CovType::Tied => {
                    let l = if self.cov_type == CovType::Full {
                        &self.f[c * d * d..(c + 1) * d * d]
                    } else {
                        &self.f[..]
                    };
                    // y = L⁻¹(x − μ) by forward substitution; q = ‖y‖².
                    let mut q = 0.0;
                    for i in 0..d {
                        let mut s = xi[i] - mu[i];
                        for p in 0..i {
                            s -= l[i * d + p] * y[p];
                        }
                        let v = s / l[i * d + i];
                        y[i] = v;
                        q += v * v;
                    }
                    q
                }
                CovType::Diag => {
                    let prec = &self.f[c * d..(c + 1) * d];
                    let mut q = 0.0;
                    for ((u, m), p) in xi.iter().zip(mu).zip(prec) {
                        let t = u - m;
                        q += t * t * p;
                    }
                    q
                }
                CovType::Spherical => sq_dist(xi, mu) * self.f[c],
            };
            out[c] = self.log_norm[c] - 0.5 * q;
        }
    }
}

/// Weighted log-probabilities ln w_c + ln N(x_i | c) into `out` (n × k), then `finish` per row
/// (which rewrites the row and returns a value); returns the per-row values.
fn per_row<F>(
    x: &[f64],
    d: usize,
    fac: &Factors,
    means: &[f64],
    log_w: &[f64],
    out: &mut [f64],
    finish: F,
) -> Vec<f64>
where
    F: Fn(&mut [f64]) -> f64 + Sync,
{
    let k = fac.k;
    let n = x.len() / d;
    let rows = task_rows(n);
    let mut vals = vec![0.0; n];
    out.par_chunks_mut(rows * k)
        .zip(x.par_chunks(rows * d))
        .zip(vals.par_chunks_mut(rows))
        .for_each(|((ob, xb), vb)| {
            let mut y = vec![0.0; d];
            for ((oi, xi), vi) in ob
                .chunks_exact_mut(k)
                .zip(xb.chunks_exact(d))
                .zip(vb.iter_mut())
            {
                fac.log_pdf(xi, means, oi, &mut y);
                for (o, lw) in oi.iter_mut().zip(log_w) {
                    *o += lw;
                }
                *vi = finish(oi);
            }
        });
    vals
}

/// E-step: responsibilities into `resp` (n × k); returns ln p(x_i) per point.
fn e_step(
    x: &[f64],
    d: usize,
    fac: &Factors,
    means: &[f64],
    log_w: &[f64],
    resp: &mut [f64],
) -> Vec<f64> {
    per_row(x, d, fac, means, log_w, resp, |r| {
        let lse = logsumexp(r);
        for v in r.iter_mut() {
            *v = (*v - lse).exp();
        }
        lse
    })
}

/// M-step from responsibilities: (N_k, means, covariances). N_k includes scikit-learn's 10·ε.
fn m_step(
    x: &[f64],
    d: usize,
    k: usize,
    resp: &[f64],
    cov_type: CovType,
    reg: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = x.len() / d;
    let rows = task_rows(n);
    // Pass 1: N_k and Σ r x.
    let parts: Vec<(Vec<f64>, Vec<f64>)> = x
        .par_chunks(rows * d)
        .zip(resp.par_chunks(rows * k))
        .map(|(xb, rb)| {
            let mut nk = vec![0.0; k];
            let mut sx = vec![0.0; k * d];
            for (xi, ri) in xb.chunks_exact(d).zip(rb.chunks_exact(k)) {
                for c in 0..k {
                    let r = ri[c];
                    nk[c] += r;
                    if r != 0.0 {
                        for (a, v) in sx[c * d..(c + 1) * d].iter_mut().zip(xi) {
                            *a += r * v;
                        }
                    }
                }
            }
            (nk, sx)
        })
        .collect();
    let mut nk = vec![0.0; k];
    let mut sx = vec![0.0; k * d];
    for (a, b) in parts {
        nk.iter_mut().zip(&a).for_each(|(s, v)| *s += v);
        sx.iter_mut().zip(&b).for_each(|(s, v)| *s += v);
    }
    for v in nk.iter_mut() {
        *v += 10.0 * f64::EPSILON;
    }
    let mut means = sx;
    for (m, &w) in means.chunks_exact_mut(d).zip(&nk) {
        m.iter_mut().for_each(|v| *v /= w);
    }
    // Pass 2: scatter around the new means (lower triangles for full and tied).
    let acc_len = match cov_type {
        CovType::Full => k * d * d,
        CovType::Tied => d * d,
        CovType::Diag | CovType::Spherical => k * d,
    };
    let parts: Vec<Vec<f64>> = x
        .par_chunks(rows * d)
        .zip(resp.par_chunks(rows * k))
        .map(|(xb, rb)| {
            let mut s = vec![0.0; acc_len];
            let mut diff = vec![0.0; d];
            for (xi, ri) in xb.chunks_exact(d).zip(rb.chunks_exact(k)) {
                for c in 0..k {
                    let r = ri[c];
                    if r == 0.0 {
                        continue;
                    }
                    for ((t, u), m) in diff.iter_mut().zip(xi).zip(&means[c * d..(c + 1) * d]) {
                        *t = u - m;
                    }
                    match cov_type {
                        CovType::Full | CovType::Tied => {
                            let base = if cov_type == CovType::Full {
                                c * d * d
                            } else {
                                0
                            };
                            for i in 0..d {
                                let ri = r * diff[i];
                                let srow = &mut s[base + i * d..base + i * d + i + 1];
                                for (a, dj) in srow.iter_mut().zip(&diff[..=i]) {
                                    *a += ri * dj;
                                }
                            }
                        }
                        CovType::Diag | CovType::Spherical => {
                            for (a, t) in s[c * d..(c + 1) * d].iter_mut().zip(&diff) {
                                *a += r * t * t;
                            }
                        }
                    }
                }
            }
            s
        })
        .collect();
    let mut s = vec![0.0; acc_len];
    for p in parts {
        s.iter_mut().zip(&p).for_each(|(a, v)| *a += v);
    }
    let covars = match cov_type {
        CovType::Full | CovType::Tied => {
            let (blocks, div): (usize, Vec<f64>) = if cov_type == CovType::Full {
                (k, nk.clone())
            } else {
                (1, vec![nk.iter().sum::<f64>()])
            };
            let mut cov = vec![0.0; blocks * d * d];
            for b in 0..blocks {
                let (src, dst) = (
                    &s[b * d * d..(b + 1) * d * d],
                    &mut cov[b * d * d..(b + 1) * d * d],
                );
                for i in 0..d {
                    for j in 0..=i {
                        let v = src[i * d + j] / div[b];
                        dst[i * d + j] = v;
                        dst[j * d + i] = v;
                    }
                    dst[i * d + i] += reg;
                }
            }
            cov
        }
        CovType::Diag => {
            let mut cov = s;
            for (v, &w) in cov.chunks_exact_mut(d).zip(&nk) {
                v.iter_mut().for_each(|a| *a = *a / w + reg);
            }
            cov
        }
        CovType::Spherical => s
            .chunks_exact(d)
            .zip(&nk)
            .map(|(v, &w)| v.iter().map(|a| a / w + reg).sum::<f64>() / d as f64)
            .collect(),
    };
    (nk, means, covars)
}

fn ill_defined(c: usize, cov_type: CovType, restart: usize, iter: usize) -> DataError {
    let which = if cov_type == CovType::Tied {
        "the tied covariance".to_string()
    } else {
        format!("component {c}")
    };
    DataError::arg(format!(
        "gmm_fit: {which} has an ill-defined covariance (not positive definite) in restart {restart} at EM iteration \
         {iter}, for instance from singleton or collapsed samples; use fewer components, a larger reg_covar, or scaled data"
    ))
}

struct EmRun {
    weights: Vec<f64>,
    means: Vec<f64>,
    covars: Vec<f64>,
    lower_bound: f64,
    history: Vec<f64>,
    n_iter: usize,
    converged: bool,
}

/// One restart: k-means labelling, one-hot responsibilities, EM.
fn em_run(
    x: &[f64],
    n: usize,
    d: usize,
    o: &GmmOptions,
    restart: usize,
) -> Result<EmRun, DataError> {
    let k = o.k;
    let centers = pp_seed(x, n, d, k, &mut rng_stream(o.seed, restart as u64));
    let km = lloyd(x, n, d, k, &centers, GMM_KMEANS_MAX_ITER);
    let mut resp = vec![0.0; n * k];
    for (r, &l) in resp.chunks_exact_mut(k).zip(&km.labels) {
        r[l] = 1.0;
    }
    let (mut weights, mut means, mut covars) = m_step(x, d, k, &resp, o.cov_type, o.reg_covar);
    weights.iter_mut().for_each(|w| *w /= n as f64);
    let mut fac = Factors::new(o.cov_type, k, d, &covars)
        .map_err(|c| ill_defined(c, o.cov_type, restart, 0))?;
    let mut lower_bound = f64::NEG_INFINITY;
    let mut history = Vec::new();
    let mut n_iter = 0;
    let mut converged = false;
    for it in 1..=o.max_iter {
        let prev = lower_bound;
        let log_w: Vec<f64> = weights.iter().map(|w| w.ln()).collect();
        let lpn = e_step(x, d, &fac, &means, &log_w, &mut resp);
        let lb = det_sum(&lpn) / n as f64;
        if !lb.is_finite() {
            return arg(format!("gmm_fit: the log-likelihood became {lb} in restart {restart} at EM iteration {it}; scale the data or raise reg_covar"));
        }
        let (w, m, c) = m_step(x, d, k, &resp, o.cov_type, o.reg_covar);
        let total: f64 = w.iter().sum();
        weights = w.iter().map(|v| v / total).collect();
        means = m;
        covars = c;
        fac = Factors::new(o.cov_type, k, d, &covars)
            .map_err(|c| ill_defined(c, o.cov_type, restart, it))?;
        lower_bound = lb;
        history.push(lb);
        n_iter = it;
        if (lb - prev).abs() < o.tol {
            converged = true;
            break;
        }
    }
    Ok(EmRun {
        weights,
        means,
        covars,
        lower_bound,
        history,
        n_iter,
        converged,
    })
}

/// Fit a Gaussian mixture by EM (see the module docs); `n_init` restarts run in parallel and the
/// highest lower bound wins (ties to the lowest restart).
pub fn gmm_fit(x: &[f64], n: usize, d: usize, o: &GmmOptions) -> Result<Gmm, DataError> {
    check_points(x, n, d)?;
    check_k(o.k, n)?;
    if n < 2 {
        return arg("Expected at least 2 points for a mixture but received n = 1".into());
    }
    if !(o.tol >= 0.0 && o.tol.is_finite()) {
        return arg(format!("Expected a finite tol >= 0 but received {}", o.tol));
    }
    if !(o.reg_covar >= 0.0 && o.reg_covar.is_finite()) {
        return arg(format!(
            "Expected a finite reg_covar >= 0 but received {}",
            o.reg_covar
        ));
    }
    if o.n_init == 0 {
        return arg("Expected n_init >= 1 but received 0".into());
    }
    let runs: Vec<Result<EmRun, DataError>> = (0..o.n_init)
        .into_par_iter()
        .map(|r| em_run(x, n, d, o, r))
        .collect();
    let mut best: Option<EmRun> = None;
    for run in runs {
        let run = run?;
        if best
            .as_ref()
            .is_none_or(|b| run.lower_bound > b.lower_bound)
        {
            best = Some(run);
        }
    }
    let b = best.expect("n_init >= 1");
    let mut g = Gmm {
        cov_type: o.cov_type,
        weights: b.weights,
        means: b.means,
        covars: b.covars,
        d,
        loglik: f64::NAN,
        n_iter: b.n_iter,
        converged: b.converged,
        lower_bound: b.lower_bound,
        history: b.history,
    };
    g.loglik = det_sum(&g.score_samples_unchecked(x, &g.factors()?));
    Ok(g)
}

impl Gmm {
    /// Number of components.
    pub fn k(&self) -> usize {
        self.weights.len()
    }

    /// A mixture from its parameters (e.g. saved from an earlier fit). Checks shapes, weights
    /// (≥ 0, summing to 1 within 1e-8), finite means, symmetric (to 1e-10 relative) positive
    /// definite covariances. `loglik` and `lower_bound` are NaN, `n_iter` 0.
    pub fn from_params(
        cov_type: CovType,
        d: usize,
        weights: Vec<f64>,
        means: Vec<f64>,
        covars: Vec<f64>,
    ) -> Result<Gmm, DataError> {
        let k = weights.len();
        if d == 0 {
            return arg("Expected d >= 1 but received 0".into());
        }
        if k == 0 {
            return arg("Expected at least one component weight but received none".into());
        }
        if let Some(w) = weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return arg(format!("Expected mixture weights >= 0 but received {w}"));
        }
        let sum: f64 = weights.iter().sum();
        if (sum - 1.0).abs() > 1e-8 {
            return arg(format!(
                "Expected mixture weights summing to 1 but received a sum of {sum}"
            ));
        }
        if means.len() != k * d {
            return arg(format!(
                "Expected means of length k × d = {k} × {d} but received length {}",
                means.len()
            ));
        }
        if let Some(m) = means.iter().find(|m| !m.is_finite()) {
            return arg(format!("Expected finite means but received {m}"));
        }
        let want = cov_type.covars_len(k, d);
        if covars.len() != want {
            return arg(format!("Expected {cov_type} covariances of length {want} (k = {k}, d = {d}) but received length {}", covars.len()));
        }
        if matches!(cov_type, CovType::Full | CovType::Tied) {
            for (b, m) in covars.chunks_exact(d * d).enumerate() {
                for i in 0..d {
                    for j in 0..i {
                        let (a, t) = (m[i * d + j], m[j * d + i]);
                        let scale = (m[i * d + i] * m[j * d + j]).abs().sqrt();
                        let symmetric = (a - t).abs() <= 1e-10 * scale; // false for NaN
                        if !symmetric {
                            return arg(format!("Expected symmetric covariances but matrix {b} has [{i}][{j}] = {a} and [{j}][{i}] = {t}"));
                        }
                    }
                }
            }
        }
        let g = Gmm {
            cov_type,
            weights,
            means,
            covars,
            d,
            loglik: f64::NAN,
            n_iter: 0,
            converged: false,
            lower_bound: f64::NAN,
            history: Vec::new(),
        };
        g.factors()?;
        Ok(g)
    }

    fn factors(&self) -> Result<Factors, DataError> {
        Factors::new(self.cov_type, self.k(), self.d, &self.covars).map_err(|c| {
            let which = if self.cov_type == CovType::Tied {
                "the tied covariance".to_string()
            } else {
                format!("the covariance of component {c}")
            };
            DataError::arg(format!(
                "Expected positive definite covariances but {which} is not"
            ))
        })
    }

    fn check_x(&self, x: &[f64], n: usize) -> Result<Factors, DataError> {
        check_points(x, n, self.d)?;
        self.factors()
    }

    fn log_weights(&self) -> Vec<f64> {
        self.weights.iter().map(|w| w.ln()).collect()
    }

    fn score_samples_unchecked(&self, x: &[f64], fac: &Factors) -> Vec<f64> {
        let mut buf = vec![0.0; x.len() / self.d * self.k()];
        per_row(
            x,
            self.d,
            fac,
            &self.means,
            &self.log_weights(),
            &mut buf,
            |r| logsumexp(r),
        )
    }

    /// Number of free parameters (scikit-learn's `_n_parameters`): covariance parameters
    /// (full k·d(d+1)/2, diag k·d, tied d(d+1)/2, spherical k) + k·d means + k − 1 weights.
    pub fn n_parameters(&self) -> usize {
        let (k, d) = (self.k(), self.d);
        let cov = match self.cov_type {
            CovType::Full => k * d * (d + 1) / 2,
            CovType::Diag => k * d,
            CovType::Tied => d * (d + 1) / 2,
            CovType::Spherical => k,
        };
        cov + k * d + k - 1
    }

    /// ln N(x_i | μ_c, Σ_c) for every point and component (n × k, without the weights).
    pub fn component_log_pdf(&self, x: &[f64], n: usize) -> Result<Vec<f64>, DataError> {
        let fac = self.check_x(x, n)?;
        let mut out = vec![0.0; n * self.k()];
        let zeros = vec![0.0; self.k()];
        per_row(x, self.d, &fac, &self.means, &zeros, &mut out, |_| 0.0);
        Ok(out)
    }

    /// ln p(x_i) = ln Σ_c w_c N(x_i | μ_c, Σ_c) per point.
    pub fn score_samples(&self, x: &[f64], n: usize) -> Result<Vec<f64>, DataError> {
        let fac = self.check_x(x, n)?;
        Ok(self.score_samples_unchecked(x, &fac))
    }

    /// Mean log-likelihood per point.
    pub fn score(&self, x: &[f64], n: usize) -> Result<f64, DataError> {
        Ok(det_sum(&self.score_samples(x, n)?) / n as f64)
    }

    /// Posterior component probabilities (n × k).
    pub fn predict_proba(&self, x: &[f64], n: usize) -> Result<Vec<f64>, DataError> {
        let fac = self.check_x(x, n)?;
        let mut resp = vec![0.0; n * self.k()];
        e_step(x, self.d, &fac, &self.means, &self.log_weights(), &mut resp);
        Ok(resp)
    }

    /// Most probable component of every point (ties to the lowest index).
    pub fn predict(&self, x: &[f64], n: usize) -> Result<Vec<usize>, DataError> {
        let fac = self.check_x(x, n)?;
        let k = self.k();
        let mut buf = vec![0.0; n * k];
        let best = per_row(
            x,
            self.d,
            &fac,
            &self.means,
            &self.log_weights(),
            &mut buf,
            |r| {
                let mut b = 0;
                for c in 1..r.len() {
                    if r[c] > r[b] {
                        b = c;
                    }
                }
                b as f64
            },
        );
        Ok(best.into_iter().map(|b| b as usize).collect())
    }

    /// Bayesian information criterion −2·n·score + p·ln n (lower is better).
    pub fn bic(&self, x: &[f64], n: usize) -> Result<f64, DataError> {
        Ok(self.bic_at(self.score(x, n)?, n))
    }

    /// Akaike information criterion −2·n·score + 2p (lower is better).
    pub fn aic(&self, x: &[f64], n: usize) -> Result<f64, DataError> {
        Ok(self.aic_at(self.score(x, n)?, n))
    }

    /// BIC of n points whose mean log-likelihood (`score`) is known.
    pub fn bic_at(&self, score: f64, n: usize) -> f64 {
        -2.0 * score * n as f64 + self.n_parameters() as f64 * (n as f64).ln()
    }

    /// AIC of n points whose mean log-likelihood (`score`) is known.
    pub fn aic_at(&self, score: f64, n: usize) -> f64 {
        -2.0 * score * n as f64 + 2.0 * self.n_parameters() as f64
    }
}

// ------------------------------------------------------------------------------------------
// Silhouette

/// Silhouette values and their mean.
#[derive(Debug, Clone, PartialEq)]
pub struct Silhouette {
    /// Mean of `samples`.
    pub score: f64,
    /// s_i of every point, or of the sampled points (in increasing index order).
    pub samples: Vec<f64>,
    /// The sampled points' indices (increasing), None when every point was used.
    pub indices: Option<Vec<usize>>,
}

/// Dense cluster indices (labels in increasing order → 0, 1, …) and cluster sizes.
fn encode_labels(labels: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut uniq = labels.to_vec();
    uniq.sort_unstable();
    uniq.dedup();
    let dense: Vec<usize> = labels
        .iter()
        .map(|l| uniq.binary_search(l).expect("present"))
        .collect();
    let mut sizes = vec![0usize; uniq.len()];
    for &c in &dense {
        sizes[c] += 1;
    }
    (dense, sizes)
}

fn check_labels(labels: &[usize], n: usize, n_clusters: usize) -> Result<(), DataError> {
    if labels.len() != n {
        return arg(format!(
            "Expected {n} labels (one per point) but received {}",
            labels.len()
        ));
    }
    if n_clusters < 2 || n_clusters > n - 1 {
        return arg(format!(
            "Expected between 2 and n − 1 = {} distinct labels for the silhouette but received {n_clusters}",
            n as isize - 1
        ));
    }
    Ok(())
}

fn silhouette_dense(x: &[f64], n: usize, d: usize, lab: &[usize], sizes: &[usize]) -> Vec<f64> {
    let nl = sizes.len();
    (0..n)
        .into_par_iter()
        .map_init(
            || vec![0.0; nl],
            |sums, i| {
                let own = lab[i];
                if sizes[own] < 2 {
                    return 0.0;
                }
                sums.fill(0.0);
                let xi = row(x, d, i);
                for (xj, &l) in x.chunks_exact(d).zip(lab) {
                    sums[l] += sq_dist(xi, xj).sqrt();
                }
                let a = sums[own] / (sizes[own] - 1) as f64;
                let mut b = f64::INFINITY;
                for (c, (&s, &m)) in sums.iter().zip(sizes).enumerate() {
                    if c != own {
                        b = b.min(s / m as f64);
                    }
                }
                let m = a.max(b);
                if m > 0.0 {
                    (b - a) / m
                } else {
                    0.0
                }
            },
        )
        .collect()
}

/// Silhouette value s_i of every point (Euclidean). O(n²·d), parallel over points.
pub fn silhouette_samples(
    x: &[f64],
    n: usize,
    d: usize,
    labels: &[usize],
) -> Result<Vec<f64>, DataError> {
    check_points(x, n, d)?;
    if labels.len() != n {
        return arg(format!(
            "Expected {n} labels (one per point) but received {}",
            labels.len()
        ));
    }
    let (dense, sizes) = encode_labels(labels);
    check_labels(labels, n, sizes.len())?;
    Ok(silhouette_dense(x, n, d, &dense, &sizes))
}

/// Mean silhouette over all points.
pub fn silhouette_score(x: &[f64], n: usize, d: usize, labels: &[usize]) -> Result<f64, DataError> {
    Ok(det_sum(&silhouette_samples(x, n, d, labels)?) / n as f64)
}

/// `sample_size` distinct point indices drawn uniformly without replacement (partial
/// Fisher–Yates on ChaCha8 stream 0 of `seed`), in increasing order.
pub fn sample_indices(n: usize, sample_size: usize, seed: u64) -> Vec<usize> {
    let m = sample_size.min(n);
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = rng_stream(seed, 0);
    for i in 0..m {
        let j = rng.random_range(i..n);
        idx.swap(i, j);
    }
    idx.truncate(m);
    idx.sort_unstable();
    idx
}

/// Silhouette of all points, or with `sample = Some((size, seed))` and size < n, of a seeded
/// random subset of `size` points computed within that subset (scikit-learn's `sample_size`).
pub fn silhouette(
    x: &[f64],
    n: usize,
    d: usize,
    labels: &[usize],
    sample: Option<(usize, u64)>,
) -> Result<Silhouette, DataError> {
    check_points(x, n, d)?;
    if labels.len() != n {
        return arg(format!(
            "Expected {n} labels (one per point) but received {}",
            labels.len()
        ));
    }
    match sample {
        Some((size, _)) if size < 2 => {
            arg(format!("Expected a sample size >= 2 but received {size}"))
        }
        Some((size, seed)) if size < n => {
            let idx = sample_indices(n, size, seed);
            let xs: Vec<f64> = idx
                .iter()
                .flat_map(|&i| row(x, d, i).iter().copied())
                .collect();
            let ls: Vec<usize> = idx.iter().map(|&i| labels[i]).collect();
            let (dense, sizes) = encode_labels(&ls);
            check_labels(&ls, size, sizes.len()).map_err(|e| {
                DataError::arg(format!("in the sample of {size} points (seed {seed}): {e}"))
            })?;
            let samples = silhouette_dense(&xs, size, d, &dense, &sizes);
            Ok(Silhouette {
                score: det_sum(&samples) / size as f64,
                samples,
                indices: Some(idx),
            })
        }
        _ => {
            let (dense, sizes) = encode_labels(labels);
            check_labels(labels, n, sizes.len())?;
            let samples = silhouette_dense(x, n, d, &dense, &sizes);
            Ok(Silhouette {
                score: det_sum(&samples) / n as f64,
                samples,
                indices: None,
            })
        }
    }
}

/// Naive silhouette for tests: the full distance matrix, then a_i and b_i from their
/// definitions, one cluster at a time.
pub fn silhouette_samples_reference(x: &[f64], n: usize, d: usize, labels: &[usize]) -> Vec<f64> {
    let dist: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    (0..d)
                        .map(|c| (x[i * d + c] - x[j * d + c]).powi(2))
                        .sum::<f64>()
                        .sqrt()
                })
                .collect()
        })
        .collect();
    let mut clusters = labels.to_vec();
    clusters.sort_unstable();
    clusters.dedup();
    (0..n)
        .map(|i| {
            let mean_to = |c: usize, skip_self: bool| {
                let members: Vec<usize> = (0..n)
                    .filter(|&j| labels[j] == c && !(skip_self && j == i))
                    .collect();
                members.iter().map(|&j| dist[i][j]).sum::<f64>() / members.len() as f64
            };
            if labels.iter().filter(|&&l| l == labels[i]).count() == 1 {
                return 0.0;
            }
            let a = mean_to(labels[i], true);
            let b = clusters
                .iter()
                .filter(|&&c| c != labels[i])
                .map(|&c| mean_to(c, false))
                .fold(f64::INFINITY, f64::min);
            if a.max(b) > 0.0 {
                (b - a) / a.max(b)
            } else {
                0.0
            }
        })
        .collect()
}

/// Naive sequential Lloyd for tests: the same iteration, plain loops, sums in row order.
pub fn kmeans_reference(x: &[f64], n: usize, d: usize, init: &[f64], max_iter: usize) -> KMeans {
    let k = init.len() / d;
    let mut centers = init.to_vec();
    let mut prev: Vec<usize> = vec![usize::MAX; n];
    let mut n_iter = 0;
    let mut converged = false;
    let nearest = |centers: &[f64], i: usize| {
        let mut best = (0, f64::INFINITY);
        for c in 0..k {
            let dc: f64 = (0..d)
                .map(|j| (x[i * d + j] - centers[c * d + j]).powi(2))
                .sum();
            if dc < best.1 {
                best = (c, dc);
            }
        }
        best
    };
    let mut labels = vec![0; n];
    while n_iter < max_iter {
        n_iter += 1;
        let near: Vec<(usize, f64)> = (0..n).map(|i| nearest(&centers, i)).collect();
        labels = near.iter().map(|p| p.0).collect();
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0usize; k];
        for i in 0..n {
            counts[labels[i]] += 1;
            for j in 0..d {
                sums[labels[i] * d + j] += x[i * d + j];
            }
        }
        let dist: Vec<f64> = near.iter().map(|p| p.1).collect();
        relocate_empty(x, d, &labels, &dist, &mut sums, &mut counts);
        for c in 0..k {
            if counts[c] > 0 {
                for j in 0..d {
                    centers[c * d + j] = sums[c * d + j] / counts[c] as f64;
                }
            }
        }
        if labels == prev {
            converged = true;
            break;
        }
        prev = labels.clone();
    }
    if !converged {
        labels = (0..n).map(|i| nearest(&centers, i).0).collect();
    }
    let inertia = (0..n)
        .map(|i| {
            (0..d)
                .map(|j| (x[i * d + j] - centers[labels[i] * d + j]).powi(2))
                .sum::<f64>()
        })
        .sum();
    KMeans {
        centers,
        labels,
        inertia,
        n_iter,
        converged,
    }
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // reference statistics read best with explicit indices
mod tests {
    use super::*;
    use proptest::prelude::{prop_assert, proptest, ProptestConfig};
    use rand_distr::{Distribution, StandardNormal};

    fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(f)
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Points of Gaussian components N(means[c], covs[c]) (covs as d × d matrices), `counts[c]`
    /// each, interleaved in a seeded random order; returns (x, true labels).
    fn mixture_sample(
        means: &[Vec<f64>],
        covs: &[Vec<f64>],
        counts: &[usize],
        seed: u64,
    ) -> (Vec<f64>, Vec<usize>) {
        let d = means[0].len();
        let mut rng = rng_stream(seed, 7);
        let mut labels: Vec<usize> = counts
            .iter()
            .enumerate()
            .flat_map(|(c, &m)| std::iter::repeat_n(c, m))
            .collect();
        for i in (1..labels.len()).rev() {
            let j = rng.random_range(0..=i);
            labels.swap(i, j);
        }
        let chols: Vec<Vec<f64>> = covs.iter().map(|s| cholesky(s, d).unwrap()).collect();
        let mut x = Vec::with_capacity(labels.len() * d);
        for &c in &labels {
            let z: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
            for i in 0..d {
                x.push(means[c][i] + (0..=i).map(|p| chols[c][i * d + p] * z[p]).sum::<f64>());
            }
        }
        (x, labels)
    }

    fn iso(d: usize, s2: f64) -> Vec<f64> {
        let mut m = vec![0.0; d * d];
        for i in 0..d {
            m[i * d + i] = s2;
        }
        m
    }

    /// Blobs of unit variance around well separated centers.
    fn blobs(
        k: usize,
        d: usize,
        per: usize,
        spread: f64,
        seed: u64,
    ) -> (Vec<f64>, Vec<usize>, Vec<Vec<f64>>) {
        let mut rng = rng_stream(seed, 99);
        let means: Vec<Vec<f64>> = (0..k)
            .map(|_| {
                (0..d)
                    .map(|_| spread * (rng.random::<f64>() * 2.0 - 1.0))
                    .collect()
            })
            .collect();
        let covs = vec![iso(d, 1.0); k];
        let (x, l) = mixture_sample(&means, &covs, &vec![per; k], seed);
        (x, l, means)
    }

    /// Whether `a` and `b` are the same partition, through a bijection of cluster ids.
    fn same_partition(a: &[usize], b: &[usize]) -> bool {
        let mut ab = std::collections::HashMap::new();
        let mut ba = std::collections::HashMap::new();
        a.iter()
            .zip(b)
            .all(|(&p, &q)| *ab.entry(p).or_insert(q) == q && *ba.entry(q).or_insert(p) == p)
    }

    // --------------------------------------------------------------------------------------
    // k-means

    #[test]
    fn pp_init_is_deterministic_per_seed_and_picks_data_rows() {
        let (x, _, _) = blobs(5, 3, 200, 30.0, 1);
        let n = x.len() / 3;
        let a = kmeans_pp_init(&x, n, 3, 5, 42).unwrap();
        assert_eq!(bits(&a), bits(&kmeans_pp_init(&x, n, 3, 5, 42).unwrap()));
        assert_ne!(bits(&a), bits(&kmeans_pp_init(&x, n, 3, 5, 43).unwrap()));
        for c in a.chunks_exact(3) {
            assert!(
                x.chunks_exact(3).any(|r| r == c),
                "center {c:?} is not a data row"
            );
        }
    }

    #[test]
    fn pp_init_covers_every_separated_blob() {
        let (x, labels, _) = blobs(6, 2, 150, 50.0, 2);
        let n = labels.len();
        for seed in 0..10 {
            let c = kmeans_pp_init(&x, n, 2, 6, seed).unwrap();
            let mut hit: Vec<usize> = c
                .chunks_exact(2)
                .map(|cc| labels[x.chunks_exact(2).position(|r| r == cc).unwrap()])
                .collect();
            hit.sort_unstable();
            hit.dedup();
            assert_eq!(hit.len(), 6, "seed {seed}: blobs hit {hit:?}");
        }
    }

    #[test]
    fn lloyd_recovers_well_separated_blobs() {
        let (x, truth, means) = blobs(5, 4, 300, 40.0, 3);
        let n = truth.len();
        let km = kmeans_fit(&x, n, 4, &KMeansOptions::new(5)).unwrap();
        assert!(km.converged);
        assert!(same_partition(&km.labels, &truth));
        for (c, m) in km.centers.chunks_exact(4).enumerate() {
            let t = &means[truth[km.labels.iter().position(|&l| l == c).unwrap()]];
            let err = sq_dist(m, t).sqrt();
            assert!(err < 0.25, "center {c} is {err} from its blob mean"); // SE ≈ √(4/300) ≈ 0.12
        }
        // Inertia ≈ n·d·σ² for unit-variance blobs.
        assert!(
            (km.inertia / (n * 4) as f64 - 1.0).abs() < 0.05,
            "inertia {}",
            km.inertia
        );
    }

    #[test]
    fn lloyd_matches_the_naive_reference() {
        // Overlapping data: many iterations, many label changes.
        let (x, _, _) = blobs(8, 3, 250, 4.0, 4);
        let n = x.len() / 3;
        for seed in 0..4 {
            let init = kmeans_pp_init(&x, n, 3, 7, seed).unwrap();
            let fast = kmeans(&x, n, 3, &init, 300).unwrap();
            let slow = kmeans_reference(&x, n, 3, &init, 300);
            assert!(
                fast.n_iter > 5,
                "seed {seed}: only {} iterations",
                fast.n_iter
            );
            assert_eq!(fast.labels, slow.labels, "seed {seed}");
            assert_eq!(fast.n_iter, slow.n_iter);
            assert_eq!(fast.converged, slow.converged);
            for (a, b) in fast.centers.iter().zip(&slow.centers) {
                assert!((a - b).abs() <= 1e-12, "seed {seed}: {a} vs {b}");
            }
            assert!((fast.inertia - slow.inertia).abs() <= 1e-12 * slow.inertia);
        }
    }

    #[test]
    fn lloyd_counts_the_last_iteration_and_breaks_ties_to_the_lowest_index() {
        let x = [0.0, 1.0, 10.0, 11.0];
        let km = kmeans(&x, 4, 1, &[0.0, 10.0], 300).unwrap();
        assert_eq!(
            (km.labels.clone(), km.n_iter, km.converged),
            (vec![0, 0, 1, 1], 2, true)
        );
        assert_eq!(km.centers, vec![0.5, 10.5]);
        assert_eq!(km.inertia, 1.0);
        // The point 0 is equidistant from −1 and 1: it goes to center 0.
        let km = kmeans(&[-1.0, 0.0, 1.0], 3, 1, &[-1.0, 1.0], 300).unwrap();
        assert_eq!((km.labels, km.n_iter), (vec![0, 0, 1], 2));
        assert_eq!(km.centers, vec![-0.5, 1.0]);
    }

    #[test]
    fn an_empty_cluster_takes_the_farthest_point() {
        // Centers 0 and 1 coincide: cluster 1 is empty after the first assignment and moves to
        // the point farthest from its center (20.0, whose cluster 0 has all points).
        let x = [0.0, 1.0, 2.0, 20.0];
        let km = kmeans(&x, 4, 1, &[1.0, 1.0], 300).unwrap();
        assert_eq!(km.labels, vec![0, 0, 0, 1]);
        assert_eq!(km.centers, vec![1.0, 20.0]);
        assert!(km.converged);
        // Many duplicate centers on real data: every cluster ends non-empty.
        let (x, _, _) = blobs(4, 2, 100, 20.0, 5);
        let n = x.len() / 2;
        let init: Vec<f64> = std::iter::repeat_n(x[..2].to_vec(), 6).flatten().collect();
        let km = kmeans(&x, n, 2, &init, 300).unwrap();
        let mut counts = [0usize; 6];
        km.labels.iter().for_each(|&l| counts[l] += 1);
        assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
        assert_eq!(km.labels, kmeans_reference(&x, n, 2, &init, 300).labels);
    }

    #[test]
    fn max_iter_reached_relabels_from_the_final_centers() {
        let (x, _, _) = blobs(6, 2, 100, 3.0, 6);
        let n = x.len() / 2;
        let init = kmeans_pp_init(&x, n, 2, 6, 0).unwrap();
        let km = kmeans(&x, n, 2, &init, 1).unwrap();
        assert_eq!((km.n_iter, km.converged), (1, false));
        let mut labels = vec![0; n];
        let mut dist = vec![0.0; n];
        assign(&x, 2, &km.centers, &mut labels, &mut dist);
        assert_eq!(km.labels, labels);
    }

    #[test]
    fn kmeans_fit_keeps_the_lowest_inertia_and_restart_0_is_pp_then_lloyd() {
        let (x, _, _) = blobs(6, 3, 120, 5.0, 7);
        let n = x.len() / 3;
        let o = KMeansOptions {
            k: 5,
            n_init: 6,
            max_iter: 300,
            seed: 11,
        };
        let best = kmeans_fit(&x, n, 3, &o).unwrap();
        let runs: Vec<KMeans> = (0..6)
            .map(|r| {
                kmeans_fit(
                    &x,
                    n,
                    3,
                    &KMeansOptions {
                        n_init: 1,
                        seed: 11,
                        ..o
                    },
                )
                .map(|_| r)
                .unwrap()
            })
            .map(|r| {
                lloyd(
                    &x,
                    n,
                    3,
                    5,
                    &pp_seed(&x, n, 3, 5, &mut rng_stream(11, r as u64)),
                    300,
                )
            })
            .collect();
        let min = runs.iter().map(|r| r.inertia).fold(f64::INFINITY, f64::min);
        assert_eq!(best.inertia, min);
        assert_eq!(best, *runs.iter().find(|r| r.inertia == min).unwrap());
        let one = kmeans_fit(&x, n, 3, &KMeansOptions { n_init: 1, ..o }).unwrap();
        assert_eq!(
            one,
            kmeans(&x, n, 3, &kmeans_pp_init(&x, n, 3, 5, 11).unwrap(), 300).unwrap()
        );
    }

    #[test]
    fn kmeans_rejects_bad_input() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let msg = |r: Result<KMeans, DataError>| r.unwrap_err().to_string();
        assert!(msg(kmeans(&x, 2, 2, &[0.0; 6], 10)).contains("at least k = 3 points"));
        assert!(msg(kmeans(&x, 4, 0, &[0.0], 10)).contains("d >= 1"));
        assert!(msg(kmeans(&x, 3, 1, &[0.0], 10)).contains("length n × d = 3 × 1"));
        assert!(msg(kmeans(&[0.0, f64::NAN], 2, 1, &[0.0], 10))
            .contains("received NaN at row 1, column 0"));
        assert!(msg(kmeans(&x, 2, 2, &[0.0; 3], 10)).contains("length k × d"));
        assert!(msg(kmeans(&x, 2, 2, &[0.0, f64::INFINITY], 10)).contains("finite initial centers"));
        assert!(msg(kmeans(&x, 2, 2, &[0.0; 2], 0)).contains("max_iter >= 1"));
        assert!(kmeans_pp_init(&x, 2, 2, 0, 0)
            .unwrap_err()
            .to_string()
            .contains("k >= 1"));
        assert!(kmeans_pp_init(&x, 2, 2, 3, 0)
            .unwrap_err()
            .to_string()
            .contains("at least k = 3"));
        let o = KMeansOptions {
            n_init: 0,
            ..KMeansOptions::new(1)
        };
        assert!(msg(kmeans_fit(&x, 2, 2, &o)).contains("n_init >= 1"));
    }

    #[test]
    fn k_equal_n_and_identical_points() {
        let x = [3.0, 1.0, 2.0];
        let km = kmeans_fit(&x, 3, 1, &KMeansOptions::new(3)).unwrap();
        assert_eq!(km.inertia, 0.0);
        let mut c = km.centers.clone();
        c.sort_by(f64::total_cmp);
        assert_eq!(c, vec![1.0, 2.0, 3.0]);
        // All points equal: k-means++ falls back to uniform draws; the result is defined.
        let same = [5.0; 10];
        let km = kmeans_fit(&same, 5, 2, &KMeansOptions::new(3)).unwrap();
        assert_eq!(km.inertia, 0.0);
        assert!(km.centers.iter().all(|&v| v == 5.0));
    }

    #[test]
    fn kmeans_is_bit_identical_at_1_and_2_threads() {
        let (x, _, _) = blobs(7, 5, 433, 4.0, 8); // n = 3031: several tasks, not a multiple of BLOCK
        let n = x.len() / 5;
        let o = KMeansOptions {
            k: 6,
            n_init: 4,
            max_iter: 300,
            seed: 5,
        };
        let a = in_pool(1, || kmeans_fit(&x, n, 5, &o).unwrap());
        let b = in_pool(2, || kmeans_fit(&x, n, 5, &o).unwrap());
        assert_eq!(a.labels, b.labels);
        assert_eq!(
            (a.n_iter, a.inertia.to_bits()),
            (b.n_iter, b.inertia.to_bits())
        );
        assert_eq!(bits(&a.centers), bits(&b.centers));
        let p1 = in_pool(1, || kmeans_pp_init(&x, n, 5, 9, 3).unwrap());
        let p2 = in_pool(2, || kmeans_pp_init(&x, n, 5, 9, 3).unwrap());
        assert_eq!(bits(&p1), bits(&p2));
    }

    // --------------------------------------------------------------------------------------
    // Gaussian mixtures

    /// Three components in 2-D with covariances of the family's shape.
    fn truth(cov_type: CovType, sep: f64) -> (Vec<Vec<f64>>, Vec<Vec<f64>>, Vec<f64>) {
        let means = vec![vec![0.0, 0.0], vec![sep, 0.5], vec![0.5, sep]];
        let full = vec![
            vec![1.0, 0.6, 0.6, 2.0],
            vec![0.5, -0.2, -0.2, 0.3],
            vec![1.5, 0.0, 0.0, 1.5],
        ];
        let covs = match cov_type {
            CovType::Full => full,
            CovType::Tied => vec![full[0].clone(); 3],
            CovType::Diag => vec![
                vec![1.0, 0.0, 0.0, 2.5],
                vec![0.4, 0.0, 0.0, 0.2],
                vec![2.0, 0.0, 0.0, 1.0],
            ],
            CovType::Spherical => vec![iso(2, 1.0), iso(2, 0.3), iso(2, 2.0)],
        };
        (means, covs, vec![0.5, 0.3, 0.2])
    }

    /// The covariance parameters of component c in the family's layout, from a d × d matrix.
    fn family_cov(cov_type: CovType, m: &[f64], d: usize) -> Vec<f64> {
        match cov_type {
            CovType::Full | CovType::Tied => m.to_vec(),
            CovType::Diag => (0..d).map(|i| m[i * d + i]).collect(),
            CovType::Spherical => vec![(0..d).map(|i| m[i * d + i]).sum::<f64>() / d as f64],
        }
    }

    /// Fitted component of each true component (nearest mean), checked to be a bijection.
    fn matching(g: &Gmm, means: &[Vec<f64>]) -> Vec<usize> {
        let d = g.d;
        let m: Vec<usize> = means
            .iter()
            .map(|t| {
                (0..g.k())
                    .min_by(|&a, &b| {
                        sq_dist(&g.means[a * d..(a + 1) * d], t)
                            .total_cmp(&sq_dist(&g.means[b * d..(b + 1) * d], t))
                    })
                    .unwrap()
            })
            .collect();
        let mut s = m.clone();
        s.sort_unstable();
        s.dedup();
        assert_eq!(
            s.len(),
            means.len(),
            "components do not match one to one: {m:?}"
        );
        m
    }

    fn fitted_cov(g: &Gmm, c: usize) -> Vec<f64> {
        let d = g.d;
        match g.cov_type {
            CovType::Full => g.covars[c * d * d..(c + 1) * d * d].to_vec(),
            CovType::Tied => g.covars.clone(),
            CovType::Diag => g.covars[c * d..(c + 1) * d].to_vec(),
            CovType::Spherical => vec![g.covars[c]],
        }
    }

    #[test]
    fn gmm_recovers_known_parameters_from_samples() {
        // 9000 points, components 4–6 σ apart (they overlap in the tails). Standard errors:
        // means ≤ √(2.5/1800) ≈ 0.04, weights ≈ 0.005, variances ≈ σ²·√(2/1800) ≤ 0.08.
        // Tolerances: means 0.15, weights 0.02, covariance entries 0.2 (≈ 4 SE).
        for cov_type in CovType::ALL {
            let (means, covs, w) = truth(cov_type, 6.0);
            let counts: Vec<usize> = w.iter().map(|p| (p * 9000.0) as usize).collect();
            let (x, _) = mixture_sample(&means, &covs, &counts, 21);
            let n = x.len() / 2;
            let g = gmm_fit(
                &x,
                n,
                2,
                &GmmOptions {
                    cov_type,
                    n_init: 2,
                    tol: 1e-8,
                    max_iter: 500,
                    ..GmmOptions::new(3)
                },
            )
            .unwrap();
            assert!(g.converged, "{cov_type}: {} iterations", g.n_iter);
            let m = matching(&g, &means);
            for (t, &c) in m.iter().enumerate() {
                assert!(
                    (g.weights[c] - w[t]).abs() < 0.02,
                    "{cov_type}: weight {} vs {}",
                    g.weights[c],
                    w[t]
                );
                for j in 0..2 {
                    assert!(
                        (g.means[c * 2 + j] - means[t][j]).abs() < 0.15,
                        "{cov_type}: mean {t}/{j}"
                    );
                }
                for (a, b) in fitted_cov(&g, c)
                    .iter()
                    .zip(family_cov(cov_type, &covs[t], 2))
                {
                    assert!(
                        (a - b).abs() < 0.2,
                        "{cov_type}: component {t} covariance {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn gmm_on_separated_components_equals_the_labelled_sample_statistics() {
        // 30 σ apart: every responsibility is 0 or 1 to e^-400, so the maximum-likelihood
        // parameters are the per-component sample statistics of the true labels (+ reg_covar).
        for cov_type in CovType::ALL {
            let (means, covs, w) = truth(cov_type, 30.0);
            let counts: Vec<usize> = w.iter().map(|p| (p * 3000.0) as usize).collect();
            let (x, labels) = mixture_sample(&means, &covs, &counts, 22);
            let (n, d, reg) = (labels.len(), 2, 1e-6);
            let g = gmm_fit(
                &x,
                n,
                d,
                &GmmOptions {
                    cov_type,
                    ..GmmOptions::new(3)
                },
            )
            .unwrap();
            assert!(
                g.converged && g.n_iter <= 3,
                "{cov_type}: {} iterations",
                g.n_iter
            );
            let m = matching(&g, &means);
            let mut pooled = vec![0.0; d * d];
            for (t, &c) in m.iter().enumerate() {
                let rows: Vec<&[f64]> = (0..n)
                    .filter(|&i| labels[i] == t)
                    .map(|i| row(&x, d, i))
                    .collect();
                let nt = rows.len() as f64;
                let mu: Vec<f64> = (0..d)
                    .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / nt)
                    .collect();
                let mut s = vec![0.0; d * d];
                for r in &rows {
                    for i in 0..d {
                        for j in 0..d {
                            s[i * d + j] += (r[i] - mu[i]) * (r[j] - mu[j]);
                        }
                    }
                }
                pooled.iter_mut().zip(&s).for_each(|(p, v)| *p += v);
                let mut cov: Vec<f64> = s.iter().map(|v| v / nt).collect();
                (0..d).for_each(|i| cov[i * d + i] += reg);
                assert!((g.weights[c] - nt / n as f64).abs() < 1e-12, "{cov_type}");
                for j in 0..d {
                    assert!(
                        (g.means[c * d + j] - mu[j]).abs() < 1e-10,
                        "{cov_type}: mean"
                    );
                }
                if cov_type != CovType::Tied {
                    for (a, b) in fitted_cov(&g, c).iter().zip(family_cov(cov_type, &cov, d)) {
                        assert!((a - b).abs() < 1e-10, "{cov_type}: covariance {a} vs {b}");
                    }
                }
            }
            if cov_type == CovType::Tied {
                for i in 0..d * d {
                    let want = pooled[i] / n as f64 + if i % (d + 1) == 0 { reg } else { 0.0 };
                    assert!(
                        (g.covars[i] - want).abs() < 1e-10,
                        "tied covariance {} vs {want}",
                        g.covars[i]
                    );
                }
            }
        }
    }

    #[test]
    fn em_log_likelihood_never_decreases() {
        // Overlapping components, exact EM (reg_covar 0), tol 0: 150 iterations each.
        for cov_type in CovType::ALL {
            let (means, covs, w) = truth(cov_type, 2.5);
            let counts: Vec<usize> = w.iter().map(|p| (p * 2000.0) as usize).collect();
            let (x, _) = mixture_sample(&means, &covs, &counts, 23);
            let n = x.len() / 2;
            let o = GmmOptions {
                cov_type,
                max_iter: 150,
                tol: 0.0,
                reg_covar: 0.0,
                ..GmmOptions::new(4)
            };
            let g = gmm_fit(&x, n, 2, &o).unwrap();
            assert_eq!((g.n_iter, g.converged, g.history.len()), (150, false, 150));
            for (i, p) in g.history.windows(2).enumerate() {
                assert!(
                    p[1] >= p[0] - 1e-12,
                    "{cov_type}: iteration {}: {} -> {}",
                    i + 2,
                    p[0],
                    p[1]
                );
            }
            assert!(
                g.history[149] > g.history[0] + 1e-3,
                "{cov_type}: EM did not improve"
            );
            // The final parameters are at least as good as the last E-step's.
            assert!(g.loglik / n as f64 >= g.lower_bound - 1e-12);
            assert_eq!(g.lower_bound, g.history[149]);
        }
    }

    #[test]
    fn gmm_stops_on_tol_like_scikit_learn() {
        let (means, covs, w) = truth(CovType::Full, 3.0);
        let (x, _) = mixture_sample(
            &means,
            &covs,
            &w.iter().map(|p| (p * 1500.0) as usize).collect::<Vec<_>>(),
            24,
        );
        let n = x.len() / 2;
        let g = gmm_fit(&x, n, 2, &GmmOptions::new(3)).unwrap();
        let h = &g.history;
        assert!(g.converged);
        assert_eq!(h.len(), g.n_iter);
        assert!((h[h.len() - 1] - h[h.len() - 2]).abs() < 1e-3);
        assert!(h
            .windows(2)
            .take(h.len() - 2)
            .all(|p| (p[1] - p[0]).abs() >= 1e-3));
        // max_iter = 0 returns the k-means initialisation.
        let g0 = gmm_fit(
            &x,
            n,
            2,
            &GmmOptions {
                max_iter: 0,
                ..GmmOptions::new(3)
            },
        )
        .unwrap();
        assert_eq!((g0.n_iter, g0.converged, g0.history.len()), (0, false, 0));
        assert_eq!(g0.lower_bound, f64::NEG_INFINITY);
        let km = kmeans(&x, n, 2, &kmeans_pp_init(&x, n, 2, 3, 0).unwrap(), 300).unwrap();
        for c in 0..3 {
            let rows: Vec<usize> = (0..n).filter(|&i| km.labels[i] == c).collect();
            let mean0: f64 = rows.iter().map(|&i| x[i * 2]).sum::<f64>() / rows.len() as f64;
            assert!((g0.means[c * 2] - mean0).abs() < 1e-12);
        }
    }

    #[test]
    fn gmm_restarts_keep_the_highest_lower_bound() {
        let (means, covs, w) = truth(CovType::Diag, 2.0);
        let (x, _) = mixture_sample(
            &means,
            &covs,
            &w.iter().map(|p| (p * 1200.0) as usize).collect::<Vec<_>>(),
            25,
        );
        let n = x.len() / 2;
        let o = GmmOptions {
            cov_type: CovType::Diag,
            n_init: 5,
            seed: 3,
            ..GmmOptions::new(5)
        };
        let g = gmm_fit(&x, n, 2, &o).unwrap();
        let lbs: Vec<f64> = (0..5)
            .map(|r| em_run(&x, n, 2, &o, r).unwrap().lower_bound)
            .collect();
        let max = lbs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(g.lower_bound, max, "{lbs:?}");
        let first = em_run(&x, n, 2, &o, lbs.iter().position(|&v| v == max).unwrap()).unwrap();
        assert_eq!(bits(&g.means), bits(&first.means));
    }

    #[test]
    fn gmm_methods_agree_with_each_other_and_with_closed_forms() {
        let (means, covs, w) = truth(CovType::Full, 3.0);
        let (x, _) = mixture_sample(
            &means,
            &covs,
            &w.iter().map(|p| (p * 1000.0) as usize).collect::<Vec<_>>(),
            26,
        );
        let n = x.len() / 2;
        for cov_type in CovType::ALL {
            let g = gmm_fit(
                &x,
                n,
                2,
                &GmmOptions {
                    cov_type,
                    ..GmmOptions::new(3)
                },
            )
            .unwrap();
            let p = g.predict_proba(&x, n).unwrap();
            let labels = g.predict(&x, n).unwrap();
            let ss = g.score_samples(&x, n).unwrap();
            let lp = g.component_log_pdf(&x, n).unwrap();
            for i in 0..n {
                let r = &p[i * 3..(i + 1) * 3];
                assert!((r.iter().sum::<f64>() - 1.0).abs() < 1e-12);
                let am = (0..3).fold(0, |b, c| if r[c] > r[b] { c } else { b });
                assert_eq!(labels[i], am);
                let direct = (0..3)
                    .map(|c| g.weights[c] * lp[i * 3 + c].exp())
                    .sum::<f64>()
                    .ln();
                assert!((ss[i] - direct).abs() < 1e-12 * direct.abs().max(1.0));
            }
            let score = g.score(&x, n).unwrap();
            assert!((score * n as f64 - g.loglik).abs() < 1e-9 * g.loglik.abs());
            let p_count = match cov_type {
                CovType::Full => 17,
                CovType::Diag => 14,
                CovType::Tied | CovType::Spherical => 11,
            };
            assert_eq!(g.n_parameters(), p_count);
            let nf = n as f64;
            assert_eq!(
                g.bic(&x, n).unwrap(),
                -2.0 * score * nf + p_count as f64 * nf.ln()
            );
            assert_eq!(
                g.aic(&x, n).unwrap(),
                -2.0 * score * nf + 2.0 * p_count as f64
            );
            // Saved parameters give the same model.
            let h = Gmm::from_params(
                cov_type,
                2,
                g.weights.clone(),
                g.means.clone(),
                g.covars.clone(),
            )
            .unwrap();
            assert_eq!(bits(&h.score_samples(&x, n).unwrap()), bits(&ss));
        }
        // Full log-density against the 2-D closed form.
        let g = Gmm::from_params(
            CovType::Full,
            2,
            vec![1.0],
            vec![1.0, -2.0],
            vec![2.0, 0.7, 0.7, 1.5],
        )
        .unwrap();
        let (dx, dy) = (0.3 - 1.0, 0.4 + 2.0);
        let det: f64 = 2.0 * 1.5 - 0.49;
        let q = (1.5 * dx * dx - 2.0 * 0.7 * dx * dy + 2.0 * dy * dy) / det;
        let want = -(2.0 * std::f64::consts::PI).ln() - 0.5 * det.ln() - 0.5 * q;
        assert!((g.score_samples(&[0.3, 0.4], 1).unwrap()[0] - want).abs() < 1e-14);
    }

    #[test]
    fn gmm_rejects_bad_input_and_degenerate_data() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let e = |r: Result<Gmm, DataError>| r.unwrap_err().to_string();
        assert!(e(gmm_fit(&x, 2, 2, &GmmOptions::new(3))).contains("at least k = 3 points"));
        assert!(e(gmm_fit(&x, 4, 0, &GmmOptions::new(1))).contains("d >= 1"));
        assert!(e(gmm_fit(&[0.0, f64::INFINITY], 2, 1, &GmmOptions::new(1)))
            .contains("received inf at row 1"));
        assert!(e(gmm_fit(&[1.0], 1, 1, &GmmOptions::new(1))).contains("at least 2 points"));
        assert!(e(gmm_fit(
            &x,
            4,
            1,
            &GmmOptions {
                tol: -1.0,
                ..GmmOptions::new(1)
            }
        ))
        .contains("tol >= 0"));
        assert!(e(gmm_fit(
            &x,
            4,
            1,
            &GmmOptions {
                reg_covar: f64::NAN,
                ..GmmOptions::new(1)
            }
        ))
        .contains("reg_covar >= 0"));
        assert!(e(gmm_fit(
            &x,
            4,
            1,
            &GmmOptions {
                n_init: 0,
                ..GmmOptions::new(1)
            }
        ))
        .contains("n_init >= 1"));
        // Identical points, no regularisation: zero variance in every family.
        let zero = [0.0; 6];
        for cov_type in CovType::ALL {
            let msg = e(gmm_fit(
                &zero,
                3,
                2,
                &GmmOptions {
                    cov_type,
                    reg_covar: 0.0,
                    ..GmmOptions::new(2)
                },
            ));
            assert!(
                msg.contains("ill-defined covariance") && msg.contains("iteration 0"),
                "{cov_type}: {msg}"
            );
            assert!(
                gmm_fit(
                    &zero,
                    3,
                    2,
                    &GmmOptions {
                        cov_type,
                        ..GmmOptions::new(2)
                    }
                )
                .is_ok(),
                "{cov_type} with reg_covar"
            );
        }
        // Like scikit-learn, N_k + 10ε keeps the mean of a collapsed component a few ulps off its
        // points, so their variance is tiny but positive: no error, a huge likelihood.
        let dup = [1.0, 1.0, 1.0, 5.0, 5.0, 5.0];
        let g = gmm_fit(
            &dup,
            6,
            1,
            &GmmOptions {
                reg_covar: 0.0,
                ..GmmOptions::new(2)
            },
        )
        .unwrap();
        assert!(
            g.covars.iter().all(|&v| v > 0.0 && v < 1e-25),
            "{:?}",
            g.covars
        );
        let bad = |c: CovType, w: Vec<f64>, m: Vec<f64>, s: Vec<f64>| {
            Gmm::from_params(c, 2, w, m, s).unwrap_err().to_string()
        };
        assert!(bad(
            CovType::Full,
            vec![0.5, 0.6],
            vec![0.0; 4],
            [1.0, 0.0, 0.0, 1.0].repeat(2)
        )
        .contains("summing to 1"));
        assert!(bad(
            CovType::Full,
            vec![1.0],
            vec![0.0; 3],
            vec![1.0, 0.0, 0.0, 1.0]
        )
        .contains("means of length"));
        assert!(bad(CovType::Diag, vec![1.0], vec![0.0; 2], vec![1.0])
            .contains("diag covariances of length 2"));
        assert!(bad(
            CovType::Full,
            vec![1.0],
            vec![0.0; 2],
            vec![1.0, 2.0, 2.0, 1.0]
        )
        .contains("positive definite"));
        assert!(bad(
            CovType::Tied,
            vec![1.0],
            vec![0.0; 2],
            vec![1.0, 0.1, 0.2, 1.0]
        )
        .contains("symmetric"));
        assert!(bad(CovType::Spherical, vec![1.0], vec![0.0; 2], vec![0.0])
            .contains("positive definite"));
        let g =
            Gmm::from_params(CovType::Spherical, 2, vec![1.0], vec![0.0; 2], vec![1.0]).unwrap();
        assert!(g
            .predict(&[0.0; 3], 1)
            .unwrap_err()
            .to_string()
            .contains("length n × d = 1 × 2"));
    }

    #[test]
    fn gmm_is_bit_identical_at_1_and_2_threads() {
        let (means, covs, w) = truth(CovType::Full, 3.0);
        let (x, _) = mixture_sample(
            &means,
            &covs,
            &w.iter().map(|p| (p * 3001.0) as usize).collect::<Vec<_>>(),
            27,
        );
        let n = x.len() / 2;
        for cov_type in CovType::ALL {
            let o = GmmOptions {
                cov_type,
                n_init: 3,
                seed: 9,
                ..GmmOptions::new(3)
            };
            let a = in_pool(1, || gmm_fit(&x, n, 2, &o).unwrap());
            let b = in_pool(2, || gmm_fit(&x, n, 2, &o).unwrap());
            assert_eq!(
                (bits(&a.weights), bits(&a.means), bits(&a.covars)),
                (bits(&b.weights), bits(&b.means), bits(&b.covars))
            );
            assert_eq!(
                (a.loglik.to_bits(), bits(&a.history), a.n_iter),
                (b.loglik.to_bits(), bits(&b.history), b.n_iter)
            );
            let pa = in_pool(1, || a.predict_proba(&x, n).unwrap());
            let pb = in_pool(2, || a.predict_proba(&x, n).unwrap());
            assert_eq!(bits(&pa), bits(&pb));
        }
    }

    #[test]
    fn logsumexp_handles_infinities() {
        assert_eq!(
            logsumexp(&[f64::NEG_INFINITY, f64::NEG_INFINITY]),
            f64::NEG_INFINITY
        );
        assert_eq!(logsumexp(&[f64::NEG_INFINITY, 0.0]), 0.0);
        assert!((logsumexp(&[1000.0, 1000.0]) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert!((logsumexp(&[-1000.0, -1000.0]) - (-1000.0 + 2f64.ln())).abs() < 1e-12);
    }

    // --------------------------------------------------------------------------------------
    // Silhouette

    #[test]
    fn silhouette_matches_the_naive_reference() {
        let (x, mut labels, _) = blobs(4, 3, 60, 6.0, 30);
        let n = labels.len();
        // Sparse, unordered label values and a singleton cluster.
        for l in labels.iter_mut() {
            *l = [70, 3, 1000, 12][*l];
        }
        labels[17] = 5;
        let fast = silhouette_samples(&x, n, 3, &labels).unwrap();
        let slow = silhouette_samples_reference(&x, n, 3, &labels);
        assert_eq!(fast[17], 0.0);
        for (i, (a, b)) in fast.iter().zip(&slow).enumerate() {
            assert!((a - b).abs() <= 1e-14, "point {i}: {a} vs {b}");
        }
        let score = silhouette_score(&x, n, 3, &labels).unwrap();
        assert!((score - slow.iter().sum::<f64>() / n as f64).abs() < 1e-14);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn silhouette_agrees_with_the_reference_on_random_input(
            pts in proptest::collection::vec((-5i32..5, -5i32..5, 0usize..4), 3..40),
        ) {
            let n = pts.len();
            // Integer coordinates: many exact ties and duplicate points.
            let x: Vec<f64> = pts.iter().flat_map(|p| [p.0 as f64, p.1 as f64 * 0.5]).collect();
            let labels: Vec<usize> = pts.iter().map(|p| p.2).collect();
            let mut u = labels.clone();
            u.sort_unstable();
            u.dedup();
            match silhouette_samples(&x, n, 2, &labels) {
                Ok(s) => {
                    prop_assert!(u.len() >= 2 && u.len() < n);
                    let r = silhouette_samples_reference(&x, n, 2, &labels);
                    for (a, b) in s.iter().zip(&r) {
                        prop_assert!((a - b).abs() <= 1e-14 && (-1.0..=1.0).contains(a), "{} vs {}", a, b);
                    }
                }
                Err(e) => prop_assert!(u.len() < 2 || u.len() >= n, "{}", e),
            }
        }
    }

    #[test]
    fn silhouette_sampling_is_deterministic_and_equals_the_subset() {
        let (x, labels, _) = blobs(3, 2, 400, 5.0, 31);
        let n = labels.len();
        let s = silhouette(&x, n, 2, &labels, Some((300, 4))).unwrap();
        assert_eq!(s, silhouette(&x, n, 2, &labels, Some((300, 4))).unwrap());
        let idx = s.indices.clone().unwrap();
        assert_eq!(idx.len(), 300);
        assert!(idx.windows(2).all(|p| p[0] < p[1]));
        assert_ne!(
            idx,
            silhouette(&x, n, 2, &labels, Some((300, 5)))
                .unwrap()
                .indices
                .unwrap()
        );
        let xs: Vec<f64> = idx.iter().flat_map(|&i| row(&x, 2, i).to_vec()).collect();
        let ls: Vec<usize> = idx.iter().map(|&i| labels[i]).collect();
        assert_eq!(
            bits(&s.samples),
            bits(&silhouette_samples(&xs, 300, 2, &ls).unwrap())
        );
        // A sample of n or more points is the whole set.
        let all = silhouette(&x, n, 2, &labels, Some((n, 4))).unwrap();
        assert_eq!(all.indices, None);
        assert_eq!(all.score, silhouette_score(&x, n, 2, &labels).unwrap());
        assert!(
            (s.score - all.score).abs() < 0.05,
            "sampled {} vs full {}",
            s.score,
            all.score
        );
    }

    #[test]
    fn silhouette_rejects_bad_labels() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let e = |l: &[usize]| silhouette_samples(&x, 4, 1, l).unwrap_err().to_string();
        assert!(e(&[0, 0, 0, 0])
            .contains("between 2 and n − 1 = 3 distinct labels for the silhouette but received 1"));
        assert!(e(&[0, 1, 2, 3]).contains("received 4"));
        assert!(e(&[0, 1]).contains("Expected 4 labels"));
        assert!(silhouette(&x, 4, 1, &[0, 0, 1, 1], Some((1, 0)))
            .unwrap_err()
            .to_string()
            .contains("sample size >= 2"));
        // A sample holding one cluster only.
        let l: Vec<usize> = (0..100).map(|i| usize::from(i == 0)).collect();
        let xs: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let msg = silhouette(&xs, 100, 1, &l, Some((5, 1)))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("in the sample of 5 points"), "{msg}");
        // Duplicate points in two clusters: a = b = 0 gives 0.
        assert_eq!(
            silhouette_samples(&[1.0, 1.0, 1.0, 1.0], 4, 1, &[0, 0, 1, 1]).unwrap(),
            vec![0.0; 4]
        );
    }

    #[test]
    fn silhouette_is_bit_identical_at_1_and_2_threads() {
        let (x, labels, _) = blobs(5, 3, 301, 5.0, 32);
        let n = labels.len();
        let a = in_pool(1, || silhouette(&x, n, 3, &labels, None).unwrap());
        let b = in_pool(2, || silhouette(&x, n, 3, &labels, None).unwrap());
        assert_eq!(
            (bits(&a.samples), a.score.to_bits()),
            (bits(&b.samples), b.score.to_bits())
        );
    }
}
