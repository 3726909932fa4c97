//! Cross-asset kernels (SPEC B3 cross group and GNN node inputs, A10 cross features).
//!
//! Layout: N aligned series on one time grid, **row-major T×N (time-major)**: the value of asset
//! j at row t is `x[t * n + j]`. Correlation matrices are T×N×N: entry (i, j) at row t is
//! `m[(t * n + i) * n + j]`. N ≤ [`MAX_ASSETS`].
//!
//! Missing data: a non-finite value (NaN, ±∞) is a missing bar or an asset not yet listed.
//! Windowed statistics use the full-window rule: a series counts at t only if all W values in
//! t−W+1..t are present; a pair's statistic needs both series full. Everything at t reads only
//! rows ≤ t.
//!
//! The sliding correlation is incremental: per series the window sums Σx, Σx² and per pair
//! Σxy are updated by adding the newest row and removing the oldest, in double-double
//! arithmetic with exact products (Dekker), so the sums carry ~106 bits and the centered
//! co-moments Σxy − ΣxΣy/W keep full double accuracy even after large values leave the window.
//! Each column is first scaled by a power of two (exact) so that its largest |value| lies in
//! [0.5, 1): huge and tiny inputs neither overflow nor underflow, and results do not depend on
//! the scale. Work is split in fixed blocks of [`BLOCK_ROWS`] rows, each starting its own
//! window W−1 rows early, so the bits depend on the block length, never on the thread count.

use crate::error::DataError;
use rayon::prelude::*;

/// Largest number of assets the cross kernels accept.
pub const MAX_ASSETS: usize = 64;
/// Rows per parallel time block of the sliding kernels (fixed: results depend on it, not on threads).
pub const BLOCK_ROWS: usize = 256;
/// A window whose centered second moment is below this fraction of its raw second moment
/// (σ/|mean| < 1e-14: constant at double precision) counts as constant, so its correlations are NaN.
pub const CONSTANT_REL: f64 = 1e-28;

// ---------------------------------------------------------------------------------------------
// Double-double arithmetic (Dekker 1971; Hida, Li & Bailey's QD formulas).

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Dd {
    hi: f64,
    lo: f64,
}

#[inline]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

#[inline]
fn quick_two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    Dd {
        hi: s,
        lo: b - (s - a),
    }
}

#[inline]
fn split(a: f64) -> (f64, f64) {
    // Exact for |a| < 2^996; inputs are scaled to |a| < 1.
    let t = 134_217_729.0 * a; // 2^27 + 1
    let hi = t - (t - a);
    (hi, a - hi)
}

/// a·b exactly, as hi + lo (barring underflow).
#[inline]
fn two_prod(a: f64, b: f64) -> Dd {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    Dd {
        hi: p,
        lo: ((ah * bh - p) + ah * bl + al * bh) + al * bl,
    }
}

impl Dd {
    const ZERO: Dd = Dd { hi: 0.0, lo: 0.0 };

    #[inline]
    fn add(self, b: Dd) -> Dd {
        let (s, e) = two_sum(self.hi, b.hi);
        let (t, f) = two_sum(self.lo, b.lo);
        let r = quick_two_sum(s, e + t);
        quick_two_sum(r.hi, r.lo + f)
    }
    #[inline]
    fn neg(self) -> Dd {
        Dd {
            hi: -self.hi,
            lo: -self.lo,
        }
    }
    #[inline]
    fn sub(self, b: Dd) -> Dd {
        self.add(b.neg())
    }
    #[inline]
    fn add_f64(self, b: f64) -> Dd {
        let (s, e) = two_sum(self.hi, b);
        quick_two_sum(s, e + self.lo)
    }
    #[inline]
    fn mul(self, b: Dd) -> Dd {
        let p = two_prod(self.hi, b.hi);
        quick_two_sum(p.hi, p.lo + (self.hi * b.lo + self.lo * b.hi))
    }
    #[inline]
    fn div_f64(self, b: f64) -> Dd {
        let q1 = self.hi / b;
        let r = self.sub(two_prod(q1, b));
        quick_two_sum(q1, r.hi / b)
    }
    #[inline]
    fn value(self) -> f64 {
        self.hi + self.lo
    }
}

// ---------------------------------------------------------------------------------------------
// Argument checks

fn check_layout(name: &str, len: usize, n: usize) -> Result<usize, DataError> {
    if n == 0 || n > MAX_ASSETS {
        return Err(DataError::arg(format!(
            "Expected nAssets between 1 and {MAX_ASSETS} but received {n}"
        )));
    }
    if !len.is_multiple_of(n) {
        return Err(DataError::arg(format!(
            "{name} has length {len}, which is not a multiple of nAssets ({n})"
        )));
    }
    Ok(len / n)
}

fn check_matrices(len: usize, n: usize) -> Result<usize, DataError> {
    if n == 0 || n > MAX_ASSETS {
        return Err(DataError::arg(format!(
            "Expected nAssets between 1 and {MAX_ASSETS} but received {n}"
        )));
    }
    if !len.is_multiple_of(n * n) {
        return Err(DataError::arg(format!(
            "matrices has length {len}, which is not a multiple of nAssets² ({})",
            n * n
        )));
    }
    Ok(len / (n * n))
}

