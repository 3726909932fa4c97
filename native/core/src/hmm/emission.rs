//! Gaussian emission log-densities.
//!
//! log N(x | μ_k, Σ_k) = −½ (D ln 2π + ln|Σ_k| + ‖L_k⁻¹ (x − μ_k)‖²), Σ_k = L_k L_kᵀ.
//! `Emission::new` factors every covariance once (Cholesky, then the inverse of the triangular
//! factor, stored packed) so that a row costs D(D+1)/2 multiply-adds per state: a triangular
//! matrix-vector product instead of a triangular solve. Diagonal and spherical covariances keep
//! the inverse variances; tied is full with one shared factor.
//!
//! `fill_log` and `fill_scaled` evaluate all T rows in parallel blocks of `BLOCK` rows. Each row
//! is computed by the same function whatever the block, so the values do not depend on the
//! thread count, and the streaming filter (which calls `row`) sees the same bits as the batch.

use super::lattice::exp0;
use super::simd::{multiversion, simd_active};
use super::{CovType, BLOCK, SUB};
use crate::error::DataError;
use rayon::prelude::*;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Precomputed per-state factors of the emission densities.
#[derive(Debug, Clone)]
pub(crate) struct Emission {
    pub k: usize,
    pub d: usize,
    full: bool,
    /// K × D.
    means: Vec<f64>,
    /// Full: K × D(D+1)/2, the rows of L⁻¹ packed (row i holds columns 0..=i).
    /// Diag: K × D inverse variances.
    w: Vec<f64>,
    /// K: −½ (D ln 2π + ln|Σ_k|).
    cst: Vec<f64>,
    /// Run the AVX2 copy of the kernel (`simd`); fixed at construction, so one fit or call
    /// uses one path throughout.
    pub simd: bool,
}

/// Cholesky factor of the symmetric d × d matrix `a` (lower triangle read), row-major with a
/// zero upper triangle; `None` if a pivot is not positive and finite.
pub(crate) fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for m in 0..j {
                s -= l[i * d + m] * l[j * d + m];
            }
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// Inverse of a lower-triangular d × d matrix, packed by rows (row i: columns 0..=i).
fn tri_inverse_packed(l: &[f64], d: usize) -> Vec<f64> {
    let mut p = vec![0.0; d * d];
    for j in 0..d {
        p[j * d + j] = 1.0 / l[j * d + j];
        for i in j + 1..d {
            let mut s = 0.0;
            for m in j..i {
                s += l[i * d + m] * p[m * d + j];
            }
            p[i * d + j] = -s / l[i * d + i];
        }
    }
    let mut packed = Vec::with_capacity(d * (d + 1) / 2);
    for i in 0..d {
        packed.extend_from_slice(&p[i * d..i * d + i + 1]);
    }
    packed
}

fn not_pd(state: Option<usize>) -> DataError {
    match state {
        Some(s) => DataError::arg(format!(
            "the covariance of state {s} is not positive definite (set minCovar > 0 to keep covariances away from singular)"
        )),
        None => DataError::arg(
            "the tied covariance is not positive definite (set minCovar > 0 to keep covariances away from singular)",
        ),
    }
}

/// numpy's `allclose(a, b)`: |a − b| ≤ 1e-8 + 1e-5·|b|.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-8 + 1e-5 * b.abs()
}

fn check_matrix(m: &[f64], d: usize, state: Option<usize>) -> Result<(), DataError> {
    let name = state
        .map(|s| format!("covars[{s}]"))
        .unwrap_or_else(|| "covars (tied)".into());
    if let Some(i) = m.iter().position(|v| !v.is_finite()) {
        return Err(DataError::arg(format!(
            "{name}[{}][{}] is not finite ({})",
            i / d,
            i % d,
            m[i]
        )));
    }
    for i in 0..d {
        for j in 0..i {
            if !close(m[i * d + j], m[j * d + i]) {
                return Err(DataError::arg(format!(
                    "{name} is not symmetric: [{i}][{j}] = {} but [{j}][{i}] = {}",
                    m[i * d + j],
                    m[j * d + i]
                )));
            }
        }
    }
    cholesky(m, d).map(|_| ()).ok_or_else(|| not_pd(state))
}

/// Validate covariances: finite; full/tied symmetric (numpy allclose) and positive definite;
/// diag/spherical positive.
pub(crate) fn check_covars(
    c: CovType,
    k: usize,
    d: usize,
    covars: &[f64],
) -> Result<(), DataError> {
    match c {
        CovType::Full => {
            (0..k).try_for_each(|s| check_matrix(&covars[s * d * d..(s + 1) * d * d], d, Some(s)))
        }
        CovType::Tied => check_matrix(covars, d, None),
        CovType::Diag | CovType::Spherical => {
            if let Some(i) = covars.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
                let at = if c == CovType::Diag {
                    format!("[{}][{}]", i / d, i % d)
                } else {
                    format!("[{i}]")
                };
                return Err(DataError::arg(format!(
                    "covars{at} must be a positive finite variance, got {}",
                    covars[i]
                )));
            }
            Ok(())
        }
    }
}

