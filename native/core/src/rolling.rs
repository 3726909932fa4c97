//! Rolling window statistics with pandas semantics (`pandas/_libs/window/aggregations.pyx`),
//! EWM mean and std (`adjust=False`), and rolling correlation/covariance of two series.
//!
//! Every kernel is an add/remove/calc trio driven by a streaming state (`RollingStream`,
//! `PairStream`, `EwmStream`); the batch functions feed a series through the same state, so
//! batch and stream agree bit for bit. Each kernel also has a naive reference that recomputes
//! every window from scratch with the two-pass formula (`rolling_reference`, ...), used by the
//! tests, and a warm-up length (`warmup`, ...): the index of the first output that can be
//! defined when the input has no missing values.
//!
//! Missing values and `min_periods` (pandas): non-finite inputs (NaN, ±inf) are missing. They
//! occupy their row of the window but are not observations. The output at row t is NaN while
//! the window [t−len+1, t] holds fewer than `min_periods` observations (or fewer than the
//! statistic needs: `ddof+1` for var/std/cov, max(ddof+1, 2) for zscore, 3 for skew, 4 for
//! kurt, 2 for corr). For corr/cov a row is an observation only when both values are finite.
//! EWM: NaN before the first observation; a missing value repeats the previous output.
//!
//! Numerics: the moment kernels keep the power sums Σd, Σd², Σd³, Σd⁴ of d = x − K, where the
//! shift K is the window mean at the last rebuild, in TwoSum-compensated accumulators. A value
//! removed from the window subtracts exactly the terms it added (same K, same bits), so an
//! outlier leaving the window leaves no residue. The sums are rebuilt from the window (new K)
//! every `len` steps, which bounds the error independently of the series length, and at once
//! when the window mean has drifted more than 4 standard deviations from K (a level shift
//! followed by a quiet window), which bounds the cancellation in Σd² − (Σd)²/n to a factor
//! of about 17. Central moments then come from these well-conditioned sums; the variance is
//! clamped at 0, and a window whose observations are all equal is detected exactly (its
//! variance is exactly 0, its mean exactly the value). Min and max use a monotonic deque.

use crate::error::DataError;
use rayon::prelude::*;
use std::collections::VecDeque;

/// pandas returns NaN for skew and kurt when the biased second moment m2 is at or below this
/// (an absolute threshold, `calc_skew`/`calc_kurt`).
pub const MOMENT_EPS: f64 = 1e-14;

/// A rebuild is forced when (mean − K)² > DRIFT · m2, that is, |mean − K| > 4σ.
const DRIFT: f64 = 16.0;

// ------------------------------------------------------------------------------------------
// Statistics and windows

/// A statistic over a rolling window of one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stat {
    Sum,
    Mean,
    /// Variance with `ddof` (pandas default 1).
    Var,
    /// Standard deviation with `ddof`.
    Std,
    /// Bias-corrected skewness G1 = √(n(n−1))/(n−2) · m3/m2^1.5.
    Skew,
    /// Bias-corrected excess kurtosis G2 = ((n+1)·m4/m2² − 3(n−1))·(n−1)/((n−2)(n−3)).
    Kurt,
    Min,
    Max,
    /// (x_t − mean)/std over the window that ends at t (std with `ddof`).
    ZScore,
}

impl Stat {
    pub const ALL: [Stat; 9] =
        [Stat::Sum, Stat::Mean, Stat::Var, Stat::Std, Stat::Skew, Stat::Kurt, Stat::Min, Stat::Max, Stat::ZScore];

    /// The lower-case name used across the boundary ("sum", ..., "zscore").
    pub fn name(self) -> &'static str {
        match self {
            Stat::Sum => "sum",
            Stat::Mean => "mean",
            Stat::Var => "var",
            Stat::Std => "std",
            Stat::Skew => "skew",
            Stat::Kurt => "kurt",
            Stat::Min => "min",
            Stat::Max => "max",
            Stat::ZScore => "zscore",
        }
    }

    pub fn from_name(name: &str) -> Option<Stat> {
        Stat::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether `Window::ddof` matters for this statistic.
    pub fn uses_ddof(self) -> bool {
        matches!(self, Stat::Var | Stat::Std | Stat::ZScore)
    }

    /// Fewest observations for which the statistic is defined.
    pub fn min_obs(self, ddof: usize) -> usize {
        match self {
            Stat::Sum | Stat::Mean | Stat::Min | Stat::Max => 1,
            Stat::Var | Stat::Std => ddof + 1,
            // One observation has std 0 (or NaN), so its z-score is NaN.
            Stat::ZScore => (ddof + 1).max(2),
            Stat::Skew => 3,
            Stat::Kurt => 4,
        }
    }

    /// Highest power sum the statistic needs (0 for min/max).
    fn order(self) -> usize {
        match self {
            Stat::Sum | Stat::Mean => 1,
            Stat::Var | Stat::Std | Stat::ZScore => 2,
            Stat::Skew => 3,
            Stat::Kurt => 4,
            Stat::Min | Stat::Max => 0,
        }
    }
}

impl std::fmt::Display for Stat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A statistic over a rolling window of two series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairStat {
    /// Covariance with `ddof`.
    Cov,
    /// Pearson correlation (ddof cancels), clamped to [−1, 1].
    Corr,
}

impl PairStat {
    pub fn name(self) -> &'static str {
        match self {
            PairStat::Cov => "cov",
            PairStat::Corr => "corr",
        }
    }

    pub fn from_name(name: &str) -> Option<PairStat> {
        [PairStat::Cov, PairStat::Corr].into_iter().find(|s| s.name() == name)
    }

    pub fn min_obs(self, ddof: usize) -> usize {
        match self {
            PairStat::Cov => ddof + 1,
            PairStat::Corr => 2,
        }
    }
}

/// Window length in rows, the fewest observations for a defined output, and the delta
/// degrees of freedom of var/std/zscore/cov.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub len: usize,
    pub min_periods: usize,
    pub ddof: usize,
}

impl Window {
    /// pandas defaults: `min_periods` = `len`, `ddof` = 1.
    pub const fn new(len: usize) -> Self {
        Window { len, min_periods: len, ddof: 1 }
    }

    pub const fn with_min_periods(self, min_periods: usize) -> Self {
        Window { min_periods, ..self }
    }

    pub const fn with_ddof(self, ddof: usize) -> Self {
        Window { ddof, ..self }
    }

    fn check_common(self) -> Result<(), DataError> {
        if self.len == 0 {
            return Err(DataError::arg("Expected a window of at least 1 but received 0"));
        }
        if self.min_periods == 0 || self.min_periods > self.len {
            return Err(DataError::arg(format!(
                "Expected min_periods between 1 and the window ({}) but received {}",
                self.len, self.min_periods
            )));
        }
        Ok(())
    }

    fn check_needs(self, name: &str, uses_ddof: bool, needs: usize) -> Result<(), DataError> {
        if uses_ddof && self.ddof >= self.len {
            return Err(DataError::arg(format!(
                "Expected ddof below the window ({}) but received {}",
                self.len, self.ddof
            )));
        }
        if needs > self.len {
            return Err(DataError::arg(format!(
                "{name} needs a window of at least {needs} but received {}",
                self.len
            )));
        }
        Ok(())
    }

    /// Check the window for `stat`: len ≥ 1, 1 ≤ min_periods ≤ len, ddof < len where ddof is
    /// used, and a window long enough for the statistic to be defined (3 for skew, 4 for kurt).
    pub fn check(self, stat: Stat) -> Result<(), DataError> {
        self.check_common()?;
        self.check_needs(stat.name(), stat.uses_ddof(), stat.min_obs(0))
    }

    pub fn check_pair(self, stat: PairStat) -> Result<(), DataError> {
        self.check_common()?;
        self.check_needs(stat.name(), stat == PairStat::Cov, stat.min_obs(0))
    }
}

/// Index of the first output that can be defined for a series without missing values
/// (like tulipindicators' `ti_*_start`): max(min_periods, observations the stat needs) − 1.
pub fn warmup(stat: Stat, w: Window) -> usize {
    w.min_periods.max(stat.min_obs(w.ddof)).saturating_sub(1)
}

/// `warmup` for corr/cov.
pub fn pair_warmup(stat: PairStat, w: Window) -> usize {
    w.min_periods.max(stat.min_obs(w.ddof)).saturating_sub(1)
}

/// `warmup` for the EWM kernels: the mean is defined at the first value, the std at the second.
pub fn ewm_warmup(stat: EwmStat) -> usize {
    match stat {
        EwmStat::Mean => 0,
        EwmStat::Std => 1,
    }
}