fn check_window(w: usize, min: usize) -> Result<(), DataError> {
    if w < min {
        return Err(DataError::arg(format!(
            "Expected window >= {min} but received {w}"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The sliding window engine

/// The inputs of the sliding kernels, prepared once: each of the `ns` columns of a row-major
/// T×ns matrix scaled by 2^−e so that its largest finite |value| lies in [0.5, 1) (exact), with
/// missing values stored as 0.0 and flagged in `present`. A stored 0.0 adds nothing to any sum,
/// so the pair loops need no branches.
struct Prepared {
    ns: usize,
    vals: Vec<f64>,
    present: Vec<bool>,
    exps: Vec<i32>,
}

impl Prepared {
    fn new(x: &[f64], ns: usize) -> Self {
        let mut maxabs = vec![0.0f64; ns];
        for row in x.chunks_exact(ns) {
            for (m, &v) in maxabs.iter_mut().zip(row) {
                if v.is_finite() && v.abs() > *m {
                    *m = v.abs();
                }
            }
        }
        let exps: Vec<i32> = maxabs
            .iter()
            .map(|&m| if m > 0.0 { libm::frexp(m).1 } else { 0 })
            .collect();
        let present: Vec<bool> = x.iter().map(|v| v.is_finite()).collect();
        let vals = x
            .iter()
            .enumerate()
            .map(|(k, &v)| {
                if !v.is_finite() {
                    0.0
                } else {
                    libm::scalbn(v, -exps[k % ns])
                }
            })
            .collect();
        Prepared {
            ns,
            vals,
            present,
            exps,
        }
    }
    fn rows(&self) -> usize {
        self.vals.len() / self.ns
    }
    fn row(&self, t: usize) -> (&[f64], &[bool]) {
        let r = t * self.ns..(t + 1) * self.ns;
        (&self.vals[r.clone()], &self.present[r])
    }
}

/// Which pairs a window tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PairSet {
    /// Every (i, j) with i < j, packed row by row (see [`upper_index`]).
    Upper,
    /// (i, ns−1) for every i < ns−1, as pair i: each series against the last one.
    WithLast,
}

/// Index of pair (i, j), i < j, in the packed upper triangle of an n×n matrix.
#[inline]
fn upper_index(n: usize, i: usize, j: usize) -> usize {
    i * n - i * (i + 1) / 2 + (j - i - 1)
}

/// hi/lo[k] += a·x[k] exactly-multiplied, double-double accumulated (no branches: vectorizable).
#[inline]
fn dd_axpy(hi: &mut [f64], lo: &mut [f64], a: f64, x: &[f64]) {
    for ((h, l), &b) in hi.iter_mut().zip(lo.iter_mut()).zip(x) {
        let r = Dd { hi: *h, lo: *l }.add(two_prod(a, b));
        *h = r.hi;
        *l = r.lo;
    }
}

/// Window sums over the last `w` rows: Σx and Σx² per series and Σxy per tracked pair, all
/// double-double, with the count of present values per series.
struct Window {
    ns: usize,
    w: usize,
    set: PairSet,
    cnt: Vec<usize>,
    sx: Vec<Dd>,
    sxx: Vec<Dd>,
    /// Σxy per pair, structure-of-arrays.
    hi: Vec<f64>,
    lo: Vec<f64>,
    // Filled by `prepare` for the current row:
    mean: Vec<Dd>,
    /// Centered second moment Σ(x − x̄)² if the window is full and not constant, else NaN.
    m2: Vec<f64>,
}

impl Window {
    fn new(ns: usize, w: usize, set: PairSet) -> Self {
        let np = match set {
            PairSet::Upper => ns * (ns - 1) / 2,
            PairSet::WithLast => ns - 1,
        };
        Window {
            ns,
            w,
            set,
            cnt: vec![0; ns],
            sx: vec![Dd::ZERO; ns],
            sxx: vec![Dd::ZERO; ns],
            hi: vec![0.0; np],
            lo: vec![0.0; np],
            mean: vec![Dd::ZERO; ns],
            m2: vec![f64::NAN; ns],
        }
    }

    /// Add (sign +1) or remove (sign −1) one row. Removing adds the exact negatives of the
    /// products that were added, since (−a)·b rounds to −(a·b).
    fn update(&mut self, vals: &[f64], present: &[bool], sign: f64) {
        let ns = self.ns;
        for i in 0..ns {
            if present[i] {
                let v = sign * vals[i];
                self.sx[i] = self.sx[i].add_f64(v);
                self.sxx[i] = self.sxx[i].add(two_prod(v, vals[i]));
            }
        }
        match self.set {
            PairSet::Upper => {
                let mut p = 0;
                for i in 0..ns {
                    let len = ns - i - 1;
                    let a = sign * vals[i];
                    if a != 0.0 {
                        dd_axpy(
                            &mut self.hi[p..p + len],
                            &mut self.lo[p..p + len],
                            a,
                            &vals[i + 1..],
                        );
                    }
                    p += len;
                }
            }
            PairSet::WithLast => {
                let b = sign * vals[ns - 1];
                if b != 0.0 {
                    dd_axpy(&mut self.hi, &mut self.lo, b, &vals[..ns - 1]);
                }
            }
        }
    }

    fn add(&mut self, vals: &[f64], present: &[bool]) {
        self.update(vals, present, 1.0);
        for (c, &p) in self.cnt.iter_mut().zip(present) {
            *c += p as usize;
        }
    }

    fn remove(&mut self, vals: &[f64], present: &[bool]) {
        self.update(vals, present, -1.0);
        for (i, &p) in present.iter().enumerate() {
            if p {
                self.cnt[i] -= 1;
                if self.cnt[i] == 0 {
                    self.clear(i);
                }
            }
        }
    }

    /// A series whose window is empty: restart its sums (and its pairs') from exact zeros.
    fn clear(&mut self, i: usize) {
        let ns = self.ns;
        self.sx[i] = Dd::ZERO;
        self.sxx[i] = Dd::ZERO;
        let mut zero = |p: usize| {
            self.hi[p] = 0.0;
            self.lo[p] = 0.0;
        };
        match self.set {
            PairSet::Upper => {
                (0..i).for_each(|k| zero(upper_index(ns, k, i)));
                (i + 1..ns).for_each(|j| zero(upper_index(ns, i, j)));
            }
            PairSet::WithLast if i == ns - 1 => (0..ns - 1).for_each(&mut zero),
            PairSet::WithLast => zero(i),
        }
    }

    fn prepare(&mut self) {
        let w = self.w as f64;
        for i in 0..self.ns {
            if self.cnt[i] != self.w {
                self.m2[i] = f64::NAN;
                continue;
            }
            let mean = self.sx[i].div_f64(w);
            let m2 = self.sxx[i].sub(mean.mul(self.sx[i])).value();
            self.mean[i] = mean;
            self.m2[i] = if m2 > CONSTANT_REL * self.sxx[i].hi {
                m2
            } else {
                f64::NAN
            };
        }
    }

    fn full(&self, i: usize) -> bool {
        self.cnt[i] == self.w
    }

    /// Centered co-moment Σ(x_i − x̄_i)(x_j − x̄_j) of pair p = (i, j), meaningful when both are full.
    #[inline]
    fn co_moment(&self, p: usize, i: usize, j: usize) -> f64 {
        Dd {
            hi: self.hi[p],
            lo: self.lo[p],
        }
        .sub(self.mean[i].mul(self.sx[j]))
        .value()
    }

    /// Pearson correlation of pair p = (i, j); NaN unless both windows are full and not constant.
    #[inline]
    fn corr(&self, p: usize, i: usize, j: usize) -> f64 {
        let (a, b) = (self.m2[i], self.m2[j]);
        if a.is_nan() || b.is_nan() {
            return f64::NAN;
        }
        (self.co_moment(p, i, j) / sqrt_product(a, b)).clamp(-1.0, 1.0)
    }
}

/// √(a·b) for a, b > 0; via the product when it is a normal number, so that √(a·a) = a exactly
/// (a series' correlation with itself is exactly 1).
#[inline]
fn sqrt_product(a: f64, b: f64) -> f64 {
    let d = a * b;
    if d.is_normal() {
        d.sqrt()
    } else {
        a.sqrt() * b.sqrt()
    }
}

/// Run the sliding window over the prepared T×ns data in fixed blocks of rows, in parallel;
/// `emit` writes `per_row` outputs for each row.
fn run_blocks<F>(data: &Prepared, w: usize, set: PairSet, per_row: usize, out: &mut [f64], emit: F)
where
    F: Fn(&Window, &mut [f64]) + Sync,
{
    let t_len = data.rows();
    out.par_chunks_mut(BLOCK_ROWS * per_row)
        .enumerate()
        .for_each(|(b, chunk)| {
            let t0 = b * BLOCK_ROWS;
            let t1 = (t0 + BLOCK_ROWS).min(t_len);
            let s = t0.saturating_sub(w - 1);
            let mut win = Window::new(data.ns, w, set);
            for t in s..t1 {
                let (v, p) = data.row(t);
                win.add(v, p);
                if t >= s + w {
                    let (v, p) = data.row(t - w);
                    win.remove(v, p);
                }
                if t >= t0 {
                    win.prepare();
                    emit(&win, &mut chunk[(t - t0) * per_row..(t - t0 + 1) * per_row]);
                }
            }
        });
}

fn upper_pairs(n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .collect()
}

/// Sliding Pearson correlation matrices over `window` rows: T×N×N, symmetric, diagonal 1 where
/// the asset's window is full and not constant. Entry (i, j) at t is NaN unless both assets have
/// all `window` values in t−window+1..t (full-window pairwise rule); the first possible value is
/// at row window−1.
pub fn rolling_corr_matrix(x: &[f64], n: usize, window: usize) -> Result<Vec<f64>, DataError> {
    let t_len = check_layout("returns", x.len(), n)?;
    check_window(window, 2)?;
    let data = Prepared::new(x, n);
    let mut out = vec![f64::NAN; t_len * n * n];
    run_blocks(&data, window, PairSet::Upper, n * n, &mut out, |win, m| {
        let mut p = 0;
        for i in 0..n {
            if win.m2[i].is_nan() {
                p += n - i - 1; // row and column i stay NaN
                continue;
            }
            m[i * n + i] = 1.0;
            for j in i + 1..n {
                let c = win.corr(p, i, j);
                m[i * n + j] = c;
                m[j * n + i] = c;
                p += 1;
            }
        }
    });
    Ok(out)
}

/// What to compute against a reference series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefStat {
    /// Pearson correlation of each asset with the reference.
    Corr,
    /// β = cov(asset, ref)/var(ref).
    Beta,
}

/// Sliding correlation or β of every asset with a `reference` series (length T; an asset's own
/// column for "vs BTC", or any series such as an equal-weight market return) over `window`
/// rows: T×N. Defined where both windows are full; β needs a non-constant reference window,
/// correlation both windows non-constant.
pub fn rolling_vs_reference(
    x: &[f64],
    n: usize,
    reference: &[f64],
    window: usize,
    stat: RefStat,
) -> Result<Vec<f64>, DataError> {
    let t_len = check_layout("returns", x.len(), n)?;
    if reference.len() != t_len {
        return Err(DataError::arg(format!(
            "reference has length {} but returns has {t_len} rows",
            reference.len()
        )));
    }
    check_window(window, 2)?;
    // Columns 0..n are the assets, column n the reference.
    let ns = n + 1;
    let mut joined = vec![0.0; t_len * ns];
    for t in 0..t_len {
        joined[t * ns..t * ns + n].copy_from_slice(&x[t * n..(t + 1) * n]);
        joined[t * ns + n] = reference[t];
    }
    let data = Prepared::new(&joined, ns);
    let exps = &data.exps;
    let mut out = vec![f64::NAN; t_len * n];
    run_blocks(&data, window, PairSet::WithLast, n, &mut out, |win, row| {
        for (i, v) in row.iter_mut().enumerate() {
            *v = match stat {
                RefStat::Corr => win.corr(i, i, n),
                RefStat::Beta => {
                    let vy = win.m2[n];
                    if !win.full(i) || vy.is_nan() {
                        f64::NAN
                    } else {
                        // Undo the column scaling: β = β' · 2^(e_asset − e_ref).
                        libm::scalbn(win.co_moment(i, i, n) / vy, exps[i] - exps[n])
                    }
                }
            };
        }
    });
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Statistics of the correlation matrices

const ROWS_PER_TASK: usize = 64;

/// Mean of the defined (finite) off-diagonal correlations of each row's matrix: length T.
/// NaN where no pair is defined (fewer than two assets with full windows).
pub fn avg_pairwise_corr(m: &[f64], n: usize) -> Result<Vec<f64>, DataError> {
    let t_len = check_matrices(m.len(), n)?;
    let mut out = vec![f64::NAN; t_len];
    out.par_chunks_mut(ROWS_PER_TASK)
        .enumerate()
        .for_each(|(b, chunk)| {
            for (k, o) in chunk.iter_mut().enumerate() {
                let mt = &m[(b * ROWS_PER_TASK + k) * n * n..][..n * n];
                let (mut s, mut c) = (0.0, 0usize);
                for i in 0..n {
                    for &v in &mt[i * n + i + 1..(i + 1) * n] {
                        if v.is_finite() {
                            s += v;
                            c += 1;
                        }
                    }
                }
                *o = if c > 0 { s / c as f64 } else { f64::NAN };
            }
        });
    Ok(out)
}

/// For each asset, the mean of its defined correlations to the other assets: T×N. NaN where
/// the asset has no defined correlation.
pub fn mean_corr_to_others(m: &[f64], n: usize) -> Result<Vec<f64>, DataError> {
    let t_len = check_matrices(m.len(), n)?;
    let mut out = vec![f64::NAN; t_len * n];
    out.par_chunks_mut(ROWS_PER_TASK * n)
        .enumerate()
        .for_each(|(b, chunk)| {
            for (k, row) in chunk.chunks_exact_mut(n).enumerate() {
                let mt = &m[(b * ROWS_PER_TASK + k) * n * n..][..n * n];
                for (i, o) in row.iter_mut().enumerate() {
                    let (mut s, mut c) = (0.0, 0usize);
                    for (j, &v) in mt[i * n..(i + 1) * n].iter().enumerate() {
                        if j != i && v.is_finite() {
                            s += v;
                            c += 1;
                        }
                    }
                    *o = if c > 0 { s / c as f64 } else { f64::NAN };
                }
            }
        });
    Ok(out)
}

/// Minimum number of pairs defined at both t and t−lag for `corr_stability`.
pub const MIN_STABILITY_PAIRS: usize = 3;

/// Pearson correlation between the upper triangles of the matrices at t and t−lag, over the
/// pairs defined at both (two-pass): length T. NaN for t < lag, where fewer than
/// [`MIN_STABILITY_PAIRS`] pairs are common (with two the value is trivially ±1), or where
/// either triangle is constant over those pairs.
pub fn corr_stability(m: &[f64], n: usize, lag: usize) -> Result<Vec<f64>, DataError> {
    let t_len = check_matrices(m.len(), n)?;
    if lag == 0 {
        return Err(DataError::arg(
            "Expected positive integer for lag but received 0",
        ));
    }
    let pairs = upper_pairs(n);
    let mut out = vec![f64::NAN; t_len];
    out.par_chunks_mut(ROWS_PER_TASK)
        .enumerate()
        .for_each(|(b, chunk)| {
            let mut a = Vec::with_capacity(pairs.len());
            let mut c = Vec::with_capacity(pairs.len());
            for (k, o) in chunk.iter_mut().enumerate() {
                let t = b * ROWS_PER_TASK + k;
                if t < lag {
                    continue;
                }
                let (now, then) = (&m[t * n * n..][..n * n], &m[(t - lag) * n * n..][..n * n]);
                a.clear();
                c.clear();
                for &(i, j) in &pairs {
                    let (x, y) = (now[i * n + j], then[i * n + j]);
                    if x.is_finite() && y.is_finite() {
                        a.push(x);
                        c.push(y);
                    }
                }
                *o = pearson(&a, &c, MIN_STABILITY_PAIRS);
            }
        });
    Ok(out)
}

/// Two-pass Pearson correlation of two equal-length samples; NaN below `min_len` or if either
/// sample is constant.
fn pearson(a: &[f64], b: &[f64], min_len: usize) -> f64 {
    let k = a.len();
    if k < min_len.max(2) {
        return f64::NAN;
    }
    let ma = a.iter().sum::<f64>() / k as f64;
    let mb = b.iter().sum::<f64>() / k as f64;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa <= 0.0 || sbb <= 0.0 {
        return f64::NAN;
    }
    (sab / (saa.sqrt() * sbb.sqrt())).clamp(-1.0, 1.0)
}

// ---------------------------------------------------------------------------------------------
// Cross-sectional statistics

#[inline]
fn positive(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// Cross-sectional standard deviation (ddof = 1) of ln(vol) over the assets whose vol is finite
/// and positive at each row: length T. NaN where fewer than two assets qualify.
pub fn vol_dispersion(vols: &[f64], n: usize) -> Result<Vec<f64>, DataError> {
    let t_len = check_layout("vols", vols.len(), n)?;
    let mut logs = Vec::with_capacity(n);
    Ok((0..t_len)
        .map(|t| {
            logs.clear();
            logs.extend(
                vols[t * n..(t + 1) * n]
                    .iter()
                    .filter(|v| positive(**v))
                    .map(|v| v.ln()),
            );
            let k = logs.len();
            if k < 2 {
                return f64::NAN;
            }
            let mean = logs.iter().sum::<f64>() / k as f64;
            let ss: f64 = logs.iter().map(|v| (v - mean) * (v - mean)).sum();
            (ss / (k - 1) as f64).sqrt()
        })
        .collect())
}

fn median_of(v: &mut [f64]) -> f64 {
    let k = v.len();
    if k == 0 {
        return f64::NAN;
    }
    v.sort_unstable_by(f64::total_cmp);
    if k % 2 == 1 {
        v[k / 2]
    } else {
        // The mean of the middle two, written so it cannot overflow.
        v[k / 2 - 1] / 2.0 + v[k / 2] / 2.0
    }
}

/// Cross-sectional median over the finite values at each row (the mean of the middle two for an
/// even count, as numpy and pandas): length T. NaN where no value is finite.
pub fn cross_sectional_median(x: &[f64], n: usize) -> Result<Vec<f64>, DataError> {
    let t_len = check_layout("values", x.len(), n)?;
    let mut buf = Vec::with_capacity(n);
    Ok((0..t_len)
        .map(|t| {
            buf.clear();
            buf.extend(
                x[t * n..(t + 1) * n]
                    .iter()
                    .copied()
                    .filter(|v| v.is_finite()),
            );
            median_of(&mut buf)
        })
        .collect())
}

/// ln(vol_i / median_t) with the median over the finite, positive vols of row t: T×N. NaN
/// where the asset's vol is not finite and positive.
pub fn log_ratio_to_median(vols: &[f64], n: usize) -> Result<Vec<f64>, DataError> {
    let t_len = check_layout("vols", vols.len(), n)?;
    let mut out = vec![f64::NAN; vols.len()];
    let mut buf = Vec::with_capacity(n);
    for t in 0..t_len {
        let row = &vols[t * n..(t + 1) * n];
        buf.clear();
        buf.extend(row.iter().copied().filter(|v| positive(*v)));
        let med = median_of(&mut buf);
        for (o, &v) in out[t * n..(t + 1) * n].iter_mut().zip(row) {
            if positive(v) {
                *o = (v / med).ln();
            }
        }
    }
    Ok(out)
}

/// The reference asset's share of the quote volume summed over the assets present (finite
/// volume) on each row, then its trailing mean over `window` rows (full-window rule): length T.
/// A row's share is NaN when the reference has no volume or the total is not positive.
/// SPEC B3's `btc_volume_share` (window 7) is a proxy for dominance, not market-cap dominance.
pub fn volume_share(
    qv: &[f64],
    n: usize,
    reference: usize,
    window: usize,
) -> Result<Vec<f64>, DataError> {
    let t_len = check_layout("quoteVolume", qv.len(), n)?;
    if reference >= n {
        return Err(DataError::arg(format!(
            "Expected reference between 0 and {} but received {reference}",
            n - 1
        )));
    }
    check_window(window, 1)?;
    let share: Vec<f64> = (0..t_len)
        .map(|t| {
            let row = &qv[t * n..(t + 1) * n];
            let total: f64 = row.iter().filter(|v| v.is_finite()).sum();
            let r = row[reference];
            if r.is_finite() && total > 0.0 {
                r / total
            } else {
                f64::NAN
            }
        })
        .collect();
    Ok((0..t_len)
        .map(|t| {
            if t + 1 < window {
                return f64::NAN;
            }
            // A direct sum over the window (W is small): no running state to drift.
            let w = &share[t + 1 - window..=t];
            if w.iter().any(|v| v.is_nan()) {
                f64::NAN
            } else {
                w.iter().sum::<f64>() / window as f64
            }
        })
        .collect())
}

/// Naive reference for [`rolling_corr_matrix`]: every window recomputed two-pass from the raw
/// (unscaled) inputs. For tests and benchmarks.
#[doc(hidden)]
pub fn rolling_corr_matrix_reference(x: &[f64], n: usize, window: usize) -> Vec<f64> {
    let t_len = x.len() / n;
    let mut out = vec![f64::NAN; t_len * n * n];
    let col =
        |t: usize, j: usize| -> Vec<f64> { (t + 1 - window..=t).map(|s| x[s * n + j]).collect() };
    for t in window.saturating_sub(1)..t_len {
        let cols: Vec<Option<Vec<f64>>> = (0..n)
            .map(|j| {
                let c = col(t, j);
                c.iter().all(|v| v.is_finite()).then_some(c)
            })
            .collect();
        for i in 0..n {
            for j in 0..n {
                if let (Some(a), Some(b)) = (&cols[i], &cols[j]) {
                    let v = if i == j {
                        let m = a.iter().sum::<f64>() / window as f64;
                        if a.iter().any(|&x| x != m) {
                            1.0
                        } else {
                            f64::NAN
                        }
                    } else {
                        pearson(a, b, 2)
                    };
                    out[(t * n + i) * n + j] = v;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    /// T×N returns with a common factor, NaN runs, late listings, and optionally a scale.
    fn returns(seed: u64, t_len: usize, n: usize, scale: f64) -> Vec<f64> {
        returns_with_gaps(seed, t_len, n, scale, 0.01)
    }

    fn returns_with_gaps(seed: u64, t_len: usize, n: usize, scale: f64, gap_rate: f64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let listed: Vec<usize> = (0..n)
            .map(|j| {
                if j % 3 == 2 {
                    rng.random_range(0..t_len / 2 + 1)
                } else {
                    0
                }
            })
            .collect();
        let mut gap = vec![0usize; n];
        let mut x = vec![f64::NAN; t_len * n];
        for t in 0..t_len {
            let f: f64 = StandardNormal.sample(&mut rng);
            // Volatility regimes: calm and stormy stretches, to stress the add/remove path.
            let vol = if (t / 97) % 3 == 1 { 30.0 } else { 1.0 };
            for j in 0..n {
                if gap[j] == 0 && rng.random::<f64>() < gap_rate {
                    gap[j] = rng.random_range(1..40);
                }
                if t < listed[j] || gap[j] > 0 {
                    gap[j] = gap[j].saturating_sub(1);
                    continue;
                }
                let e: f64 = StandardNormal.sample(&mut rng);
                let beta = 0.3 + 0.1 * (j % 7) as f64;
                x[t * n + j] = scale * vol * (beta * f + e) * 0.01;
            }
        }
        x
    }

    fn max_diff(a: &[f64], b: &[f64]) -> f64 {
        assert_eq!(a.len(), b.len());
        let mut worst = 0.0f64;
        for (k, (&x, &y)) in a.iter().zip(b).enumerate() {
            assert_eq!(x.is_nan(), y.is_nan(), "NaN mismatch at {k}: {x} vs {y}");
            if !x.is_nan() {
                worst = worst.max((x - y).abs());
            }
        }
        worst
    }

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

    #[test]
    fn dd_products_and_sums_are_exact_enough() {
        // Dekker's product equals the fused multiply-add residual: a·b = hi + lo exactly.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..10_000 {
            let (a, b) = (
                rng.random::<f64>() * 2.0 - 1.0,
                rng.random::<f64>() * 2.0 - 1.0,
            );
            let p = two_prod(a, b);
            assert_eq!(p.hi, a * b);
            assert_eq!(p.lo, a.mul_add(b, -(a * b)));
        }
        let mut s = Dd::ZERO;
        for _ in 0..1000 {
            s = s.add(two_prod(1e8, 1.0)).add(two_prod(1e-8, 1.0));
        }
        for _ in 0..1000 {
            s = s.sub(two_prod(1e8, 1.0));
        }
        // Errors are relative to the largest sum held (1e11): ~2000 operations × 2^−105 × 1e11.
        assert!((s.value() - 1e-5).abs() < 1e-17, "{s:?}");
        assert!(
            (Dd { hi: 1.0, lo: 0.0 }
                .div_f64(3.0)
                .mul(Dd { hi: 3.0, lo: 0.0 })
                .value()
                - 1.0)
                .abs()
                < 1e-30
        );
    }

    #[test]
    fn incremental_equals_naive() {
        let mut worst = 0.0f64;
        for (seed, n, t_len, w) in [
            (1, 1, 300, 30),
            (2, 2, 700, 30),
            (3, 13, 900, 30),
            (4, 13, 600, 7),
            (5, 64, 400, 30),
            (6, 5, 1000, 2),
            (7, 3, 50, 60),
        ] {
            let x = returns(seed, t_len, n, 1.0);
            let fast = rolling_corr_matrix(&x, n, w).unwrap();
            let slow = rolling_corr_matrix_reference(&x, n, w);
            let d = max_diff(&fast, &slow);
            assert!(d < 1e-12, "seed {seed} n {n} w {w}: {d}");
            worst = worst.max(d);
        }
        eprintln!("incremental vs naive, max |Δ| = {worst:e}");
    }

    #[test]
    fn huge_and_tiny_magnitudes() {
        let n = 13;
        let base = returns(11, 800, n, 1.0);
        let m = rolling_corr_matrix(&base, n, 30).unwrap();
        for scale in [1e150, 1e-150, 1e300, 1e-300] {
            let x: Vec<f64> = base.iter().map(|v| v * scale).collect();
            let fast = rolling_corr_matrix(&x, n, 30).unwrap();
            assert!(max_diff(&fast, &m) < 1e-13, "scale {scale}");
            if (1e-150..=1e150).contains(&scale) {
                let slow = rolling_corr_matrix_reference(&x, n, 30);
                assert!(max_diff(&fast, &slow) < 1e-12, "scale {scale} vs naive");
            }
        }
        // Power-of-two scalings are exact, so the result is bit-identical.
        let x: Vec<f64> = base.iter().map(|v| v * 2f64.powi(-900)).collect();
        assert_eq!(bits(&rolling_corr_matrix(&x, n, 30).unwrap()), bits(&m));
        // Columns on wildly different scales.
        let mixed: Vec<f64> = base
            .iter()
            .enumerate()
            .map(|(k, v)| v * 10f64.powi(((k % n) as i32 - 6) * 40))
            .collect();
        let fast = rolling_corr_matrix(&mixed, n, 30).unwrap();
        assert!(max_diff(&fast, &m) < 1e-13);
    }

    #[test]
    fn large_offsets_and_volatility_bursts() {
        // Values with a mean 1e6 times their spread, and a burst 1e6 times larger than the rest:
        // the naive sum-of-squares formula would lose everything here.
        let n = 4;
        let mut x = returns(21, 600, n, 1.0);
        for (k, v) in x.iter_mut().enumerate() {
            if (k % n) == 1 {
                *v += 1e4;
            }
            if (100..130).contains(&(k / n)) && k % n == 2 {
                *v *= 1e6;
            }
        }
        let fast = rolling_corr_matrix(&x, n, 30).unwrap();
        let slow = rolling_corr_matrix_reference(&x, n, 30);
        let d = max_diff(&fast, &slow);
        eprintln!("offset 1e6·σ and 1e6 burst: max |Δ| vs naive two-pass = {d:e}");
        assert!(d < 1e-9, "{d}"); // the naive two-pass itself is only good to ~1e-10 at this offset
    }

    #[test]
    fn thread_count_does_not_change_bits() {
        let x = returns(31, 1500, 13, 1.0);
        let a = in_pool(1, || rolling_corr_matrix(&x, 13, 30).unwrap());
        let b = in_pool(2, || rolling_corr_matrix(&x, 13, 30).unwrap());
        assert_eq!(bits(&a), bits(&b));
        let r = x.iter().step_by(13).copied().collect::<Vec<_>>();
        for stat in [RefStat::Corr, RefStat::Beta] {
            let a = in_pool(1, || rolling_vs_reference(&x, 13, &r, 30, stat).unwrap());
            let b = in_pool(2, || rolling_vs_reference(&x, 13, &r, 30, stat).unwrap());
            assert_eq!(bits(&a), bits(&b));
        }
        let a = in_pool(1, || {
            corr_stability(&rolling_corr_matrix(&x, 13, 30).unwrap(), 13, 30).unwrap()
        });
        let b = in_pool(2, || {
            corr_stability(&rolling_corr_matrix(&x, 13, 30).unwrap(), 13, 30).unwrap()
        });
        assert_eq!(bits(&a), bits(&b));
    }

    #[test]
    fn pairwise_complete_rule_and_warmup() {
        let n = 3;
        let t_len = 100;
        let mut x = returns(41, t_len, n, 1.0);
        for t in 0..t_len {
            x[t * n] = 0.01 * ((t * 7919) % 101) as f64 - 0.5;
            x[t * n + 1] = 0.02 * ((t * 104729) % 103) as f64 - 1.0;
            x[t * n + 2] = if t < 40 || t == 70 {
                f64::NAN
            } else {
                0.03 * ((t * 31) % 17) as f64
            };
        }
        let w = 10;
        let m = rolling_corr_matrix(&x, n, w).unwrap();
        let at = |t: usize, i: usize, j: usize| m[(t * n + i) * n + j];
        assert!(at(w - 2, 0, 1).is_nan() && at(w - 1, 0, 1).is_finite());
        assert_eq!(at(w - 1, 0, 0), 1.0);
        // Asset 2 lists at 40: first full window ends at 49.
        assert!(at(48, 0, 2).is_nan() && at(49, 0, 2).is_finite() && at(49, 2, 2) == 1.0);
        // One missing bar at 70 blanks its pairs for rows 70..79.
        assert!((70..80).all(|t| at(t, 1, 2).is_nan() && at(t, 2, 2).is_nan()));
        assert!(at(80, 1, 2).is_finite());
        assert!((70..80).all(|t| at(t, 0, 1).is_finite()));
        // Symmetric.
        for t in 0..t_len {
            for i in 0..n {
                for j in 0..n {
                    assert_eq!(at(t, i, j).to_bits(), at(t, j, i).to_bits());
                }
            }
        }
    }

    #[test]
    fn constant_windows_give_nan() {
        let n = 2;
        let t_len = 60;
        let mut x = vec![0.0; t_len * n];
        for t in 0..t_len {
            x[t * n] = if (20..40).contains(&t) {
                0.123
            } else {
                ((t * 37) % 11) as f64 * 0.01
            };
            x[t * n + 1] = ((t * 53) % 13) as f64 * 0.01;
        }
        let m = rolling_corr_matrix(&x, n, 10).unwrap();
        for t in 29..40 {
            assert!(m[t * 4 + 1].is_nan() && m[t * 4].is_nan(), "t {t}");
        }
        assert!(m[28 * 4 + 1].is_finite() && m[40 * 4 + 1].is_finite());
    }

    #[test]
    fn vs_reference_matches_direct_formulas() {
        let n = 5;
        let t_len = 700;
        let x = returns(51, t_len, n, 1.0);
        let w = 30;
        let (mut worst_c, mut worst_b) = (0.0f64, 0.0f64);
        for refcol in [0usize, 2] {
            let r: Vec<f64> = (0..t_len).map(|t| x[t * n + refcol]).collect();
            let c = rolling_vs_reference(&x, n, &r, w, RefStat::Corr).unwrap();
            let b = rolling_vs_reference(&x, n, &r, w, RefStat::Beta).unwrap();
            let m = rolling_corr_matrix_reference(&x, n, w);
            for t in 0..t_len {
                for j in 0..n {
                    let mc = m[(t * n + j) * n + refcol];
                    let got = c[t * n + j];
                    assert_eq!(got.is_nan(), mc.is_nan(), "t {t} j {j}");
                    if !mc.is_nan() {
                        worst_c = worst_c.max((got - mc).abs());
                        assert!((got - mc).abs() < 1e-12);
                    }
                    // β reference: two-pass cov/var.
                    let want = if t + 1 >= w {
                        let xs: Vec<f64> = (t + 1 - w..=t).map(|s| x[s * n + j]).collect();
                        let ys: Vec<f64> = (t + 1 - w..=t).map(|s| r[s]).collect();
                        if xs.iter().chain(&ys).all(|v| v.is_finite()) {
                            let (mx, my) = (
                                xs.iter().sum::<f64>() / w as f64,
                                ys.iter().sum::<f64>() / w as f64,
                            );
                            let cov: f64 =
                                xs.iter().zip(&ys).map(|(a, b)| (a - mx) * (b - my)).sum();
                            let var: f64 = ys.iter().map(|b| (b - my) * (b - my)).sum();
                            cov / var
                        } else {
                            f64::NAN
                        }
                    } else {
                        f64::NAN
                    };
                    let got = b[t * n + j];
                    assert_eq!(got.is_nan(), want.is_nan(), "beta t {t} j {j}");
                    if !want.is_nan() {
                        worst_b = worst_b.max((got - want).abs() / want.abs().max(1.0));
                        assert!(
                            (got - want).abs() < 1e-12 * want.abs().max(1.0),
                            "beta t {t} j {j}: {got} vs {want}"
                        );
                    }
                    if j == refcol && !want.is_nan() {
                        assert_eq!(got, 1.0);
                        assert_eq!(c[t * n + j], 1.0);
                    }
                }
            }
        }
        eprintln!(
            "corr to reference vs naive max |Δ| = {worst_c:e}; β vs two-pass max rel = {worst_b:e}"
        );
        // β is scale-aware: β(a·x, b·y) = (a/b)·β(x, y).
        let r: Vec<f64> = (0..t_len).map(|t| x[t * n]).collect();
        let b1 = rolling_vs_reference(&x, n, &r, w, RefStat::Beta).unwrap();
        let xs: Vec<f64> = x.iter().map(|v| v * 1e200).collect();
        let rs: Vec<f64> = r.iter().map(|v| v * 1e-100).collect();
        let b2 = rolling_vs_reference(&xs, n, &rs, w, RefStat::Beta).unwrap();
        for (p, q) in b1.iter().zip(&b2) {
            assert_eq!(p.is_nan(), q.is_nan());
            if !p.is_nan() {
                assert!((q / 1e300 - p).abs() < 1e-12 * p.abs().max(1.0));
            }
        }
        assert!(rolling_vs_reference(&x, n, &r[1..], w, RefStat::Beta).is_err());
    }

    #[test]
    fn matrix_statistics() {
        let n = 6;
        let t_len = 400;
        let x = returns_with_gaps(61, t_len, n, 1.0, 0.002);
        let m = rolling_corr_matrix(&x, n, 30).unwrap();
        let avg = avg_pairwise_corr(&m, n).unwrap();
        let mc = mean_corr_to_others(&m, n).unwrap();
        let st = corr_stability(&m, n, 30).unwrap();
        for t in 0..t_len {
            let mt = &m[t * n * n..(t + 1) * n * n];
            let upper: Vec<f64> = (0..n)
                .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
                .map(|(i, j)| mt[i * n + j])
                .filter(|v| v.is_finite())
                .collect();
            let full = (0..n).filter(|&i| mt[i * n + i] == 1.0).count();
            if full < 2 {
                assert!(avg[t].is_nan());
            } else {
                assert!((avg[t] - upper.iter().sum::<f64>() / upper.len() as f64).abs() < 1e-15);
            }
            for i in 0..n {
                let o: Vec<f64> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| mt[i * n + j])
                    .filter(|v| v.is_finite())
                    .collect();
                let want = if o.is_empty() {
                    f64::NAN
                } else {
                    o.iter().sum::<f64>() / o.len() as f64
                };
                assert!(
                    (mc[t * n + i].is_nan() && want.is_nan())
                        || (mc[t * n + i] - want).abs() < 1e-15
                );
            }
            if t < 30 + 29 {
                assert!(st[t].is_nan());
            }
        }
        // Stability: check every row against a direct evaluation.
        let (mut checked, mut good) = (0, 0);
        for t in 30..t_len {
            let (a, b): (Vec<f64>, Vec<f64>) = (0..n)
                .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
                .map(|(i, j)| (m[(t * n + i) * n + j], m[((t - 30) * n + i) * n + j]))
                .filter(|(p, q)| p.is_finite() && q.is_finite())
                .unzip();
            if a.len() < 3 {
                assert!(st[t].is_nan());
                continue;
            }
            checked += 1;
            good = t;
            assert!((st[t] - pearson(&a, &b, 3)).abs() < 1e-15);
        }
        assert!(checked > 100, "{checked}");
        // Identical matrices are perfectly stable.
        let mut same = m.clone();
        same[..n * n].copy_from_slice(&m[good * n * n..(good + 1) * n * n]);
        same[30 * n * n..31 * n * n].copy_from_slice(&m[good * n * n..(good + 1) * n * n]);
        assert!((corr_stability(&same, n, 30).unwrap()[30] - 1.0).abs() < 1e-15);
        assert!(corr_stability(&m, n, 0).is_err());
        assert!(avg_pairwise_corr(&m[1..], n).is_err());
    }

    #[test]
    fn cross_sectional_helpers() {
        let n = 4;
        let v = [
            0.5,
            0.25,
            1.0,
            f64::NAN, // three vols
            0.5,
            f64::NAN,
            f64::NAN,
            f64::NAN, // one vol
            2.0,
            4.0,
            0.0,
            8.0, // zero counts as missing
            1.0,
            2.0,
            3.0,
            4.0,
        ];
        let d = vol_dispersion(&v, n).unwrap();
        let l = [0.5f64.ln(), 0.25f64.ln(), 0.0];
        let m = l.iter().sum::<f64>() / 3.0;
        let sd = (l.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 2.0).sqrt();
        assert!((d[0] - sd).abs() < 1e-15);
        assert!(d[1].is_nan());
        let l = [2f64.ln(), 4f64.ln(), 8f64.ln()];
        assert!(
            (d[2] - 2f64.ln()).abs() < 1e-15,
            "{} vs {}",
            d[2],
            l[1] - l[0]
        );
        let med = cross_sectional_median(&v, n).unwrap();
        assert_eq!(med[0], 0.5);
        assert_eq!(med[1], 0.5);
        assert_eq!(med[2], 3.0); // finite values 2, 4, 0, 8 → (2 + 4)/2
        assert_eq!(med[3], 2.5);
        let r = log_ratio_to_median(&v, n).unwrap();
        assert_eq!(r[0], 0.0);
        assert!(
            (r[1] - 0.5f64.ln()).abs() < 1e-16 && (r[2] - 2f64.ln()).abs() < 1e-16 && r[3].is_nan()
        );
        assert!(r[10].is_nan()); // vol 0
        assert!((r[8] - 0.5f64.ln()).abs() < 1e-16); // median of 2, 4, 8 is 4
        assert!(vol_dispersion(&v[1..], n).is_err());
    }

    #[test]
    fn volume_share_rule() {
        let n = 3;
        // Day rows: ref (0) has 60 of 100, then an asset lists, then the ref is missing one day.
        let mut q = Vec::new();
        for t in 0..20 {
            let late = if t >= 5 { 100.0 } else { f64::NAN };
            let r = if t == 12 { f64::NAN } else { 60.0 };
            q.extend([r, 40.0, late]);
        }
        let s1 = volume_share(&q, n, 0, 1).unwrap();
        assert_eq!(s1[0], 0.6);
        assert_eq!(s1[5], 0.3);
        assert!(s1[12].is_nan());
        let s7 = volume_share(&q, n, 0, 7).unwrap();
        assert!(s7[..6].iter().all(|v| v.is_nan()));
        assert!((s7[6] - (5.0 * 0.6 + 2.0 * 0.3) / 7.0).abs() < 1e-15);
        assert!((12..19).all(|t| s7[t].is_nan()) && s7[19] == 0.3);
        assert!(volume_share(&q, n, 3, 7).is_err());
        assert!(volume_share(&q, n, 0, 0).is_err());
    }

    #[test]
    fn layout_errors() {
        assert!(rolling_corr_matrix(&[0.0; 10], 3, 5).is_err());
        assert!(rolling_corr_matrix(&[0.0; 130], 65, 5).is_err());
        assert!(rolling_corr_matrix(&[0.0; 10], 0, 5).is_err());
        assert!(rolling_corr_matrix(&[0.0; 10], 2, 1).is_err());
        assert!(rolling_corr_matrix(&[], 2, 30).unwrap().is_empty());
    }
}