impl Emission {
    /// Factor the covariances. Fails (naming the state) if one is not positive definite.
    pub fn new(
        c: CovType,
        k: usize,
        d: usize,
        means: &[f64],
        covars: &[f64],
    ) -> Result<Emission, DataError> {
        let mut w = Vec::new();
        let mut cst = Vec::with_capacity(k);
        let full = matches!(c, CovType::Full | CovType::Tied);
        if full {
            let mut tied: Option<(Vec<f64>, f64)> = None;
            for s in 0..k {
                let (p, logdet) = match (&tied, c) {
                    (Some(t), CovType::Tied) => t.clone(),
                    _ => {
                        let m = if c == CovType::Tied {
                            covars
                        } else {
                            &covars[s * d * d..(s + 1) * d * d]
                        };
                        let l = cholesky(m, d).ok_or_else(|| {
                            not_pd(if c == CovType::Tied { None } else { Some(s) })
                        })?;
                        let logdet = 2.0 * (0..d).map(|i| l[i * d + i].ln()).sum::<f64>();
                        let r = (tri_inverse_packed(&l, d), logdet);
                        if c == CovType::Tied {
                            tied = Some(r.clone());
                        }
                        r
                    }
                };
                w.extend_from_slice(&p);
                cst.push(-0.5 * (d as f64 * LN_2PI + logdet));
            }
        } else {
            for s in 0..k {
                let mut logdet = 0.0;
                for j in 0..d {
                    let v = if c == CovType::Diag {
                        covars[s * d + j]
                    } else {
                        covars[s]
                    };
                    if !(v > 0.0 && v.is_finite()) {
                        return Err(not_pd(Some(s)));
                    }
                    logdet += v.ln();
                    w.push(1.0 / v);
                }
                cst.push(-0.5 * (d as f64 * LN_2PI + logdet));
            }
        }
        Ok(Emission {
            k,
            d,
            full,
            means: means.to_vec(),
            w,
            cst,
            simd: simd_active(),
        })
    }

    /// Log-densities of the rows of `xs` (n × D) under every state into `out` (n × K).
    pub fn rows(&self, xs: &[f64], out: &mut [f64], sc: &mut Scratch) {
        dispatch!(self.d, rows_d(self.simd, self, xs, out, sc))
    }

    /// T × K log-densities of X (T × D) into `logb`.
    pub fn fill_log(&self, x: &[f64], logb: &mut [f64]) {
        let (k, d) = (self.k, self.d);
        logb.par_chunks_mut(BLOCK * k)
            .zip(x.par_chunks(BLOCK * d))
            .for_each_init(|| Scratch::new(d), |sc, (out, xs)| self.rows(xs, out, sc));
    }

    /// Scaled emission probabilities: b[t][k] = exp(logb[t][k] − shift[t]) with
    /// shift[t] = max_k logb[t][k], so that the largest is exactly 1.
    pub fn fill_scaled(&self, x: &[f64], b: &mut [f64], shift: &mut [f64]) {
        let (k, d) = (self.k, self.d);
        b.par_chunks_mut(BLOCK * k)
            .zip(shift.par_chunks_mut(BLOCK))
            .zip(x.par_chunks(BLOCK * d))
            .for_each_init(
                || Scratch::new(d),
                |sc, ((out, sh), xs)| {
                    self.rows(xs, out, sc);
                    for (o, s) in out.chunks_exact_mut(k).zip(sh.iter_mut()) {
                        *s = scale_row(o);
                    }
                },
            );
    }
}

/// Work space of `Emission::rows`: a transposed sub-block of X and per-row accumulators.
#[derive(Debug, Clone)]
pub(crate) struct Scratch {
    xt: Vec<f64>,
    dt: Vec<f64>,
    y: Vec<f64>,
    q: Vec<f64>,
}

impl Scratch {
    pub fn new(d: usize) -> Scratch {
        Scratch {
            xt: vec![0.0; d * SUB],
            dt: vec![0.0; d * SUB],
            y: vec![0.0; SUB],
            q: vec![0.0; SUB],
        }
    }
}

/// Transpose rows of `xs` (n × d, n ≤ SUB) into `xt` (d × n).
#[inline(always)]
pub(crate) fn transpose(xs: &[f64], n: usize, d: usize, xt: &mut [f64]) {
    for (b, r) in xs.chunks_exact(d).take(n).enumerate() {
        for j in 0..d {
            xt[j * n + b] = r[j];
        }
    }
}