/// Ring slots allocated up front; beyond this the ring grows with the data.
const RING_PREALLOC: usize = 4096;

/// Put `x` into a ring of `len` slots that fills by pushing, then cycles through `slot`; returns
/// the value it replaces (NaN while the ring is filling).
#[inline(always)]
fn ring_push(ring: &mut Vec<f64>, slot: &mut usize, len: usize, x: f64) -> f64 {
    if ring.len() < len {
        ring.push(x);
        return f64::NAN;
    }
    let old = std::mem::replace(&mut ring[*slot], x);
    *slot = if *slot + 1 == len { 0 } else { *slot + 1 };
    old
}

#[inline(always)]
fn clean(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        f64::NAN
    }
}

// ------------------------------------------------------------------------------------------
// Compensated accumulator

/// A sum kept as hi + lo with TwoSum (Knuth): `lo` collects the exact rounding error of every
/// addition, so adding and later subtracting the same terms returns to the small sum.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    hi: f64,
    lo: f64,
}

impl Acc {
    #[inline(always)]
    fn add(&mut self, v: f64) {
        let s = self.hi + v;
        let bv = s - self.hi;
        let err = (self.hi - (s - bv)) + (v - bv);
        self.hi = s;
        self.lo += err;
    }

    #[inline(always)]
    fn value(&self) -> f64 {
        self.hi + self.lo
    }
}

/// Consecutive equal observations, newest last (pandas' `num_consecutive_same_value`). The
/// window is constant when `run >= nobs`.
#[derive(Debug, Clone, Copy)]
struct Run {
    run: usize,
    last: f64,
}

impl Run {
    const fn new() -> Self {
        Run { run: 0, last: f64::NAN }
    }

    #[inline(always)]
    fn push(&mut self, x: f64) {
        if x == self.last {
            self.run += 1;
        } else {
            self.run = 1;
            self.last = x;
        }
    }
}

// ------------------------------------------------------------------------------------------
// Moment kernels: sum, mean, var, std, skew, kurt, zscore

#[derive(Debug, Clone)]
struct Moments {
    /// Highest power summed (1..=4).
    order: usize,
    /// The shift K; stays 0 for sum and mean (order 1).
    shift: f64,
    nobs: usize,
    /// Σd, Σd², Σd³, Σd⁴ with d = x − K.
    s: [Acc; 4],
    run: Run,
}

impl Moments {
    fn new(order: usize) -> Self {
        Moments { order, shift: 0.0, nobs: 0, s: [Acc::default(); 4], run: Run::new() }
    }

    #[inline(always)]
    fn terms(&mut self, x: f64, sign: f64) {
        let d = x - self.shift;
        self.s[0].add(sign * d);
        if self.order >= 2 {
            let d2 = d * d;
            self.s[1].add(sign * d2);
            if self.order >= 3 {
                self.s[2].add(sign * (d2 * d));
                if self.order >= 4 {
                    self.s[3].add(sign * (d2 * d2));
                }
            }
        }
    }

    /// Add a finite observation.
    #[inline(always)]
    fn add(&mut self, x: f64) {
        if self.nobs == 0 && self.order >= 2 {
            self.shift = x; // the sums are all 0 here, so the shift can move for free
        }
        self.nobs += 1;
        self.run.push(x);
        self.terms(x, 1.0);
    }

    /// Remove a finite observation added earlier (with the same shift).
    #[inline(always)]
    fn remove(&mut self, x: f64) {
        self.nobs -= 1;
        if self.nobs == 0 {
            self.s = [Acc::default(); 4];
        } else {
            self.terms(x, -1.0);
        }
    }

    /// Recompute the sums from the window's observations, re-anchoring K at their mean.
    fn rebuild(&mut self, window: &[f64]) {
        let (mut n, mut total) = (0usize, 0.0);
        for &x in window.iter().filter(|x| x.is_finite()) {
            n += 1;
            total += x;
        }
        if self.order >= 2 && n > 0 {
            self.shift = total / n as f64;
        }
        self.s = [Acc::default(); 4];
        for &x in window.iter().filter(|x| x.is_finite()) {
            self.terms(x, 1.0);
        }
    }

    fn constant(&self) -> bool {
        self.run.run >= self.nobs
    }

    /// Centred sum of squares Σ(x − mean)², clamped at 0 (exactly 0 for a constant window).
    #[inline(always)]
    fn ssq(&self, a: f64) -> f64 {
        if self.constant() {
            0.0
        } else {
            (self.s[1].value() - self.s[0].value() * a).max(0.0)
        }
    }

    /// Whether the window mean sits more than 4σ away from the shift: (Σd/n)² > 16·m2, that is
    /// (1+16)(Σd)² > 16·n·Σd² (no division; true when rounding left m2 ≤ 0).
    #[inline(always)]
    fn drifted(&self) -> bool {
        if self.order < 2 || self.nobs < 2 || self.constant() {
            return false;
        }
        let (s1, s2) = (self.s[0].value(), self.s[1].value());
        (DRIFT + 1.0) * (s1 * s1) > DRIFT * (self.nobs as f64) * s2
    }