/// The emission kernel for D = DN (DN = 0: any D). For each sub-block of up to SUB rows and each
/// state: e = x − μ (transposed), then full: y_i = Σ_{j≤i} P_ij e_j, q = Σ_i y_i²; diag:
/// q = Σ_j e_j² / σ²_j; out = cst − q/2. The loops over the rows of a sub-block are innermost
/// (they vectorise); each row's arithmetic, in its order, is that of a plain per-row loop, so a
/// row's value does not depend on the sub-block it falls in (the streaming filter calls this
/// with one row).
#[inline(always)]
fn rows_body<const DN: usize>(em: &Emission, xs: &[f64], out: &mut [f64], sc: &mut Scratch) {
    let d = if DN == 0 { em.d } else { DN };
    let k = em.k;
    let np = d * (d + 1) / 2;
    let total = xs.len() / d;
    let mut r0 = 0;
    while r0 < total {
        let n = SUB.min(total - r0);
        let xb = &xs[r0 * d..(r0 + n) * d];
        let ob = &mut out[r0 * k..(r0 + n) * k];
        transpose(xb, n, d, &mut sc.xt);
        let (xt, dt, y, q) = (
            &sc.xt[..d * n],
            &mut sc.dt[..d * n],
            &mut sc.y[..n],
            &mut sc.q[..n],
        );
        for s in 0..k {
            let mu = &em.means[s * d..(s + 1) * d];
            q.iter_mut().for_each(|v| *v = 0.0);
            if em.full {
                for j in 0..d {
                    let (src, dst) = (&xt[j * n..(j + 1) * n], &mut dt[j * n..(j + 1) * n]);
                    let m = mu[j];
                    for b in 0..n {
                        dst[b] = src[b] - m;
                    }
                }
                let p = &em.w[s * np..(s + 1) * np];
                let mut off = 0;
                for i in 0..d {
                    y.iter_mut().for_each(|v| *v = 0.0);
                    for j in 0..=i {
                        let pij = p[off + j];
                        let dj = &dt[j * n..(j + 1) * n];
                        for b in 0..n {
                            y[b] += pij * dj[b];
                        }
                    }
                    for b in 0..n {
                        q[b] += y[b] * y[b];
                    }
                    off += i + 1;
                }
            } else {
                let iv = &em.w[s * d..(s + 1) * d];
                for j in 0..d {
                    let src = &xt[j * n..(j + 1) * n];
                    let (m, w) = (mu[j], iv[j]);
                    for b in 0..n {
                        let e = src[b] - m;
                        q[b] += e * e * w;
                    }
                }
            }
            let c = em.cst[s];
            for b in 0..n {
                ob[b * k + s] = c - 0.5 * q[b];
            }
        }
        r0 += n;
    }
}

multiversion!(rows_d, rows_d_avx2, rows_body, (em: &Emission, xs: &[f64], out: &mut [f64], sc: &mut Scratch));

/// Turn a row of log-densities into exp(v − max) in place and return the max (−∞ if every
/// value is −∞, in which case the row becomes zeros).
#[inline]
pub(crate) fn scale_row(o: &mut [f64]) -> f64 {
    let m = o
        .iter()
        .fold(f64::NEG_INFINITY, |a, &v| if v > a { v } else { a });
    if m == f64::NEG_INFINITY {
        o.iter_mut().for_each(|v| *v = 0.0);
    } else {
        o.iter_mut().for_each(|v| *v = exp0(*v - m));
    }
    m
}

/// Apply the covariance floor: every eigenvalue of every covariance at least `min_covar`.
/// Diagonal/spherical: σ² ← max(σ², min_covar). Full/tied: when Σ − min_covar·I is not
/// positive definite, Σ ← V max(Λ, min_covar) Vᵀ (eigenvalue clipping; this is the exact
/// maximiser of the M-step objective under the constraint Σ ⪰ min_covar·I). A no-op when
/// min_covar is 0 or the floor does not bind, so results stay bit-identical to the unfloored
/// M-step in that case.
pub(crate) fn floor_covars(c: CovType, k: usize, d: usize, covars: &mut [f64], min_covar: f64) {
    if min_covar <= 0.0 {
        return;
    }
    match c {
        CovType::Diag | CovType::Spherical => covars.iter_mut().for_each(|v| {
            // NaN is left alone (the emission factorisation reports it).
            if *v < min_covar {
                *v = min_covar;
            }
        }),
        CovType::Full | CovType::Tied => {
            let n = if c == CovType::Full { k } else { 1 };
            for s in 0..n {
                floor_matrix(&mut covars[s * d * d..(s + 1) * d * d], d, min_covar);
            }
        }
    }
}

fn floor_matrix(m: &mut [f64], d: usize, min_covar: f64) {
    let mut shifted = m.to_vec();
    for i in 0..d {
        shifted[i * d + i] -= min_covar;
    }
    if m.iter().all(|v| v.is_finite()) && cholesky(&shifted, d).is_some() {
        return;
    }
    let a = nalgebra::DMatrix::from_fn(
        d,
        d,
        |i, j| if i >= j { m[i * d + j] } else { m[j * d + i] },
    );
    if !a.iter().all(|v| v.is_finite()) {
        return; // left for the emission factorisation to report
    }
    let e = nalgebra::SymmetricEigen::new(a);
    let lam: Vec<f64> = e
        .eigenvalues
        .iter()
        .map(|&l| if l >= min_covar { l } else { min_covar })
        .collect();
    for i in 0..d {
        for j in 0..=i {
            let mut s = 0.0;
            for (q, &l) in lam.iter().enumerate() {
                s += e.eigenvectors[(i, q)] * l * e.eigenvectors[(j, q)];
            }
            m[i * d + j] = s;
            m[j * d + i] = s;
        }
    }
}