    fn calc(&self, stat: Stat, w: &Window, newest: f64) -> f64 {
        let n = self.nobs;
        if n < w.min_periods.max(stat.min_obs(w.ddof)) {
            return f64::NAN;
        }
        let nf = n as f64;
        match stat {
            Stat::Sum if self.constant() => self.run.last * nf,
            Stat::Sum => self.s[0].value(),
            Stat::Mean if self.constant() => self.run.last,
            Stat::Mean => self.s[0].value() / nf,
            _ => {
                let a = self.s[0].value() / nf; // mean − K
                let ssq = self.ssq(a);
                match stat {
                    Stat::Var => ssq / (nf - w.ddof as f64),
                    Stat::Std => (ssq / (nf - w.ddof as f64)).sqrt(),
                    Stat::ZScore => {
                        let sd = (ssq / (nf - w.ddof as f64)).sqrt();
                        if !newest.is_finite() || sd == 0.0 {
                            f64::NAN
                        } else {
                            ((newest - self.shift) - a) / sd
                        }
                    }
                    Stat::Skew | Stat::Kurt => {
                        let b = ssq / nf; // m2
                        if b <= MOMENT_EPS {
                            return f64::NAN;
                        }
                        let c = self.s[2].value() / nf - a * a * a - 3.0 * a * b; // m3
                        if stat == Stat::Skew {
                            let r = b.sqrt();
                            return ((nf * (nf - 1.0)).sqrt() * c) / ((nf - 2.0) * r * r * r);
                        }
                        let d = self.s[3].value() / nf - a * a * a * a - 6.0 * b * a * a - 4.0 * c * a; // m4
                        let k = (nf * nf - 1.0) * d / (b * b) - 3.0 * ((nf - 1.0) * (nf - 1.0));
                        k / ((nf - 2.0) * (nf - 3.0))
                    }
                    Stat::Sum | Stat::Mean | Stat::Min | Stat::Max => unreachable!(),
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Min and max: monotonic deque of (row, value), O(1) amortized

#[derive(Debug, Clone)]
struct Extreme {
    is_max: bool,
    q: VecDeque<(u64, f64)>,
    nobs: usize,
}

impl Extreme {
    fn new(is_max: bool, len: usize) -> Self {
        Extreme { is_max, q: VecDeque::with_capacity(len.min(1 << 16)), nobs: 0 }
    }

    #[inline(always)]
    fn add(&mut self, row: u64, x: f64) {
        self.nobs += 1;
        while let Some(&(_, b)) = self.q.back() {
            if (self.is_max && x >= b) || (!self.is_max && x <= b) {
                self.q.pop_back();
            } else {
                break;
            }
        }
        self.q.push_back((row, x));
    }

    /// Remove the observation of `row` (the oldest in the window).
    #[inline(always)]
    fn remove(&mut self, row: u64) {
        self.nobs -= 1;
        while let Some(&(r, _)) = self.q.front() {
            if r <= row {
                self.q.pop_front();
            } else {
                break;
            }
        }
    }

    fn calc(&self, w: &Window) -> f64 {
        match self.q.front() {
            Some(&(_, v)) if self.nobs >= w.min_periods => v,
            _ => f64::NAN,
        }
    }
}

// ------------------------------------------------------------------------------------------
// Streaming twin of `rolling`

#[derive(Debug, Clone)]
enum Kernel {
    Moments(Moments),
    Extreme(Extreme),
}

/// One rolling statistic fed one bar at a time (for live use). `update` returns the value of
/// the window that ends at the new bar; feeding a whole series gives `rolling` bit for bit.
#[derive(Debug, Clone)]
pub struct RollingStream {
    stat: Stat,
    w: Window,
    /// The last `len` inputs (missing as NaN). It grows to `len` as bars arrive (so a huge
    /// window over a short series allocates only what it uses); once full, the next bar
    /// replaces `ring[slot]`, the oldest.
    ring: Vec<f64>,
    slot: usize,
    /// Bars seen.
    row: u64,
    since_rebuild: usize,
    kernel: Kernel,
}

impl RollingStream {
    pub fn new(stat: Stat, w: Window) -> Result<Self, DataError> {
        w.check(stat)?;
        let kernel = match stat {
            Stat::Min => Kernel::Extreme(Extreme::new(false, w.len)),
            Stat::Max => Kernel::Extreme(Extreme::new(true, w.len)),
            _ => Kernel::Moments(Moments::new(stat.order())),
        };
        Ok(RollingStream { stat, w, ring: Vec::with_capacity(w.len.min(RING_PREALLOC)), slot: 0, row: 0, since_rebuild: 0, kernel })
    }

    pub fn stat(&self) -> Stat {
        self.stat
    }

    pub fn window(&self) -> Window {
        self.w
    }

    /// Observations (finite values) in the current window.
    pub fn nobs(&self) -> usize {
        match &self.kernel {
            Kernel::Moments(m) => m.nobs,
            Kernel::Extreme(e) => e.nobs,
        }
    }

    /// Forget every value seen.
    pub fn reset(&mut self) {
        *self = RollingStream::new(self.stat, self.w).expect("window was checked");
    }

    /// Add the next bar and return the statistic of the window ending at it.
    pub fn update(&mut self, x: f64) -> f64 {
        let x = clean(x);
        let len = self.w.len;
        let old = ring_push(&mut self.ring, &mut self.slot, len, x);
        let row = self.row;
        self.row += 1;
        match &mut self.kernel {
            Kernel::Moments(m) => {
                if old.is_finite() {
                    m.remove(old);
                }
                if x.is_finite() {
                    m.add(x);
                }
                self.since_rebuild += 1;
                if self.since_rebuild >= len || m.drifted() {
                    m.rebuild(&self.ring);
                    self.since_rebuild = 0;
                }
                m.calc(self.stat, &self.w, x)
            }
            Kernel::Extreme(e) => {
                if old.is_finite() {
                    e.remove(row - len as u64);
                }
                if x.is_finite() {
                    e.add(row, x);
                }
                e.calc(&self.w)
            }
        }
    }
}

fn run_stream(x: &[f64], mut s: RollingStream) -> Vec<f64> {
    x.iter().map(|&v| s.update(v)).collect()
}

/// The rolling statistic of `x` (one output per row, NaN where undefined).
pub fn rolling(x: &[f64], stat: Stat, w: Window) -> Result<Vec<f64>, DataError> {
    Ok(run_stream(x, RollingStream::new(stat, w)?))
}

/// `rolling` for many series at once, one rayon task per series. The series are independent,
/// so the result does not depend on the number of threads.
pub fn rolling_many<S: AsRef<[f64]> + Sync>(xs: &[S], stat: Stat, w: Window) -> Result<Vec<Vec<f64>>, DataError> {
    let proto = RollingStream::new(stat, w)?;
    Ok(xs.par_iter().map(|x| run_stream(x.as_ref(), proto.clone())).collect())
}

/// Naive reference for `rolling`: every window recomputed from scratch with the two-pass
/// formula (mean first, then the central moments, both over the values minus the window's
/// first value). O(n·len); for tests. Expects a valid window.
pub fn rolling_reference(x: &[f64], stat: Stat, w: Window) -> Vec<f64> {
    (0..x.len())
        .map(|t| {
            let lo = (t + 1).saturating_sub(w.len);
            let v: Vec<f64> = x[lo..=t].iter().copied().filter(|v| v.is_finite()).collect();
            reference_one(&v, stat, w, clean(x[t]))
        })
        .collect()
}

fn reference_one(v: &[f64], stat: Stat, w: Window, newest: f64) -> f64 {
    let n = v.len();
    if n < w.min_periods.max(stat.min_obs(w.ddof)) {
        return f64::NAN;
    }
    let nf = n as f64;
    match stat {
        Stat::Min => return v.iter().copied().fold(f64::INFINITY, f64::min),
        Stat::Max => return v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Stat::Sum => return v.iter().sum(),
        _ => {}
    }
    // Two passes over d = v − v[0] (exact for nearby values), so the mean keeps its low bits
    // for prices of 1e5 with tiny moves. A window of equal values has variance exactly 0.
    let k = v[0];
    let constant = v.iter().all(|&u| u == k);
    let d: Vec<f64> = v.iter().map(|&u| u - k).collect();
    let md = if constant { 0.0 } else { d.iter().sum::<f64>() / nf };
    let m = |p: i32| if constant { 0.0 } else { d.iter().map(|&u| (u - md).powi(p)).sum::<f64>() };
    let var = m(2) / (nf - w.ddof as f64);
    match stat {
        Stat::Mean => k + md,
        Stat::Var => var,
        Stat::Std => var.sqrt(),
        Stat::ZScore if !newest.is_finite() || var == 0.0 => f64::NAN,
        Stat::ZScore => ((newest - k) - md) / var.sqrt(),
        Stat::Skew | Stat::Kurt => {
            let m2 = m(2) / nf;
            if m2 <= MOMENT_EPS {
                return f64::NAN;
            }
            if stat == Stat::Skew {
                let m3 = m(3) / nf;
                (nf * (nf - 1.0)).sqrt() / (nf - 2.0) * m3 / m2.powf(1.5)
            } else {
                let m4 = m(4) / nf;
                ((nf + 1.0) * m4 / (m2 * m2) - 3.0 * (nf - 1.0)) * (nf - 1.0) / ((nf - 2.0) * (nf - 3.0))
            }
        }
        Stat::Sum | Stat::Min | Stat::Max => unreachable!(),
    }
}

// ------------------------------------------------------------------------------------------
// Correlation and covariance of two series

#[derive(Debug, Clone)]
struct CoMoments {
    nobs: usize,
    kx: f64,
    ky: f64,
    /// Σdx, Σdy, Σdx², Σdy², Σdx·dy with dx = x − Kx, dy = y − Ky.
    s: [Acc; 5],
    run_x: Run,
    run_y: Run,
}

impl CoMoments {
    fn new() -> Self {
        CoMoments { nobs: 0, kx: 0.0, ky: 0.0, s: [Acc::default(); 5], run_x: Run::new(), run_y: Run::new() }
    }

    #[inline(always)]
    fn terms(&mut self, x: f64, y: f64, sign: f64) {
        let (dx, dy) = (x - self.kx, y - self.ky);
        self.s[0].add(sign * dx);
        self.s[1].add(sign * dy);
        self.s[2].add(sign * (dx * dx));
        self.s[3].add(sign * (dy * dy));
        self.s[4].add(sign * (dx * dy));
    }

    #[inline(always)]
    fn add(&mut self, x: f64, y: f64) {
        if self.nobs == 0 {
            (self.kx, self.ky) = (x, y);
        }
        self.nobs += 1;
        self.run_x.push(x);
        self.run_y.push(y);
        self.terms(x, y, 1.0);
    }

    #[inline(always)]
    fn remove(&mut self, x: f64, y: f64) {
        self.nobs -= 1;
        if self.nobs == 0 {
            self.s = [Acc::default(); 5];
        } else {
            self.terms(x, y, -1.0);
        }
    }

    fn rebuild(&mut self, xs: &[f64], ys: &[f64]) {
        let (mut n, mut tx, mut ty) = (0usize, 0.0, 0.0);
        for (&x, &y) in xs.iter().zip(ys).filter(|(x, _)| x.is_finite()) {
            n += 1;
            tx += x;
            ty += y;
        }
        if n > 0 {
            self.kx = tx / n as f64;
            self.ky = ty / n as f64;
        }
        self.s = [Acc::default(); 5];
        for (&x, &y) in xs.iter().zip(ys).filter(|(x, _)| x.is_finite()) {
            self.terms(x, y, 1.0);
        }
    }

    /// (mean_x − Kx, mean_y − Ky, Σ(x−x̄)², Σ(y−ȳ)², Σ(x−x̄)(y−ȳ)); squares clamped at 0 and
    /// exactly 0 for a constant series.
    fn centred(&self) -> (f64, f64, f64, f64, f64) {
        let n = self.nobs as f64;
        let (sx, sy) = (self.s[0].value(), self.s[1].value());
        let (ax, ay) = (sx / n, sy / n);
        let const_x = self.run_x.run >= self.nobs;
        let const_y = self.run_y.run >= self.nobs;
        let cxx = if const_x { 0.0 } else { (self.s[2].value() - sx * ax).max(0.0) };
        let cyy = if const_y { 0.0 } else { (self.s[3].value() - sy * ay).max(0.0) };
        let cxy = if const_x || const_y { 0.0 } else { self.s[4].value() - sx * ay };
        (ax, ay, cxx, cyy, cxy)
    }

    fn drifted(&self) -> bool {
        if self.nobs < 2 {
            return false;
        }
        // As `Moments::drifted`, per side; a constant side is handled exactly by `centred`.
        let n = self.nobs as f64;
        let far = |s1: f64, s2: f64| (DRIFT + 1.0) * (s1 * s1) > DRIFT * n * s2;
        (self.run_x.run < self.nobs && far(self.s[0].value(), self.s[2].value()))
            || (self.run_y.run < self.nobs && far(self.s[1].value(), self.s[3].value()))
    }

    fn calc(&self, stat: PairStat, w: &Window) -> f64 {
        let n = self.nobs;
        if n < w.min_periods.max(stat.min_obs(w.ddof)) {
            return f64::NAN;
        }
        let (_, _, cxx, cyy, cxy) = self.centred();
        match stat {
            PairStat::Cov => cxy / (n as f64 - w.ddof as f64),
            PairStat::Corr if cxx > 0.0 && cyy > 0.0 => (cxy / (cxx.sqrt() * cyy.sqrt())).clamp(-1.0, 1.0),
            PairStat::Corr => f64::NAN,
        }
    }
}

/// Rolling corr or cov of two series fed one pair of bars at a time.
#[derive(Debug, Clone)]
pub struct PairStream {
    stat: PairStat,
    w: Window,
    ring_x: Vec<f64>,
    ring_y: Vec<f64>,
    slot: usize,
    since_rebuild: usize,
    m: CoMoments,
}

impl PairStream {
    pub fn new(stat: PairStat, w: Window) -> Result<Self, DataError> {
        w.check_pair(stat)?;
        Ok(PairStream {
            stat,
            w,
            ring_x: Vec::with_capacity(w.len.min(RING_PREALLOC)),
            ring_y: Vec::with_capacity(w.len.min(RING_PREALLOC)),
            slot: 0,
            since_rebuild: 0,
            m: CoMoments::new(),
        })
    }

    pub fn reset(&mut self) {
        *self = PairStream::new(self.stat, self.w).expect("window was checked");
    }

    /// Add the next pair; a pair with a missing side is missing as a whole.
    pub fn update(&mut self, x: f64, y: f64) -> f64 {
        let (x, y) = if x.is_finite() && y.is_finite() { (x, y) } else { (f64::NAN, f64::NAN) };
        let mut slot = self.slot;
        let ox = ring_push(&mut self.ring_x, &mut slot, self.w.len, x);
        let oy = ring_push(&mut self.ring_y, &mut self.slot, self.w.len, y);
        if ox.is_finite() {
            self.m.remove(ox, oy);
        }
        if x.is_finite() {
            self.m.add(x, y);
        }
        self.since_rebuild += 1;
        if self.since_rebuild >= self.w.len || self.m.drifted() {
            self.m.rebuild(&self.ring_x, &self.ring_y);
            self.since_rebuild = 0;
        }
        self.m.calc(self.stat, &self.w)
    }
}

fn check_lengths(x: &[f64], y: &[f64]) -> Result<(), DataError> {
    if x.len() != y.len() {
        return Err(DataError::arg(format!(
            "Expected series of equal length but received {} and {}",
            x.len(),
            y.len()
        )));
    }
    Ok(())
}

/// Rolling covariance or correlation of `x` and `y` (equal lengths, rows aligned).
pub fn rolling_pair(x: &[f64], y: &[f64], stat: PairStat, w: Window) -> Result<Vec<f64>, DataError> {
    check_lengths(x, y)?;
    let mut s = PairStream::new(stat, w)?;
    Ok(x.iter().zip(y).map(|(&a, &b)| s.update(a, b)).collect())
}

/// Rolling Pearson correlation (pandas `x.rolling(len).corr(y)`).
pub fn rolling_corr(x: &[f64], y: &[f64], w: Window) -> Result<Vec<f64>, DataError> {
    rolling_pair(x, y, PairStat::Corr, w)
}

/// Rolling covariance with `w.ddof` (pandas `x.rolling(len).cov(y)`).
pub fn rolling_cov(x: &[f64], y: &[f64], w: Window) -> Result<Vec<f64>, DataError> {
    rolling_pair(x, y, PairStat::Cov, w)
}

/// Naive two-pass reference for `rolling_pair`. Expects equal lengths and a valid window.
pub fn rolling_pair_reference(x: &[f64], y: &[f64], stat: PairStat, w: Window) -> Vec<f64> {
    (0..x.len())
        .map(|t| {
            let lo = (t + 1).saturating_sub(w.len);
            let v: Vec<(f64, f64)> =
                (lo..=t).map(|i| (x[i], y[i])).filter(|(a, b)| a.is_finite() && b.is_finite()).collect();
            let n = v.len();
            if n < w.min_periods.max(stat.min_obs(w.ddof)) {
                return f64::NAN;
            }
            let nf = n as f64;
            let const_x = v.iter().all(|p| p.0 == v[0].0);
            let const_y = v.iter().all(|p| p.1 == v[0].1);
            // Two passes over the values minus the first pair (see `rolling_reference`).
            let v: Vec<(f64, f64)> = v.iter().map(|p| (p.0 - v[0].0, p.1 - v[0].1)).collect();
            let mx = v.iter().map(|p| p.0).sum::<f64>() / nf;
            let my = v.iter().map(|p| p.1).sum::<f64>() / nf;
            let cxy = if const_x || const_y { 0.0 } else { v.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() };
            match stat {
                PairStat::Cov => cxy / (nf - w.ddof as f64),
                PairStat::Corr if const_x || const_y => f64::NAN,
                PairStat::Corr => {
                    let cxx = v.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum::<f64>();
                    let cyy = v.iter().map(|p| (p.1 - my) * (p.1 - my)).sum::<f64>();
                    (cxy / (cxx.sqrt() * cyy.sqrt())).clamp(-1.0, 1.0)
                }
            }
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// Exponentially weighted mean and std (pandas adjust=False, ignore_na=False, bias=False)

/// An exponentially weighted statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EwmStat {
    Mean,
    /// Bias-corrected std: √(v/(1 − Σw²)) with normalised weights; NaN at the first value.
    Std,
}

impl EwmStat {
    pub fn name(self) -> &'static str {
        match self {
            EwmStat::Mean => "mean",
            EwmStat::Std => "std",
        }
    }

    pub fn from_name(name: &str) -> Option<EwmStat> {
        [EwmStat::Mean, EwmStat::Std].into_iter().find(|s| s.name() == name)
    }
}

fn check_alpha(alpha: f64) -> Result<(), DataError> {
    if !(alpha > 0.0 && alpha <= 1.0) {
        return Err(DataError::arg(format!("Expected alpha in (0, 1] but received {alpha}")));
    }
    Ok(())
}

/// EWM mean or std fed one bar at a time: pandas' `ewma`/`ewmcov` recursion with adjust=False,
/// ignore_na=False, bias=False. With no missing values
/// m_t = (1−α)m_{t−1} + α x_t, v_t = (1−α)(v_{t−1} + (m_{t−1}−m_t)²) + α(x_t−m_t)²,
/// s2_t = (1−α)²s2_{t−1} + α² (s2_1 = 1) and std_t = √(v_t/(1−s2_t)).
/// A missing value decays the old weight by (1−α) and repeats the previous output.
///
/// The same recursion in a better-conditioned form, with g the decayed weight of the past
/// (1−α without a gap) and D = x − m_{t−1}:
/// - m_t = m_{t−1} + αD/(g+α) = x_t − gD/(g+α), stepping from m_{t−1} or from x_t, whichever
///   is nearer, with the sum compensated (the mean is kept as hi + lo): its rounding does not
///   accumulate over a long span on prices of 1e5, nor survive a jump after a long gap;
/// - v_t = g(v_{t−1} + αD²/(g+α))/(g+α), where pandas' x_t − m_t = gD/(g+α) would cancel when
///   g is tiny (after a long gap);
/// - q_t = 1 − s2_t by its own recursion q_t = (g²q_{t−1} + 2gα)/(g+α)², all terms positive,
///   where 1 − s2 would cancel.
#[derive(Debug, Clone)]
pub struct EwmStream {
    stat: EwmStat,
    alpha: f64,
    /// The mean as hi + lo; hi is NaN until the first observation.
    mean: Acc,
    /// Biased weighted variance v.
    var: f64,
    /// 1 − Σw² over the normalised weights.
    q: f64,
    /// Weight of the past (normalised to 1 at the last observation), decayed per row since.
    old_wt: f64,
}

impl EwmStream {
    pub fn new(stat: EwmStat, alpha: f64) -> Result<Self, DataError> {
        check_alpha(alpha)?;
        Ok(EwmStream { stat, alpha, mean: Acc { hi: f64::NAN, lo: 0.0 }, var: 0.0, q: 0.0, old_wt: 1.0 })
    }

    pub fn reset(&mut self) {
        *self = EwmStream::new(self.stat, self.alpha).expect("alpha was checked");
    }

    pub fn update(&mut self, x: f64) -> f64 {
        let a = self.alpha;
        if self.mean.hi.is_nan() {
            if x.is_finite() {
                self.mean = Acc { hi: x, lo: 0.0 };
            }
        } else {
            let g = self.old_wt * (1.0 - a);
            self.old_wt = g;
            if x.is_finite() {
                let d = (x - self.mean.hi) - self.mean.lo;
                let s = g + a;
                // m + αD/s = x − gD/s: step from whichever end is nearer, so the rounding of
                // the step is ε·min(α, g)·|D| (a jump after a long gap moves the mean to x
                // almost exactly). D = 0 leaves the mean alone, as pandas does.
                if g < a {
                    self.mean = Acc { hi: x, lo: 0.0 };
                    self.mean.add(-(g * d / s));
                } else {
                    self.mean.add(a * d / s);
                }
                if self.stat == EwmStat::Std {
                    self.var = g * (self.var + a * (d * d) / s) / s;
                    self.q = (g * g * self.q + 2.0 * g * a) / (s * s);
                }
                self.old_wt = 1.0;
            }
        }
        match self.stat {
            EwmStat::Mean => self.mean.value(),
            EwmStat::Std if self.q > 0.0 => (self.var / self.q).sqrt(),
            EwmStat::Std => f64::NAN,
        }
    }
}

/// EWM mean or std of `x` with smoothing factor `alpha` in (0, 1].
pub fn ewm(x: &[f64], stat: EwmStat, alpha: f64) -> Result<Vec<f64>, DataError> {
    let mut s = EwmStream::new(stat, alpha)?;
    Ok(x.iter().map(|&v| s.update(v)).collect())
}

/// pandas `x.ewm(alpha=alpha, adjust=False).mean()`.
pub fn ewm_mean(x: &[f64], alpha: f64) -> Result<Vec<f64>, DataError> {
    ewm(x, EwmStat::Mean, alpha)
}

/// pandas `x.ewm(alpha=alpha, adjust=False).std()` (bias-corrected).
pub fn ewm_std(x: &[f64], alpha: f64) -> Result<Vec<f64>, DataError> {
    ewm(x, EwmStat::Std, alpha)
}

/// Naive reference for `ewm`: the explicit weight of every past observation, recomputed at
/// every observation (O(n²)). Weights are kept unnormalised: each row decays them
/// all by (1−α), and an observation enters with weight α times the total weight before the
/// decay (the first with weight 1), which is pandas' adjust=False weighting. With W = Σw and
/// deviations from the newest value: mean = Σwx/W, v = Σw(x−mean)²/W, 1 − Σ(w/W)² = Σ_i w_i·(Σ_{j≠i} w_j)/W²,
/// std = √(v/(1 − Σ(w/W)²)). A row without observation repeats the previous output.
/// Expects a valid alpha.
pub fn ewm_reference(x: &[f64], stat: EwmStat, alpha: f64) -> Vec<f64> {
    let mut obs: Vec<(f64, f64)> = Vec::new(); // (weight, value)
    let mut rows = 0; // rows since the last observation
    let mut last = f64::NAN;
    x.iter()
        .map(|&v| {
            rows += 1;
            if !v.is_finite() {
                return last; // every weight decays alike: the output does not change
            }
            let before: f64 = obs.iter().map(|o| o.0).sum();
            for o in obs.iter_mut() {
                for _ in 0..rows {
                    o.0 *= 1.0 - alpha;
                }
            }
            rows = 0;
            obs.push((if obs.is_empty() { 1.0 } else { alpha * before }, v));
            let total: f64 = obs.iter().map(|o| o.0).sum();
            // Deviations from the newest value: right after a long gap it carries nearly all
            // the weight, and the mean's rounding would otherwise swamp the variance.
            let md = obs.iter().map(|o| o.0 * (o.1 - v)).sum::<f64>() / total;
            last = match stat {
                EwmStat::Mean => v + md,
                EwmStat::Std => {
                    let var = obs.iter().map(|o| o.0 * ((o.1 - v) - md).powi(2)).sum::<f64>() / total;
                    // Σ_i w_i·Σ_{j≠i} w_j with the sum of the others from prefix and suffix sums.
                    let mut suffix = vec![0.0; obs.len() + 1];
                    for i in (0..obs.len()).rev() {
                        suffix[i] = suffix[i + 1] + obs[i].0;
                    }
                    let (mut prefix, mut cross) = (0.0, 0.0);
                    for (i, o) in obs.iter().enumerate() {
                        cross += o.0 * (prefix + suffix[i + 1]);
                        prefix += o.0;
                    }
                    let q = cross / (total * total);
                    if q > 0.0 {
                        (var / q).sqrt()
                    } else {
                        f64::NAN
                    }
                }
            };
            last
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal, StudentT};

    const EPS: f64 = f64::EPSILON;

    fn z(rng: &mut ChaCha8Rng) -> f64 {
        StandardNormal.sample(rng)
    }

    /// Test series. kind 0: N(0, s²) with s in 1e-3..1e3; 1: prices around 1e5 with relative
    /// moves 1e-6..1e-2; 2: Student-t(3) returns with 2% outliers ×1000; 3: integers 0..2 (ties,
    /// constant windows); 4: level shifts of ~1e3 on 1e5 with noise 1e-3. Then missing values
    /// (NaN, sometimes +inf) with probability `nan_p`, a fifth of them as runs of up to 50.
    pub(crate) fn series(kind: u8, n: usize, seed: u64, nan_p: f64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(n);
        match kind {
            0 => {
                let s = 10f64.powf(rng.random_range(-3.0..3.0));
                out.extend((0..n).map(|_| s * z(&mut rng)));
            }
            1 => {
                let vol = 10f64.powf(rng.random_range(-6.0..-2.0));
                let mut p = 1e5;
                for _ in 0..n {
                    p *= (vol * z(&mut rng)).exp();
                    out.push(p);
                }
            }
            2 => {
                let t = StudentT::new(3.0).unwrap();
                for _ in 0..n {
                    let v: f64 = 1e-2 * t.sample(&mut rng);
                    out.push(if rng.random::<f64>() < 0.02 { v * 1e3 } else { v });
                }
            }
            3 => out.extend((0..n).map(|_| rng.random_range(0..3) as f64)),
            _ => {
                let mut level = 1e5;
                for _ in 0..n {
                    if rng.random::<f64>() < 0.07 {
                        level += 1e3 * z(&mut rng);
                    }
                    out.push(level + 1e-3 * z(&mut rng));
                }
            }
        }
        let mut i = 0;
        while i < n {
            if rng.random::<f64>() < nan_p {
                let run = if rng.random::<f64>() < 0.2 { rng.random_range(1..50) } else { 1 };
                for v in out.iter_mut().skip(i).take(run) {
                    *v = if rng.random::<f64>() < 0.1 { f64::INFINITY } else { f64::NAN };
                }
                i += run;
            } else {
                i += 1;
            }
        }
        out
    }

    fn same_bits(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    }

    fn window_obs(x: &[f64], t: usize, len: usize) -> Vec<f64> {
        x[(t + 1).saturating_sub(len)..=t].iter().copied().filter(|v| v.is_finite()).collect()
    }

    /// Kernel vs two-pass reference. NaN positions must be identical. Tolerances:
    /// - sum, mean: 4nε·Σ|x| and 4nε·max|x| (the reference sums naively, (n−1)ε·Σ|x|);
    /// - min, max: exact;
    /// - var, std: 1e-12 relative. Both sides are within ~20ε·(1 + (mean−K)²/m2) ≤ ~400ε
    ///   (the kernel re-anchors K when (mean−K)² > 16·m2; the reference's shift is exact);
    /// - zscore: 1e-12·(1 + |z|);
    /// - skew 1e-10·(1 + |skew|), kurt 1e-9·(1 + |kurt|): third and fourth powers amplify the
    ///   rounding of the centred sums by up to (1 + 4)^p; measured maxima are ~1e-13 and ~1e-12.
    fn compare(x: &[f64], stat: Stat, w: Window, fast: &[f64], reference: &[f64]) -> Result<(), String> {
        for t in 0..x.len() {
            let (a, b) = (fast[t], reference[t]);
            if a.is_nan() || b.is_nan() {
                if a.is_nan() != b.is_nan() {
                    return Err(format!("row {t}: {stat} {a} but reference {b} ({w:?})"));
                }
                continue;
            }
            let v = window_obs(x, t, w.len);
            let n = v.len() as f64;
            let tol = match stat {
                Stat::Sum => 4.0 * n * EPS * v.iter().map(|u| u.abs()).sum::<f64>(),
                Stat::Mean => 4.0 * n * EPS * v.iter().fold(0.0f64, |m, u| m.max(u.abs())),
                Stat::Min | Stat::Max => 0.0,
                Stat::Var | Stat::Std => 1e-12 * b.abs(),
                Stat::ZScore => 1e-12 * (1.0 + b.abs()),
                Stat::Skew => 1e-10 * (1.0 + b.abs()),
                Stat::Kurt => 1e-9 * (1.0 + b.abs()),
            };
            if (a - b).abs() > tol {
                return Err(format!("row {t}: {stat} {a} but reference {b}, |diff| {} > {tol} ({w:?})", (a - b).abs()));
            }
        }
        Ok(())
    }

    fn check_all(x: &[f64], stat: Stat, w: Window) -> Result<Vec<f64>, String> {
        let fast = rolling(x, stat, w).map_err(|e| e.to_string())?;
        let mut s = RollingStream::new(stat, w).unwrap();
        let streamed: Vec<f64> = x.iter().map(|&v| s.update(v)).collect();
        if !same_bits(&fast, &streamed) {
            return Err(format!("{stat}: batch and stream differ ({w:?})"));
        }
        compare(x, stat, w, &fast, &rolling_reference(x, stat, w))?;
        Ok(fast)
    }

    fn window_for(stat: Stat, len: usize, mp: f64, ddof: usize) -> Window {
        let len = len.max(stat.min_obs(0));
        let ddof = if stat.uses_ddof() { ddof.min(len - 1) } else { ddof };
        Window { len, min_periods: 1 + ((len - 1) as f64 * mp) as usize, ddof }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn batch_stream_and_reference_agree(
            kind in 0u8..5, n in 0usize..160, seed in any::<u64>(), nan_p in prop_oneof![Just(0.0), 0.0f64..0.4],
            len in 1usize..40, mp in 0.0f64..1.0, ddof in 0usize..3, si in 0usize..9,
        ) {
            let stat = Stat::ALL[si];
            let w = window_for(stat, len, mp, ddof);
            let x = series(kind, n, seed, nan_p);
            if let Err(e) = check_all(&x, stat, w) {
                prop_assert!(false, "kind {kind}: {e}");
            }
        }

        #[test]
        fn pair_batch_stream_and_reference_agree(
            kx in 0u8..5, ky in 0u8..5, n in 0usize..160, seed in any::<u64>(), nan_p in prop_oneof![Just(0.0), 0.0f64..0.3],
            len in 1usize..40, mp in 0.0f64..1.0, ddof in 0usize..3, rho in -1.0f64..1.0, corr in any::<bool>(),
        ) {
            let stat = if corr { PairStat::Corr } else { PairStat::Cov };
            let len = len.max(2);
            let w = Window { len, min_periods: 1 + ((len - 1) as f64 * mp) as usize, ddof: ddof.min(len - 1) };
            let x = series(kx, n, seed, nan_p);
            let e = series(ky, n, seed ^ 0x9e37, nan_p);
            // y partly follows x so that correlations near ±1 occur.
            let y: Vec<f64> = x.iter().zip(&e).map(|(&a, &b)| if kx == ky { rho * a + (1.0 - rho.abs()) * b } else { b }).collect();
            let fast = rolling_pair(&x, &y, stat, w).unwrap();
            let mut s = PairStream::new(stat, w).unwrap();
            let streamed: Vec<f64> = x.iter().zip(&y).map(|(&a, &b)| s.update(a, b)).collect();
            prop_assert!(same_bits(&fast, &streamed));
            let r = rolling_pair_reference(&x, &y, stat, w);
            for t in 0..n {
                let (a, b) = (fast[t], r[t]);
                prop_assert_eq!(a.is_nan(), b.is_nan(), "row {}: {} vs {}", t, a, b);
                if a.is_nan() { continue; }
                // corr: 1e-12 absolute. cov: 1e-12 of σx·σy (the scale of a covariance).
                let tol = match stat {
                    PairStat::Corr => 1e-12,
                    PairStat::Cov => {
                        let idx: Vec<usize> = ((t + 1).saturating_sub(len)..=t).filter(|&i| x[i].is_finite() && y[i].is_finite()).collect();
                        let sd = |v: &dyn Fn(usize) -> f64| {
                            let m = idx.iter().map(|&i| v(i)).sum::<f64>() / idx.len() as f64;
                            (idx.iter().map(|&i| (v(i) - m).powi(2)).sum::<f64>() / idx.len() as f64).sqrt()
                        };
                        1e-12 * sd(&|i| x[i]) * sd(&|i| y[i])
                    }
                };
                prop_assert!((a - b).abs() <= tol, "row {}: {} vs {} (tol {})", t, a, b, tol);
            }
        }

        #[test]
        fn ewm_batch_stream_and_reference_agree(
            kind in 0u8..5, n in 0usize..120, seed in any::<u64>(), nan_p in prop_oneof![Just(0.0), 0.0f64..0.3],
            alpha in prop_oneof![Just(1.0), Just(2.0 / 21.0), 0.001f64..0.99], std in any::<bool>(),
        ) {
            let stat = if std { EwmStat::Std } else { EwmStat::Mean };
            let x = series(kind, n, seed, nan_p);
            let fast = ewm(&x, stat, alpha).unwrap();
            let mut s = EwmStream::new(stat, alpha).unwrap();
            let streamed: Vec<f64> = x.iter().map(|&v| s.update(v)).collect();
            prop_assert!(same_bits(&fast, &streamed));
            let r = ewm_reference(&x, stat, alpha);
            let mut scale = 0.0f64;
            for t in 0..n {
                if x[t].is_finite() { scale = scale.max(x[t].abs()); }
                let (a, b) = (fast[t], r[t]);
                prop_assert_eq!(a.is_nan(), b.is_nan(), "row {}: {} vs {}", t, a, b);
                if a.is_nan() { continue; }
                // mean: 16ε·max|x| (the reference sums n weighted terms; measured ≤ 7ε·max|x|).
                // std: 1e-13 relative (measured ≤ 2e-15, also on 1e5 prices and after gaps).
                let tol = if std { 1e-13 * b.abs() } else { 16.0 * EPS * scale };
                prop_assert!((a - b).abs() <= tol, "row {}: {} vs {} (tol {})", t, a, b, tol);
            }
        }
    }

    #[test]
    fn edge_lengths_and_warmup() {
        for stat in Stat::ALL {
            for len in [1usize, 2, 3, 4, 5, 8, 20] {
                if len < stat.min_obs(0) {
                    continue;
                }
                for mp in [1, len] {
                    for ddof in [0usize, 1] {
                        if stat.uses_ddof() && ddof >= len {
                            continue;
                        }
                        let w = Window { len, min_periods: mp, ddof };
                        let wu = warmup(stat, w);
                        for n in [0usize, 1, 2, len - 1, len, len + 1, 7, 17] {
                            let x = series(0, n, (n * 31 + len) as u64, 0.0);
                            let out = check_all(&x, stat, w).unwrap();
                            let first = out.iter().position(|v| !v.is_nan());
                            assert_eq!(first, if n > wu { Some(wu) } else { None }, "{stat} {w:?} n={n}");
                            assert!(out[wu.min(n)..].iter().all(|v| !v.is_nan()), "{stat} {w:?} n={n}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn warmup_lengths() {
        let w20 = Window::new(20);
        assert_eq!(warmup(Stat::Std, w20), 19);
        assert_eq!(warmup(Stat::Mean, w20.with_min_periods(1)), 0);
        assert_eq!(warmup(Stat::Std, w20.with_min_periods(1)), 1);
        assert_eq!(warmup(Stat::Var, w20.with_min_periods(1).with_ddof(0)), 0);
        assert_eq!(warmup(Stat::Skew, w20.with_min_periods(1)), 2);
        assert_eq!(warmup(Stat::Kurt, w20.with_min_periods(2)), 3);
        assert_eq!(warmup(Stat::ZScore, w20), 19);
        assert_eq!(pair_warmup(PairStat::Corr, Window::new(30).with_min_periods(1)), 1);
        assert_eq!(pair_warmup(PairStat::Cov, Window::new(30).with_min_periods(1).with_ddof(0)), 0);
        assert_eq!(pair_warmup(PairStat::Corr, Window::new(30)), 29);
        assert_eq!((ewm_warmup(EwmStat::Mean), ewm_warmup(EwmStat::Std)), (0, 1));
    }

    #[test]
    fn missing_values_follow_pandas() {
        let n = f64::NAN;
        // Leading NaNs, a single NaN, an infinity, a run longer than the window, then values.
        let x = [n, n, 1.0, 2.0, n, 4.0, f64::INFINITY, 3.0, n, n, n, n, n, n, 5.0, 7.0, 6.0, 1.0, -2.0, 0.5];
        for stat in Stat::ALL {
            let w = Window::new(4).with_min_periods(2);
            let out = check_all(&x, stat, w).unwrap();
            // Rows 11..=14: the window [t−3, t] holds no observation or only one.
            assert!(out[11..=14].iter().all(|v| v.is_nan()), "{stat}: {:?}", &out[8..16]);
            // Row 15 holds two (5, 7), row 17 four.
            assert_eq!(out[15].is_nan(), stat.min_obs(w.ddof) > 2, "{stat}");
            assert!(!out[17].is_nan(), "{stat}");
        }
        let mean = rolling(&x, Stat::Mean, Window::new(4).with_min_periods(2)).unwrap();
        assert_eq!(mean[3], 1.5);
        assert_eq!(mean[5], 7.0 / 3.0); // 1, 2 and 4 (the NaN is not counted)
        assert_eq!(mean[7], 3.5); // 4 and 3 (the infinity is missing)
        assert_eq!(mean[15], 6.0); // right after the run: exact again
        // min_periods = window: any missing value in the window gives NaN.
        let full = rolling(&x, Stat::Sum, Window::new(3)).unwrap();
        assert!(full[..16].iter().all(|v| v.is_nan()));
        assert_eq!(&full[16..], &[18.0, 14.0, 5.0, -0.5]);
        // Series that are all missing.
        for stat in Stat::ALL {
            let out = rolling(&[n; 9], stat, Window::new(4).with_min_periods(1)).unwrap();
            assert!(out.iter().all(|v| v.is_nan()));
        }
    }

    #[test]
    fn constant_windows() {
        let mut x = vec![1.0, 2.0, 3.0, 4.0];
        x.extend([0.1; 8]);
        let w = Window::new(4);
        let get = |stat| rolling(&x, stat, w).unwrap();
        for t in 7..x.len() {
            assert_eq!(get(Stat::Var)[t], 0.0);
            assert_eq!(get(Stat::Std)[t], 0.0);
            assert_eq!(get(Stat::Mean)[t], 0.1);
            assert_eq!(get(Stat::Sum)[t], 0.1 * 4.0);
            assert_eq!((get(Stat::Min)[t], get(Stat::Max)[t]), (0.1, 0.1));
            // m2 = 0 ≤ 1e-14: skew and kurt are NaN; the z-score is 0/0.
            assert!(get(Stat::Skew)[t].is_nan() && get(Stat::Kurt)[t].is_nan() && get(Stat::ZScore)[t].is_nan());
        }
        // Prices: a flat stretch at 1e5 after moves keeps variance exactly 0 and mean exact.
        let p: Vec<f64> = (0..50).map(|i| if i < 30 { 1e5 + (i as f64).sin() } else { 100_000.123 }).collect();
        let v = rolling(&p, Stat::Var, Window::new(20)).unwrap();
        let m = rolling(&p, Stat::Mean, Window::new(20)).unwrap();
        assert_eq!(v[49], 0.0);
        assert_eq!(m[49], 100_000.123);
        assert!(v.iter().all(|&s| s.is_nan() || s >= 0.0));
        // Pairs: a constant side gives cov 0 and corr NaN.
        let y: Vec<f64> = (0..x.len()).map(|i| i as f64 * 0.5).collect();
        let cov = rolling_cov(&x, &y, w).unwrap();
        let corr = rolling_corr(&x, &y, w).unwrap();
        assert_eq!(cov[11], 0.0);
        assert!(corr[11].is_nan());
        assert!((corr[3] - 1.0).abs() < 1e-15);
    }

    /// Max relative error of `fast` vs `reference` over rows where both are defined.
    fn max_rel(fast: &[f64], reference: &[f64]) -> f64 {
        fast.iter().zip(reference).filter(|(a, b)| !a.is_nan() && !b.is_nan()).map(|(a, b)| ((a - b) / b).abs()).fold(0.0, f64::max)
    }

    fn max_abs(fast: &[f64], reference: &[f64]) -> f64 {
        fast.iter().zip(reference).filter(|(a, b)| !a.is_nan() && !b.is_nan()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
    }

    #[test]
    fn high_magnitude_with_tiny_moves() {
        // BTC at 1e5 with relative moves of 1e-6: the window std is ~0.3, the mean ~1e5.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut p = 1e5;
        let x: Vec<f64> = (0..20_000)
            .map(|_| {
                p *= 1.0 + 1e-6 * z(&mut rng);
                p
            })
            .collect();
        for len in [20usize, 200] {
            let w = Window::new(len);
            for stat in Stat::ALL {
                check_all(&x, stat, w).unwrap();
            }
            let std = rolling(&x, Stat::Std, w).unwrap();
            let reference = rolling_reference(&x, Stat::Std, w);
            // Measured ~1e-15; the bound leaves three orders of margin.
            assert!(max_rel(&std, &reference) < 1e-12, "std {}", max_rel(&std, &reference));
            let zs = rolling(&x, Stat::ZScore, w).unwrap();
            assert!(max_abs(&zs, &rolling_reference(&x, Stat::ZScore, w)) < 1e-12);
            // The naive sum-of-squares variance loses about 12 digits here.
            let naive: Vec<f64> = (0..x.len())
                .map(|t| {
                    if t + 1 < len {
                        return f64::NAN;
                    }
                    let v = &x[t + 1 - len..=t];
                    let (s, s2) = v.iter().fold((0.0, 0.0), |(s, s2), &u| (s + u, s2 + u * u));
                    ((s2 - s * s / len as f64) / (len as f64 - 1.0)).max(0.0).sqrt()
                })
                .collect();
            assert!(max_rel(&naive, &reference) > 1e-6, "naive {}", max_rel(&naive, &reference));
        }
    }

    #[test]
    fn tiny_and_huge_magnitudes() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let tiny: Vec<f64> = (0..500).map(|_| 1e-12 * (1.0 + 0.1 * z(&mut rng))).collect();
        let w = Window::new(20);
        for stat in [Stat::Sum, Stat::Mean, Stat::Var, Stat::Std, Stat::Min, Stat::Max, Stat::ZScore] {
            check_all(&tiny, stat, w).unwrap();
        }
        // m2 ~ 1e-26 ≤ 1e-14: pandas' rule makes skew and kurt NaN at this scale.
        assert!(rolling(&tiny, Stat::Skew, w).unwrap().iter().all(|v| v.is_nan()));
        assert!(rolling(&tiny, Stat::Kurt, w).unwrap().iter().all(|v| v.is_nan()));
        let huge: Vec<f64> = (0..500).map(|_| 1e15 + 1e3 * z(&mut rng)).collect();
        for stat in Stat::ALL {
            check_all(&huge, stat, w).unwrap();
        }
    }

    #[test]
    fn level_shift_then_quiet_window() {
        // 1e5 with noise 1e-3, then a jump to 2e5: once the window holds only the new level,
        // the old shift is 5 orders of magnitude away; the drift rule re-anchors it at once.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x: Vec<f64> = (0..400).map(|i| if i < 203 { 1e5 } else { 2e5 } + 1e-3 * z(&mut rng)).collect();
        for len in [5usize, 20, 64] {
            for stat in Stat::ALL {
                check_all(&x, stat, Window::new(len)).unwrap();
            }
            let w = Window::new(len);
            let std = rolling(&x, Stat::Std, w).unwrap();
            assert!(max_rel(&std, &rolling_reference(&x, Stat::Std, w)) < 1e-12);
        }
    }

    #[test]
    fn outlier_leaves_no_residue() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut x: Vec<f64> = (0..300).map(|_| 1e-3 * z(&mut rng)).collect();
        x[100] = 1e9;
        for stat in Stat::ALL {
            check_all(&x, stat, Window::new(30)).unwrap();
        }
        let w = Window::new(30);
        let std = rolling(&x, Stat::Std, w).unwrap();
        let reference = rolling_reference(&x, Stat::Std, w);
        assert!(max_rel(&std[130..], &reference[130..]) < 1e-13, "{}", max_rel(&std[130..], &reference[130..]));
    }

    #[test]
    fn min_max_deque() {
        let x = [3.0, 1.0, 1.0, 2.0, f64::NAN, 5.0, 5.0, 0.0, -0.0, 4.0, 4.0, 4.0];
        let w = Window::new(3).with_min_periods(1);
        assert_eq!(rolling(&x, Stat::Min, w).unwrap(), [3.0, 1.0, 1.0, 1.0, 1.0, 2.0, 5.0, 0.0, 0.0, 0.0, -0.0, 4.0]);
        assert_eq!(rolling(&x, Stat::Max, w).unwrap(), [3.0, 3.0, 3.0, 2.0, 2.0, 5.0, 5.0, 5.0, 5.0, 4.0, 4.0, 4.0]);
        // A long decreasing then increasing run (worst case for the deque).
        let y: Vec<f64> = (0..1000).map(|i| ((i as f64) - 500.0).abs()).collect();
        for stat in [Stat::Min, Stat::Max] {
            check_all(&y, stat, Window::new(37)).unwrap();
        }
    }

    #[test]
    fn ewm_follows_the_recursion() {
        let n = f64::NAN;
        let x = [n, 1.0, 2.0, 4.0];
        let m = ewm_mean(&x, 0.5).unwrap();
        assert!(m[0].is_nan());
        assert_eq!(&m[1..], &[1.0, 1.5, 2.75]);
        let s = ewm_std(&x, 0.5).unwrap();
        assert!(s[0].is_nan() && s[1].is_nan());
        // v = 0.25, s2 = 0.5 → √0.5; then v = 1.6875, s2 = 0.375 → √2.7.
        assert!((s[2] - 0.5f64.sqrt()).abs() < 1e-15);
        assert!((s[3] - 2.7f64.sqrt()).abs() < 1e-15);
        // A missing value carries the mean and decays the old weight (ignore_na=False).
        let g = ewm_mean(&[1.0, n, 3.0], 0.5).unwrap();
        assert_eq!(g[1], 1.0);
        assert!((g[2] - 7.0 / 3.0).abs() < 1e-15);
        // Constant series stay exact; alpha = 1 follows the input and has no std.
        assert!(ewm_mean(&[0.1; 50], 0.3).unwrap().iter().all(|&v| v == 0.1));
        assert!(ewm_std(&[0.1; 50], 0.3).unwrap()[1..].iter().all(|&v| v == 0.0));
        assert_eq!(ewm_mean(&[1.0, 5.0, 2.0], 1.0).unwrap(), [1.0, 5.0, 2.0]);
        assert!(ewm_std(&[1.0, 5.0, 2.0], 1.0).unwrap().iter().all(|v| v.is_nan()));
    }

    #[test]
    fn ewm_on_prices_with_a_long_span() {
        // 1e5 with relative moves of 1e-6 and α = 2/201: the compensated mean keeps the
        // deviations exact, so the std stays within 1e-12 of the explicit-weights reference.
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let mut p = 1e5;
        let x: Vec<f64> = (0..3000)
            .map(|i| {
                p *= 1.0 + 1e-6 * z(&mut rng);
                if i % 97 == 5 { f64::NAN } else { p }
            })
            .collect();
        let alpha = 2.0 / 201.0;
        let m = ewm_mean(&x, alpha).unwrap();
        let s = ewm_std(&x, alpha).unwrap();
        assert!(max_rel(&m, &ewm_reference(&x, EwmStat::Mean, alpha)) < 1e-15);
        let rs = ewm_reference(&x, EwmStat::Std, alpha);
        assert!(max_rel(&s, &rs) < 1e-12, "{}", max_rel(&s, &rs));
    }

    #[test]
    fn rolling_many_is_thread_count_independent() {
        let xs: Vec<Vec<f64>> = (0..37).map(|i| series((i % 5) as u8, (i * 97) % 2000, i as u64, 0.05)).collect();
        for stat in Stat::ALL {
            let w = Window::new(20).with_min_periods(5);
            let run = |threads| {
                rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| rolling_many(&xs, stat, w).unwrap())
            };
            let (one, two) = (run(1), run(2));
            assert_eq!(one.len(), xs.len());
            for ((a, b), x) in one.iter().zip(&two).zip(&xs) {
                assert!(same_bits(a, b), "{stat}");
                assert!(same_bits(a, &rolling(x, stat, w).unwrap()), "{stat}");
            }
        }
        let slices: Vec<&[f64]> = xs.iter().map(|x| x.as_slice()).collect();
        assert_eq!(rolling_many(&slices, Stat::Mean, Window::new(3)).unwrap().len(), 37);
    }

    #[test]
    fn huge_window_on_a_short_series() {
        // The ring grows with the data, so a window far longer than the series costs nothing.
        let x = series(0, 50, 21, 0.1);
        let w = Window::new(usize::MAX / 2).with_min_periods(3);
        for stat in Stat::ALL {
            check_all(&x, stat, w).unwrap();
        }
        let c = rolling_corr(&x, &x, w).unwrap();
        assert!(c[10..].iter().all(|&v| v.is_nan() || (v - 1.0).abs() < 1e-15));
    }

    #[test]
    fn stream_reset_and_accessors() {
        let mut s = RollingStream::new(Stat::Kurt, Window::new(6)).unwrap();
        let x = series(2, 40, 9, 0.1);
        let first: Vec<f64> = x.iter().map(|&v| s.update(v)).collect();
        assert_eq!(s.stat(), Stat::Kurt);
        assert!(s.nobs() <= 6);
        s.reset();
        assert_eq!(s.nobs(), 0);
        let again: Vec<f64> = x.iter().map(|&v| s.update(v)).collect();
        assert!(same_bits(&first, &again));
        let mut e = EwmStream::new(EwmStat::Std, 0.2).unwrap();
        let a: Vec<f64> = x.iter().map(|&v| e.update(v)).collect();
        e.reset();
        assert!(same_bits(&a, &x.iter().map(|&v| e.update(v)).collect::<Vec<_>>()));
        assert_eq!(Stat::from_name("zscore"), Some(Stat::ZScore));
        assert_eq!(Stat::from_name("median"), None);
        assert!(Stat::ALL.iter().all(|s| Stat::from_name(s.name()) == Some(*s)));
        assert_eq!(PairStat::from_name("corr"), Some(PairStat::Corr));
        assert_eq!(EwmStat::from_name("std"), Some(EwmStat::Std));
    }

    #[test]
    fn argument_errors() {
        let x = [1.0, 2.0, 3.0];
        let msg = |r: Result<Vec<f64>, DataError>| r.unwrap_err().to_string();
        assert_eq!(msg(rolling(&x, Stat::Mean, Window::new(0))), "Expected a window of at least 1 but received 0");
        assert!(msg(rolling(&x, Stat::Mean, Window::new(3).with_min_periods(0))).contains("min_periods between 1 and the window (3) but received 0"));
        assert!(msg(rolling(&x, Stat::Mean, Window::new(3).with_min_periods(4))).contains("received 4"));
        assert!(msg(rolling(&x, Stat::Var, Window::new(3).with_ddof(3))).contains("ddof below the window (3) but received 3"));
        assert!(rolling(&x, Stat::Sum, Window::new(1)).is_ok()); // ddof (default 1) is not used by sum
        assert!(msg(rolling(&x, Stat::Skew, Window::new(2))).contains("skew needs a window of at least 3"));
        assert!(msg(rolling(&x, Stat::Kurt, Window::new(3))).contains("kurt needs a window of at least 4"));
        assert!(msg(rolling_corr(&x, &x, Window::new(1))).contains("corr needs a window of at least 2"));
        assert!(msg(rolling_cov(&x, &x, Window::new(2).with_ddof(2))).contains("ddof below"));
        assert_eq!(msg(rolling_corr(&x, &x[..2], Window::new(2))), "Expected series of equal length but received 3 and 2");
        for a in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
            assert!(msg(ewm_mean(&x, a)).starts_with("Expected alpha in (0, 1]"));
            assert!(EwmStream::new(EwmStat::Std, a).is_err());
        }
        assert!(ewm_std(&x, 1.0).is_ok());
        assert!(rolling_many(&[&x[..]], Stat::Mean, Window::new(0)).is_err());
        assert!(RollingStream::new(Stat::Std, Window::new(1)).is_err());
        assert!(PairStream::new(PairStat::Cov, Window::new(0)).is_err());
    }
}
