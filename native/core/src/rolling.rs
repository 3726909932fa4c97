//! Rolling window statistics with pandas semantics (`pandas/_libs/window/aggregations.pyx`),
//! EWM mean and std (`adjust=False`), and rolling correlation/covariance of two series.
//!
//! Every kernel has a streaming state fed one bar at a time (`RollingStream`, `PairStream`,
//! `EwmStream`: add/remove/calc trios). The rolling batch functions (`rolling`, `rolling_many`,
//! `rolling_pair`) have their own kernels, built for throughput: each window is one suffix sum
//! over the previous block of `len` rows plus one prefix sum over its own block, computed in
//! tight loops over tiles of rows that stay in the cache (see "Batch kernels" below). So batch
//! and stream are no longer the same bits; both are within the stated tolerances of the naive
//! reference, which recomputes every window from scratch with the two-pass formula
//! (`rolling_reference`, ...; used by the tests). The EWM batch still feeds the stream, bit for
//! bit. Each kernel also has a warm-up length (`warmup`, ...): the index of the first output
//! that can be defined when the input has no missing values.
//!
//! Missing values and `min_periods` (pandas): non-finite inputs (NaN, ±inf) are missing. They
//! occupy their row of the window but are not observations. The output at row t is NaN while
//! the window [t−len+1, t] holds fewer than `min_periods` observations (or fewer than the
//! statistic needs: `ddof+1` for var/std/cov, max(ddof+1, 2) for zscore, 3 for skew, 4 for
//! kurt, 2 for corr). For corr/cov a row is an observation only when both values are finite.
//! EWM: NaN before the first observation; a missing value repeats the previous output.
//!
//! Numerics of the streaming states: the moment kernels keep the power sums Σd, Σd², Σd³, Σd⁴
//! of d = x − K, where the shift K is the window mean at the last rebuild, in TwoSum-compensated
//! accumulators. A value removed from the window subtracts exactly the terms it added (same K,
//! same bits), so an outlier leaving the window leaves no residue. The sums are rebuilt from the window (new K)
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
    pub const ALL: [Stat; 9] = [
        Stat::Sum,
        Stat::Mean,
        Stat::Var,
        Stat::Std,
        Stat::Skew,
        Stat::Kurt,
        Stat::Min,
        Stat::Max,
        Stat::ZScore,
    ];

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
        [PairStat::Cov, PairStat::Corr]
            .into_iter()
            .find(|s| s.name() == name)
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
        Window {
            len,
            min_periods: len,
            ddof: 1,
        }
    }

    pub const fn with_min_periods(self, min_periods: usize) -> Self {
        Window {
            min_periods,
            ..self
        }
    }

    pub const fn with_ddof(self, ddof: usize) -> Self {
        Window { ddof, ..self }
    }

    fn check_common(self) -> Result<(), DataError> {
        if self.len == 0 {
            return Err(DataError::arg(
                "Expected a window of at least 1 but received 0",
            ));
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
        Run {
            run: 0,
            last: f64::NAN,
        }
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
        Moments {
            order,
            shift: 0.0,
            nobs: 0,
            s: [Acc::default(); 4],
            run: Run::new(),
        }
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
                        let d =
                            self.s[3].value() / nf - a * a * a * a - 6.0 * b * a * a - 4.0 * c * a; // m4
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
        Extreme {
            is_max,
            q: VecDeque::with_capacity(len.min(1 << 16)),
            nobs: 0,
        }
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
/// the window that ends at the new bar; feeding a whole series gives `rolling`'s values within
/// the tolerances of the module tests (not the same bits: `rolling` sums blocks of rows).
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
        Ok(RollingStream {
            stat,
            w,
            ring: Vec::with_capacity(w.len.min(RING_PREALLOC)),
            slot: 0,
            row: 0,
            since_rebuild: 0,
            kernel,
        })
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

// ------------------------------------------------------------------------------------------
// Batch kernels: sums over blocks, then each window from a suffix and a prefix
//
// The rows are cut into blocks of `len` rows (block b = rows [b·len, (b+1)·len)). The window
// that ends at row t of block b is the suffix of block b−1 that starts at t−len+1, plus the
// prefix of block b that ends at t. So every window sum is one suffix sum plus one prefix sum,
// each a plain sum of at most `len` terms, computed by two scans per block (van Herk /
// Gil-Werman for min and max). Nothing is ever subtracted: an outlier is in exactly the windows
// that hold it, and the rounding error of a window is that of summing its own terms (≤ len·ε
// relative, for positive terms), whatever came before it.
//
// Moments (and corr/cov, per side) use d = x − K with one shift K per pair of blocks (b−1, b):
// the mean of block b−1, within about σ·√(2/len) of the means of the windows that end in
// block b (so the cancellation factor 1 + (mean − K)²/m2 is about 1 + 2/len). A window whose mean is more than 4σ from K (the
// drift rule of `Moments::drifted`) re-anchors K at its own mean for the rest of block b
// (O(len)), so the cancellation in Σd² − (Σd)²/n stays bounded by a factor of about 17.
// Constant windows are detected exactly (a run of equal observations scanned lazily, pandas'
// `num_consecutive_same_value`), so their variance is exactly 0 and their mean exactly the
// value. Both checks run only on the rows that a cheap branch-free filter flags.
//
// The series is processed in tiles of about TILE_TARGET rows (a multiple of `len`, so that the
// scratch stays in the cache). A tile is first scanned without masks; if a block's sum comes out
// NaN or infinite (a missing value), it is scanned again with masks and counts. A tile's values
// depend only on the rows its windows cover: not on the other tiles, on how the rows are cut
// into tiles, on the mode, nor on the instruction set (below). So `rolling_many` cuts long
// series into deterministic time blocks and gives `rolling` bit for bit at any thread count.

/// Rows per tile, about (rounded down to a multiple of the window; one block when the window
/// is longer).
const TILE_TARGET: usize = 2048;
/// Rows per parallel task of `rolling_many`, about (a multiple of the tile).
const TASK_TARGET: usize = 1 << 16;
/// Rows per chunk of the branch-free pass over a tile; a chunk with a flagged row (maybe a
/// constant window, or drifted) is redone row by row.
const CHUNK: usize = 16;
static ZEROS: [f64; CHUNK] = [0.0; CHUNK];
/// Blocks scanned at once by `Scan::group`: 2·GROUP independent chains of additions hide
/// their latency.
const GROUP: usize = 2;

/// Tile length for a window of `len`: about `target` rows, a whole number of blocks (at least
/// one), so tiles start on block boundaries.
fn tile_rows(len: usize, target: usize) -> usize {
    len.saturating_mul((target / len).max(1))
}

/// The tile length of the public functions: about TILE_TARGET rows, and at least GROUP + 1
/// blocks for windows up to 4096 rows, so that `Scan::group` applies.
fn default_tile(len: usize) -> usize {
    let min_blocks = if len <= 4096 { GROUP + 1 } else { 1 };
    len.saturating_mul((TILE_TARGET / len).max(min_blocks))
}

/// Ask for the cache line of x[i] (if any) ahead of use: a hint, it never faults.
#[inline(always)]
fn prefetch(x: &[f64], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(p) = x.get(i) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of the x86_64 baseline, and a prefetch is only a hint: it never
        // faults and reads nothing back (p points into x anyway).
        unsafe { _mm_prefetch::<_MM_HINT_T0>((p as *const f64).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (x, i);
}

/// Whether every value is finite (branch-free, so it vectorises).
#[inline(always)]
fn all_finite(x: &[f64]) -> bool {
    x.chunks(64)
        .all(|c| c.iter().fold(true, |a, v| a & v.is_finite()))
}

// Statistic codes for the const-generic batch loops.
const SUM: u8 = 0;
const MEAN: u8 = 1;
const VAR: u8 = 2;
const STD: u8 = 3;
const ZSCORE: u8 = 4;
const SKEW: u8 = 5;
const KURT: u8 = 6;

/// Whether the observations in rows [start, t] are all equal: a run of equal observations
/// scanned lazily (pandas' `num_consecutive_same_value`). A row of `v` is an observation when
/// it and the same row of `other` are finite (pass `v` again for one series).
struct RunScan {
    /// Next row to scan.
    next: usize,
    /// 1 + the row of the last observation (0: none yet).
    last_obs: usize,
    /// 1 + the row of the last observation that differs from the current run (0: none).
    last_diff: usize,
    /// Value of the current run (its first observation).
    val: f64,
}

impl RunScan {
    fn new(from: usize) -> Self {
        RunScan {
            next: from,
            last_obs: 0,
            last_diff: 0,
            val: f64::NAN,
        }
    }

    /// Whether the observations in rows [start, t] are all equal, and their value. `t` must not
    /// decrease between calls. Rows before `start` do not matter, so a scan that is behind
    /// restarts there: a call costs at most the window, and consecutive rows cost O(1) each.
    fn constant(&mut self, v: &[f64], other: &[f64], start: usize, t: usize) -> (bool, f64) {
        if self.next < start {
            *self = RunScan::new(start);
        }
        while self.next <= t {
            let (a, b) = (v[self.next], other[self.next]);
            if a.is_finite() && b.is_finite() {
                if a != self.val {
                    self.last_diff = self.last_obs;
                    self.val = a;
                }
                self.last_obs = self.next + 1;
            }
            self.next += 1;
        }
        (self.last_diff <= start, self.val)
    }
}

/// What the formulas need of the observation count n.
#[derive(Clone, Copy)]
struct PerN {
    n: f64,
    inv_n: f64,
    inv_dof: f64,
    skew_q: f64,
    kurt_a: f64,
    kurt_b: f64,
    kurt_inv: f64,
}

impl PerN {
    #[inline(always)]
    fn new(n: f64, ddof: f64) -> Self {
        PerN {
            n,
            inv_n: 1.0 / n,
            inv_dof: 1.0 / (n - ddof),
            skew_q: (n * (n - 1.0)).sqrt() / (n - 2.0),
            kurt_a: n * n - 1.0,
            kurt_b: 3.0 * ((n - 1.0) * (n - 1.0)),
            kurt_inv: 1.0 / ((n - 2.0) * (n - 3.0)),
        }
    }
}

/// d = x − k (0 for a missing value when NAN) and whether x is an observation (1 or 0).
#[inline(always)]
fn masked<const NAN: bool>(x: f64, k: f64) -> (f64, f64) {
    if NAN {
        let f = x.is_finite();
        (if f { x - k } else { 0.0 }, if f { 1.0 } else { 0.0 })
    } else {
        (x - k, 1.0)
    }
}

/// d, d², d³, d⁴ (the first P).
#[inline(always)]
fn powers<const P: usize>(d: f64) -> [f64; P] {
    let d2 = d * d;
    std::array::from_fn(|q| match q {
        0 => d,
        1 => d2,
        2 => d2 * d,
        _ => d2 * d2,
    })
}

#[inline(always)]
fn add_to<const W: usize>(a: &mut [f64; W], b: &[f64; W]) {
    for q in 0..W {
        a[q] += b[q];
    }
}

/// The drift rule of `Moments::drifted` on the sums Σd = s1, Σd² = s2 of n observations.
#[inline(always)]
fn drifted(s1: f64, s2: f64, n: f64) -> bool {
    (DRIFT + 1.0) * (s1 * s1) > DRIFT * n * s2
}

/// What a window sums: W terms per observed row, about a shift.
trait Terms<const W: usize> {
    type Shift: Copy;
    /// The shift when no observation is near.
    const NO_SHIFT: Self::Shift;
    /// The terms of the row (x, y) about k, and 1.0 if it is an observation. With NAN a missing
    /// row gives zeros and 0.0; without, every row is taken as an observation.
    fn terms<const NAN: bool>(x: f64, y: f64, k: Self::Shift) -> ([f64; W], f64);
    /// The shift at the mean of the observations of a block, if it has any: the sums run over
    /// four interleaved lanes (so they vectorise) in a fixed order. Without NAN, a missing
    /// value makes it NaN (and the scan then starts again with masks).
    fn block_mean<const NAN: bool>(x: &[f64], y: &[f64]) -> Option<Self::Shift>;
    /// The shift the row (x, y) gives, if it is an observation.
    fn shift_from(x: f64, y: f64) -> Option<Self::Shift>;
    /// The shift at the mean of the observations of a window (at least one).
    fn window_mean(x: &[f64], y: &[f64]) -> Self::Shift;
    /// Finite when every row of sums `acc` (taken without masks) was an observation.
    fn check(acc: &[f64; W]) -> f64;
}

/// Σd, Σd², … (P of them) of one series, d = x − K; K = 0 for P = 1 (sum and mean).
struct Powers<const P: usize>;

impl<const P: usize> Terms<P> for Powers<P> {
    type Shift = f64;
    const NO_SHIFT: f64 = 0.0;

    #[inline(always)]
    fn terms<const NAN: bool>(x: f64, _: f64, k: f64) -> ([f64; P], f64) {
        let (d, f) = masked::<NAN>(x, k);
        (powers::<P>(d), f)
    }

    #[inline(always)]
    fn block_mean<const NAN: bool>(x: &[f64], _: &[f64]) -> Option<f64> {
        if P == 1 {
            return Some(0.0);
        }
        let (mut sum, mut n) = ([0.0f64; 4], [0.0f64; 4]);
        let mut it = x.chunks_exact(4);
        for c in &mut it {
            for k in 0..4 {
                let (d, f) = masked::<NAN>(c[k], 0.0);
                sum[k] += d;
                n[k] += f;
            }
        }
        for (k, &v) in it.remainder().iter().enumerate() {
            let (d, f) = masked::<NAN>(v, 0.0);
            sum[k] += d;
            n[k] += f;
        }
        let n = (n[0] + n[1]) + (n[2] + n[3]);
        (n > 0.0).then(|| ((sum[0] + sum[1]) + (sum[2] + sum[3])) / n)
    }

    fn shift_from(x: f64, _: f64) -> Option<f64> {
        if P == 1 {
            Some(0.0)
        } else {
            x.is_finite().then_some(x)
        }
    }

    fn window_mean(x: &[f64], _: &[f64]) -> f64 {
        let (mut sum, mut n) = (0.0, 0.0);
        for &v in x.iter().filter(|v| v.is_finite()) {
            sum += v;
            n += 1.0;
        }
        sum / n
    }

    #[inline(always)]
    fn check(acc: &[f64; P]) -> f64 {
        acc[0]
    }
}

/// Σdx, Σdy, Σdx², Σdy², Σdx·dy of two series (a row is an observation when both are finite),
/// dx = x − Kx, dy = y − Ky.
struct PairTerms;

impl Terms<5> for PairTerms {
    type Shift = (f64, f64);
    const NO_SHIFT: (f64, f64) = (0.0, 0.0);

    #[inline(always)]
    fn terms<const NAN: bool>(x: f64, y: f64, k: (f64, f64)) -> ([f64; 5], f64) {
        let f = !NAN || (x.is_finite() & y.is_finite());
        let (dx, dy) = if f { (x - k.0, y - k.1) } else { (0.0, 0.0) };
        (
            [dx, dy, dx * dx, dy * dy, dx * dy],
            if f { 1.0 } else { 0.0 },
        )
    }

    #[inline(always)]
    fn block_mean<const NAN: bool>(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
        let (mut sx, mut sy, mut n) = ([0.0f64; 4], [0.0f64; 4], [0.0f64; 4]);
        for (k, (&a, &b)) in x.iter().zip(y).enumerate() {
            let (t, f) = Self::terms::<NAN>(a, b, (0.0, 0.0));
            sx[k % 4] += t[0];
            sy[k % 4] += t[1];
            n[k % 4] += f;
        }
        let n = (n[0] + n[1]) + (n[2] + n[3]);
        (n > 0.0).then(|| {
            (
                ((sx[0] + sx[1]) + (sx[2] + sx[3])) / n,
                ((sy[0] + sy[1]) + (sy[2] + sy[3])) / n,
            )
        })
    }

    fn shift_from(x: f64, y: f64) -> Option<(f64, f64)> {
        (x.is_finite() && y.is_finite()).then_some((x, y))
    }

    fn window_mean(x: &[f64], y: &[f64]) -> (f64, f64) {
        let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
        for (&a, &b) in x
            .iter()
            .zip(y)
            .filter(|(a, b)| a.is_finite() && b.is_finite())
        {
            sx += a;
            sy += b;
            n += 1.0;
        }
        (sx / n, sy / n)
    }

    #[inline(always)]
    fn check(acc: &[f64; 5]) -> f64 {
        acc[0] + acc[1]
    }
}

/// The window sums of the rows of one tile: the sums of the window that ends at tile row i
/// are ss[i] + sp[i], its part in the previous block (a suffix sum) and in the row's block (a
/// prefix sum); its observations are cs[i] + cp[i] (tiles with missing values only).
struct Scan<'a, T: Terms<W>, const W: usize> {
    x: &'a [f64],
    /// The second series (pairs), or `x` again.
    y: &'a [f64],
    len: usize,
    ss: Vec<[f64; W]>,
    sp: Vec<[f64; W]>,
    cs: Vec<f64>,
    cp: Vec<f64>,
    /// The shift of each row's block (zscore), when `row_shift`.
    ks: Vec<T::Shift>,
    row_shift: bool,
}

impl<'a, T: Terms<W>, const W: usize> Scan<'a, T, W> {
    fn new(x: &'a [f64], y: &'a [f64], len: usize, rows: usize, row_shift: bool) -> Self {
        Scan {
            x,
            y,
            len,
            ss: vec![[0.0; W]; rows],
            sp: vec![[0.0; W]; rows],
            cs: vec![0.0; rows],
            cp: vec![0.0; rows],
            ks: if row_shift {
                vec![T::NO_SHIFT; rows]
            } else {
                Vec::new()
            },
            row_shift,
        }
    }

    /// The shift of the windows that end in block b: the mean of the observations of block
    /// b−1 (of block 0 for b = 0), which is within about σ·√(2/len) of those windows' means.
    /// If that block has none, the observation nearest before row b·len (searching back through
    /// block b−1, then forward through block b).
    #[inline(always)]
    fn shift<const NAN: bool>(&self, b: usize) -> T::Shift {
        let (x, y) = (self.x, self.y);
        let bs = b * self.len;
        let lo = bs.saturating_sub(self.len);
        let hi = bs.saturating_add(self.len).min(x.len());
        let src = if b == 0 { 0..hi } else { lo..bs };
        T::block_mean::<NAN>(&x[src.clone()], &y[src]).unwrap_or_else(|| {
            (lo..bs)
                .rev()
                .chain(bs..hi)
                .find_map(|i| T::shift_from(x[i], y[i]))
                .unwrap_or(T::NO_SHIFT)
        })
    }

    /// The window sums of tile row i, and its observations.
    #[inline(always)]
    fn sums(&self, i: usize) -> [f64; W] {
        let mut s = self.ss[i];
        add_to(&mut s, &self.sp[i]);
        s
    }

    /// Suffix sums of the whole block that starts at row `src` for the windows of the next
    /// block, whose rows start at tile row `o`: its row j gets the sum over source rows
    /// j+1..len (0 for the last row). Only its first `lp` rows are stored. Returns `T::check`
    /// of the sums over the rows used.
    #[inline(always)]
    fn suffix<const NAN: bool>(&mut self, src: usize, k: T::Shift, o: usize, lp: usize) -> f64 {
        let len = self.len;
        let (sx, sy) = (&self.x[src..src + len], &self.y[src..src + len]);
        let split = lp.min(len - 1);
        if lp >= len {
            self.ss[o + len - 1] = [0.0; W];
            self.cs[o + len - 1] = 0.0;
        }
        let mut acc = [0.0f64; W];
        let mut c = 0.0;
        for j in (split + 1..len).rev() {
            let (d, f) = T::terms::<NAN>(sx[j], sy[j], k);
            add_to(&mut acc, &d);
            c += f;
        }
        let (sx, sy) = (&sx[1..split + 1], &sy[1..split + 1]);
        let dst = &mut self.ss[o..o + split];
        let cnt = &mut self.cs[o..o + split];
        for j in (0..split).rev() {
            let (d, f) = T::terms::<NAN>(sx[j], sy[j], k);
            add_to(&mut acc, &d);
            dst[j] = acc;
            if NAN {
                c += f;
                cnt[j] = c;
            }
        }
        T::check(&acc)
    }

    /// Prefix sums over the `l` rows from row `bs` (tile row `o`). Returns `T::check` of them.
    #[inline(always)]
    fn prefix<const NAN: bool>(&mut self, bs: usize, l: usize, k: T::Shift, o: usize) -> f64 {
        let (sx, sy) = (&self.x[bs..bs + l], &self.y[bs..bs + l]);
        let dst = &mut self.sp[o..o + l];
        let cnt = &mut self.cp[o..o + l];
        let mut acc = [0.0f64; W];
        let mut c = 0.0;
        for i in 0..l {
            let (d, f) = T::terms::<NAN>(sx[i], sy[i], k);
            add_to(&mut acc, &d);
            dst[i] = acc;
            if NAN {
                c += f;
                cnt[i] = c;
            }
        }
        T::check(&acc)
    }

    /// `prefix` and `suffix` over G whole blocks from row `bs` (tile row `o`) in one loop: the
    /// prefix sums of block g with shift ks[g], and its suffix sums for the windows of the block
    /// after it (a whole block of the tile) with shift kn[g]. The 2·G chains of additions are
    /// independent. Returns `T::check` of the blocks' sums.
    #[inline(always)]
    fn group<const G: usize, const NAN: bool>(
        &mut self,
        bs: usize,
        o: usize,
        ks: [T::Shift; G],
        kn: [T::Shift; G],
    ) -> f64 {
        let len = self.len;
        let m = len - 1;
        let mut it = self.x[bs..bs + G * len].chunks_exact(len);
        let sx: [&[f64]; G] = std::array::from_fn(|_| it.next().unwrap());
        let mut it = self.y[bs..bs + G * len].chunks_exact(len);
        let sy: [&[f64]; G] = std::array::from_fn(|_| it.next().unwrap());
        let mut it = self.sp[o..o + G * len].chunks_exact_mut(len);
        let pd: [&mut [[f64; W]]; G] = std::array::from_fn(|_| it.next().unwrap());
        let mut it = self.ss[o + len..o + (G + 1) * len].chunks_exact_mut(len);
        let sd: [&mut [[f64; W]]; G] = std::array::from_fn(|_| it.next().unwrap());
        let mut it = self.cp[o..o + G * len].chunks_exact_mut(len);
        let pc: [&mut [f64]; G] = std::array::from_fn(|_| it.next().unwrap());
        let mut it = self.cs[o + len..o + (G + 1) * len].chunks_exact_mut(len);
        let sc: [&mut [f64]; G] = std::array::from_fn(|_| it.next().unwrap());
        let mut ap = [[0.0f64; W]; G];
        let mut an = [[0.0f64; W]; G];
        let mut fp = [0.0f64; G];
        let mut fnx = [0.0f64; G];
        for i in 0..m {
            let j = m - i; // source row j, for row j − 1 of the next block
            for g in 0..G {
                let (d, f) = T::terms::<NAN>(sx[g][i], sy[g][i], ks[g]);
                let (e, h) = T::terms::<NAN>(sx[g][j], sy[g][j], kn[g]);
                add_to(&mut ap[g], &d);
                add_to(&mut an[g], &e);
                pd[g][i] = ap[g];
                sd[g][j - 1] = an[g];
                if NAN {
                    fp[g] += f;
                    fnx[g] += h;
                    pc[g][i] = fp[g];
                    sc[g][j - 1] = fnx[g];
                }
            }
        }
        let mut check = 0.0;
        for g in 0..G {
            let (d, f) = T::terms::<NAN>(sx[g][m], sy[g][m], ks[g]);
            add_to(&mut ap[g], &d);
            pd[g][m] = ap[g];
            sd[g][m] = [0.0; W];
            if NAN {
                pc[g][m] = fp[g] + f;
                sc[g][m] = 0.0;
            }
            check += T::check(&ap[g]);
        }
        check
    }

    /// `group` over blocks j.. of the tile starting at t0, whose windows use shift k: adds to
    /// `check`, returns it and the shift of the block after the group.
    #[inline(always)]
    fn groups<const G: usize, const NAN: bool>(
        &mut self,
        check: f64,
        k: T::Shift,
        t0: usize,
        j: usize,
    ) -> (f64, T::Shift) {
        let len = self.len;
        let b0 = t0 / len;
        let mut ks = [k; G];
        let mut kn = [k; G];
        for g in 0..G {
            kn[g] = self.shift::<NAN>(b0 + j + g + 1);
            if g + 1 < G {
                ks[g + 1] = kn[g];
            }
        }
        let check = check + self.group::<G, NAN>(t0 + j * len, j * len, ks, kn);
        if self.row_shift {
            for (g, &kg) in ks.iter().enumerate() {
                self.ks[(j + g) * len..(j + g + 1) * len].fill(kg);
            }
        }
        (check, kn[G - 1])
    }

    /// Window sums (and counts, with NAN) for the rows [t0, t1) of one tile. Without masks it
    /// returns whether every row used was an observation: a missing value makes its block's
    /// `T::check` NaN or infinite (a false alarm on overflow only costs the masked scan, which
    /// gives the same values).
    #[inline(always)]
    fn scan<const NAN: bool>(&mut self, t0: usize, t1: usize) -> bool {
        let len = self.len;
        let rows = t1 - t0;
        let b0 = t0 / len;
        let nb = rows.div_ceil(len);
        let mut check = 0.0;
        let mut k = self.shift::<NAN>(b0);
        if b0 == 0 {
            let l = rows.min(len);
            self.ss[..l].fill([0.0; W]);
            self.cs[..l].fill(0.0);
        } else {
            check += self.suffix::<NAN>(t0 - len, k, 0, rows.min(len));
        }
        let whole = rows / len; // whole blocks in the tile
        let mut j = 0;
        while j < nb {
            let bs = t0 + j * len;
            if j + GROUP < whole {
                // GROUP whole blocks, each followed by a whole block of the tile.
                (check, k) = self.groups::<GROUP, NAN>(check, k, t0, j);
                j += GROUP;
                continue;
            }
            if j + 1 < whole {
                (check, k) = self.groups::<1, NAN>(check, k, t0, j);
                j += 1;
                continue;
            }
            let l = (t1 - bs).min(len);
            check += self.prefix::<NAN>(bs, l, k, j * len);
            if self.row_shift {
                self.ks[j * len..j * len + l].fill(k);
            }
            if j + 1 < nb {
                let k1 = self.shift::<NAN>(b0 + j + 1);
                self.suffix::<NAN>(bs, k1, (j + 1) * len, t1 - bs - len);
                k = k1;
            }
            j += 1;
        }
        check.is_finite()
    }

    /// Re-anchor the windows that end at rows t.. of t's block (tile row i, tile [t0, t1)) at
    /// the mean of the window that ends at t: their sums are recomputed with that shift, O(len).
    /// Returns the end of the block (a tile row).
    fn reanchor(&mut self, t0: usize, i: usize, t1: usize) -> usize {
        let (x, y, len) = (self.x, self.y, self.len);
        let t = t0 + i;
        let start = (t + 1).saturating_sub(len);
        let bs = t / len * len;
        let be = bs.saturating_add(len).min(t1);
        let k = T::window_mean(&x[start..=t], &y[start..=t]);
        self.ss[i..be - t0].fill([0.0; W]);
        // Suffix parts: the window that starts at row j < bs ends at row j + len − 1 ≥ t.
        let mut acc = [0.0f64; W];
        for j in (start..bs).rev() {
            add_to(&mut acc, &T::terms::<true>(x[j], y[j], k).0);
            let r = j + len - 1;
            if r < be {
                self.ss[r - t0] = acc;
            }
        }
        // Prefix parts over the block.
        let mut acc = [0.0f64; W];
        for r in bs..be {
            add_to(&mut acc, &T::terms::<true>(x[r], y[r], k).0);
            if r >= t {
                self.sp[r - t0] = acc;
                if self.row_shift {
                    self.ks[r - t0] = k;
                }
            }
        }
        be - t0
    }
}

/// Which rows of a tile need the careful path, and that path for every row flagged: the
/// first rows of the series (before the window is full, or row 0), the rows of flagged chunks,
/// the rows after a re-anchoring (up to the end of the block) and the last partial chunk.
/// `row(i)` computes tile row i carefully and returns the end of the block if it re-anchored.
#[inline(always)]
fn careful_rows(first: usize, rows: usize, flags: &[bool], mut row: impl FnMut(usize) -> usize) {
    let nch = flags.len();
    let mut redo = 0;
    let mut i = 0;
    while i < rows {
        if i >= first && i >= redo {
            let ch = (i - first) / CHUNK;
            if ch < nch && !flags[ch] {
                i = first + (ch + 1) * CHUNK;
                continue;
            }
        }
        redo = redo.max(row(i));
        i += 1;
    }
}

/// The first tile row that the branch-free pass may take: rows before the window is full (no
/// missing values: n is then `len`) and row 0 (no previous row) are careful rows.
fn first_fast_row<const NAN: bool>(t0: usize, len: usize, rows: usize) -> usize {
    if t0 > 0 {
        0
    } else if NAN {
        1.min(rows)
    } else {
        (len - 1).max(1).min(rows)
    }
}

// ------------------------------------------------------------------------------------------
// Moment statistics: sum, mean, var, std, zscore, skew, kurt

/// The statistic from the window power sums s (about the shift K), n and x_t − K (zscore).
/// The formulas of `Moments::calc`, with the divisions by n as products with 1/n.
#[inline(always)]
fn finish<const S: u8, const P: usize>(s: &[f64; P], c: &PerN, dt: f64) -> f64 {
    let at = |q: usize| if q < P { s[q] } else { 0.0 };
    let s1 = at(0);
    match S {
        SUM => s1,
        MEAN => s1 / c.n,
        _ => {
            let a = s1 * c.inv_n; // mean − K
            let q = at(1) - s1 * a;
            let ssq = if q > 0.0 { q } else { 0.0 };
            match S {
                VAR => ssq * c.inv_dof,
                STD => (ssq * c.inv_dof).sqrt(),
                ZSCORE => {
                    let sd = (ssq * c.inv_dof).sqrt();
                    let z = (dt - a) / sd;
                    if dt.is_finite() && sd != 0.0 {
                        z
                    } else {
                        f64::NAN
                    }
                }
                _ => {
                    let b = ssq * c.inv_n; // m2
                    let m3 = at(2) * c.inv_n - a * a * a - 3.0 * a * b;
                    let v = if S == SKEW {
                        c.skew_q * m3 / (b * b.sqrt())
                    } else {
                        let m4 = at(3) * c.inv_n - a * a * a * a - 6.0 * b * a * a - 4.0 * m3 * a;
                        (c.kurt_a * m4 / (b * b) - c.kurt_b) * c.kurt_inv
                    };
                    if b > MOMENT_EPS {
                        v
                    } else {
                        f64::NAN
                    }
                }
            }
        }
    }
}

/// The statistic of a window whose n observations all equal v.
#[inline(always)]
fn constant_value<const S: u8>(v: f64, n: f64) -> f64 {
    match S {
        SUM => v * n,
        MEAN => v,
        VAR | STD => 0.0,
        _ => f64::NAN, // zscore 0/0; skew and kurt have m2 = 0 ≤ 1e-14
    }
}

/// Sum, mean, var, std, zscore, skew or kurt (S) over one series; P is the highest power.
struct MomentBatch<'a, const P: usize> {
    scan: Scan<'a, Powers<P>, P>,
    ddof: f64,
    need: f64,
    /// Per chunk of the tile: some row needs the careful path.
    flags: Vec<bool>,
}

impl<'a, const P: usize> MomentBatch<'a, P> {
    fn new(x: &'a [f64], stat: Stat, w: Window, rows: usize) -> Self {
        MomentBatch {
            scan: Scan::new(x, x, w.len, rows, stat == Stat::ZScore),
            ddof: w.ddof as f64,
            need: w.min_periods.max(stat.min_obs(w.ddof)) as f64,
            flags: Vec::new(),
        }
    }

    /// Tile row i with every rule: the minimum count, a constant window, drift (re-anchoring).
    /// Returns the end of the block (a tile row) if it re-anchored, else 0.
    fn careful<const S: u8, const NAN: bool>(
        &mut self,
        run: &mut RunScan,
        t0: usize,
        i: usize,
        out: &mut [f64],
    ) -> usize {
        let sc = &mut self.scan;
        let (x, len) = (sc.x, sc.len);
        let t = t0 + i;
        let n = if NAN {
            sc.cs[i] + sc.cp[i]
        } else {
            (t + 1).min(len) as f64
        };
        if n < self.need {
            out[i] = f64::NAN;
            return 0;
        }
        let (constant, v) = run.constant(x, x, (t + 1).saturating_sub(len), t);
        if constant {
            out[i] = constant_value::<S>(v, n);
            return 0;
        }
        let s = sc.sums(i);
        let mut redo = 0;
        if P >= 2 && n >= 2.0 && drifted(s[0], s[1.min(P - 1)], n) {
            redo = sc.reanchor(t0, i, t0 + out.len());
        }
        let dt = if S == ZSCORE { x[t] - sc.ks[i] } else { 0.0 };
        out[i] = finish::<S, P>(&sc.sums(i), &PerN::new(n, self.ddof), dt);
        redo
    }

    /// The statistic for the rows of one tile (starting at row t0) from the window sums: a
    /// branch-free pass over chunks of CHUNK rows, then the careful rows.
    #[inline(always)]
    fn calc<const S: u8, const NAN: bool>(&mut self, t0: usize, out: &mut [f64]) {
        let sc = &self.scan;
        let (x, len) = (sc.x, sc.len);
        let rows = out.len();
        let first = first_fast_row::<NAN>(t0, len, rows);
        let fixed = PerN::new(len as f64, self.ddof);
        self.flags.clear();
        for a in (first..rows + 1 - CHUNK.min(rows + 1)).step_by(CHUNK) {
            let r = a..a + CHUNK;
            // The next tile's rows, at the same pace: its scan then finds them in the cache.
            prefetch(x, t0 + rows + a);
            prefetch(x, t0 + rows + a + CHUNK / 2);
            let flag = moment_chunk::<S, P, NAN>(
                (&mut out[r.clone()]).try_into().unwrap(),
                sc.ss[r.clone()].try_into().unwrap(),
                sc.sp[r.clone()].try_into().unwrap(),
                if NAN {
                    sc.cs[r.clone()].try_into().unwrap()
                } else {
                    &ZEROS
                },
                if NAN {
                    sc.cp[r.clone()].try_into().unwrap()
                } else {
                    &ZEROS
                },
                if S == ZSCORE {
                    sc.ks[r.clone()].try_into().unwrap()
                } else {
                    &ZEROS
                },
                x[t0 + a - 1..t0 + a + CHUNK].try_into().unwrap(),
                &fixed,
                self.need,
                self.ddof,
                len == 1,
            );
            self.flags.push(flag);
        }
        let mut run = RunScan::new((t0 + 1).saturating_sub(len));
        let flags = std::mem::take(&mut self.flags);
        careful_rows(first, rows, &flags, |i| {
            self.careful::<S, NAN>(&mut run, t0, i, out)
        });
        self.flags = flags;
    }

    /// Rows [r0, r0 + out.len()) of the statistic; r0 is a multiple of `tile`.
    #[inline(always)]
    fn run<const S: u8>(&mut self, r0: usize, out: &mut [f64], tile: usize) {
        let mut t0 = r0;
        for o in out.chunks_mut(tile) {
            let t1 = t0 + o.len();
            if self.scan.scan::<false>(t0, t1) {
                self.calc::<S, false>(t0, o);
            } else {
                self.scan.scan::<true>(t0, t1);
                self.calc::<S, true>(t0, o);
            }
            t0 = t1;
        }
    }
}

/// The statistic for one chunk of rows, branch-free (it vectorises): n is `fixed.n` or, in a
/// tile with missing values, the count. Returns whether a row needs the careful path: its
/// window may be constant (its last two rows are equal or not both observed) or has drifted.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn moment_chunk<const S: u8, const P: usize, const NAN: bool>(
    out: &mut [f64; CHUNK],
    ss: &[[f64; P]; CHUNK],
    sp: &[[f64; P]; CHUNK],
    cs: &[f64; CHUNK],
    cp: &[f64; CHUNK],
    ks: &[f64; CHUNK],
    xw: &[f64; CHUNK + 1],
    fixed: &PerN,
    need: f64,
    ddof: f64,
    len1: bool,
) -> bool {
    let mut flag = false;
    for j in 0..CHUNK {
        let n = if NAN { cs[j] + cp[j] } else { fixed.n };
        let c = if NAN { PerN::new(n, ddof) } else { *fixed };
        let mut s = ss[j];
        add_to(&mut s, &sp[j]);
        let (xp, xt) = (xw[j], xw[j + 1]);
        let v = finish::<S, P>(&s, &c, xt - ks[j]);
        let ok = n >= need;
        out[j] = if ok { v } else { f64::NAN };
        let maybe_constant = if NAN {
            !(xt.is_finite() & xp.is_finite() & (xt != xp)) | (n <= 1.0)
        } else {
            (xt == xp) | len1
        };
        let drift = P >= 2 && drifted(s[0], s[1.min(P - 1)], n);
        flag |= ok & (maybe_constant | drift);
    }
    flag
}

// ------------------------------------------------------------------------------------------
// Correlation and covariance

/// cov (CORR = false) or corr from the window sums of a pair, with exact zeros for a constant
/// side: the formulas of `CoMoments::centred` and `CoMoments::calc`.
#[inline(always)]
fn pair_finish<const CORR: bool>(s: &[f64; 5], c: &PerN, const_x: bool, const_y: bool) -> f64 {
    let (ax, ay) = (s[0] * c.inv_n, s[1] * c.inv_n);
    let (qx, qy) = (s[2] - s[0] * ax, s[3] - s[1] * ay);
    let cxx = if !const_x && qx > 0.0 { qx } else { 0.0 };
    let cyy = if !const_y && qy > 0.0 { qy } else { 0.0 };
    let cxy = if const_x || const_y {
        0.0
    } else {
        s[4] - s[0] * ay
    };
    if CORR {
        let r = (cxy / (cxx.sqrt() * cyy.sqrt())).clamp(-1.0, 1.0);
        if cxx > 0.0 && cyy > 0.0 {
            r
        } else {
            f64::NAN
        }
    } else {
        cxy * c.inv_dof
    }
}

/// corr or cov of two series.
struct PairBatch<'a> {
    scan: Scan<'a, PairTerms, 5>,
    ddof: f64,
    need: f64,
    flags: Vec<bool>,
}

impl<'a> PairBatch<'a> {
    fn new(x: &'a [f64], y: &'a [f64], stat: PairStat, w: Window, rows: usize) -> Self {
        PairBatch {
            scan: Scan::new(x, y, w.len, rows, false),
            ddof: w.ddof as f64,
            need: w.min_periods.max(stat.min_obs(w.ddof)) as f64,
            flags: Vec::new(),
        }
    }

    /// As `MomentBatch::careful`, with a run and a drift rule per side.
    fn careful<const CORR: bool, const NAN: bool>(
        &mut self,
        runs: &mut [RunScan; 2],
        t0: usize,
        i: usize,
        out: &mut [f64],
    ) -> usize {
        let sc = &mut self.scan;
        let (x, y, len) = (sc.x, sc.y, sc.len);
        let t = t0 + i;
        let n = if NAN {
            sc.cs[i] + sc.cp[i]
        } else {
            (t + 1).min(len) as f64
        };
        if n < self.need {
            out[i] = f64::NAN;
            return 0;
        }
        let start = (t + 1).saturating_sub(len);
        let const_x = runs[0].constant(x, y, start, t).0;
        let const_y = runs[1].constant(y, x, start, t).0;
        let s = sc.sums(i);
        let mut redo = 0;
        if n >= 2.0
            && ((!const_x && drifted(s[0], s[2], n)) || (!const_y && drifted(s[1], s[3], n)))
        {
            redo = sc.reanchor(t0, i, t0 + out.len());
        }
        out[i] = pair_finish::<CORR>(&sc.sums(i), &PerN::new(n, self.ddof), const_x, const_y);
        redo
    }

    #[inline(always)]
    fn calc<const CORR: bool, const NAN: bool>(&mut self, t0: usize, out: &mut [f64]) {
        let sc = &self.scan;
        let (x, y, len) = (sc.x, sc.y, sc.len);
        let rows = out.len();
        let first = first_fast_row::<NAN>(t0, len, rows);
        let fixed = PerN::new(len as f64, self.ddof);
        self.flags.clear();
        for a in (first..rows + 1 - CHUNK.min(rows + 1)).step_by(CHUNK) {
            let r = a..a + CHUNK;
            prefetch(x, t0 + rows + a);
            prefetch(y, t0 + rows + a);
            let xw: &[f64; CHUNK + 1] = x[t0 + a - 1..t0 + a + CHUNK].try_into().unwrap();
            let yw: &[f64; CHUNK + 1] = y[t0 + a - 1..t0 + a + CHUNK].try_into().unwrap();
            let ss: &[[f64; 5]; CHUNK] = sc.ss[r.clone()].try_into().unwrap();
            let sp: &[[f64; 5]; CHUNK] = sc.sp[r.clone()].try_into().unwrap();
            let cs: &[f64; CHUNK] = if NAN {
                sc.cs[r.clone()].try_into().unwrap()
            } else {
                &ZEROS
            };
            let cp: &[f64; CHUNK] = if NAN {
                sc.cp[r.clone()].try_into().unwrap()
            } else {
                &ZEROS
            };
            let o: &mut [f64; CHUNK] = (&mut out[r]).try_into().unwrap();
            let mut flag = false;
            for j in 0..CHUNK {
                let n = if NAN { cs[j] + cp[j] } else { fixed.n };
                let c = if NAN { PerN::new(n, self.ddof) } else { fixed };
                let mut s = ss[j];
                add_to(&mut s, &sp[j]);
                let ok = n >= self.need;
                let v = pair_finish::<CORR>(&s, &c, false, false);
                o[j] = if ok { v } else { f64::NAN };
                let (xp, xt, yp, yt) = (xw[j], xw[j + 1], yw[j], yw[j + 1]);
                let maybe_constant = if NAN {
                    let both = xt.is_finite() & yt.is_finite() & xp.is_finite() & yp.is_finite();
                    !(both & (xt != xp) & (yt != yp)) | (n <= 1.0)
                } else {
                    (xt == xp) | (yt == yp) | (len == 1)
                };
                let drift = drifted(s[0], s[2], n) | drifted(s[1], s[3], n);
                flag |= ok & (maybe_constant | drift);
            }
            self.flags.push(flag);
        }
        let mut runs = [
            RunScan::new((t0 + 1).saturating_sub(len)),
            RunScan::new((t0 + 1).saturating_sub(len)),
        ];
        let flags = std::mem::take(&mut self.flags);
        careful_rows(first, rows, &flags, |i| {
            self.careful::<CORR, NAN>(&mut runs, t0, i, out)
        });
        self.flags = flags;
    }

    #[inline(always)]
    fn run<const CORR: bool>(&mut self, r0: usize, out: &mut [f64], tile: usize) {
        let mut t0 = r0;
        for o in out.chunks_mut(tile) {
            let t1 = t0 + o.len();
            if self.scan.scan::<false>(t0, t1) {
                self.calc::<CORR, false>(t0, o);
            } else {
                self.scan.scan::<true>(t0, t1);
                self.calc::<CORR, true>(t0, o);
            }
            t0 = t1;
        }
    }
}

// ------------------------------------------------------------------------------------------
// Min and max

/// Min (MAX = false) or max over one series: the extreme of the window is that of a suffix of
/// the previous block and a prefix of the row's block.
struct ExtremeBatch<'a, const MAX: bool> {
    x: &'a [f64],
    len: usize,
    need: f64,
    /// The extreme of the window's part in the previous block (suffix) and in the row's block
    /// (prefix), per tile row.
    ms: Vec<f64>,
    mp: Vec<f64>,
    cs: Vec<f64>,
    cp: Vec<f64>,
}

impl<'a, const MAX: bool> ExtremeBatch<'a, MAX> {
    const NONE: f64 = if MAX {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    };

    fn new(x: &'a [f64], w: Window, rows: usize) -> Self {
        let v = || vec![0.0; rows];
        ExtremeBatch {
            x,
            len: w.len,
            need: w.min_periods as f64,
            ms: v(),
            mp: v(),
            cs: v(),
            cp: v(),
        }
    }

    /// Whether a is strictly beyond b (greater for max).
    #[inline(always)]
    fn beyond(a: f64, b: f64) -> bool {
        if MAX {
            a > b
        } else {
            a < b
        }
    }

    #[inline(always)]
    fn masked<const NAN: bool>(v: f64) -> (f64, f64) {
        if NAN {
            let f = v.is_finite();
            (if f { v } else { Self::NONE }, if f { 1.0 } else { 0.0 })
        } else {
            (v, 1.0)
        }
    }

    /// As `Scan::suffix`. On ties the later row wins, as in the streaming deque.
    #[inline(always)]
    fn suffix<const NAN: bool>(&mut self, src: usize, o: usize, lp: usize) {
        let len = self.len;
        let src = &self.x[src..src + len];
        let split = lp.min(len - 1);
        if lp >= len {
            self.ms[o + len - 1] = Self::NONE;
            self.cs[o + len - 1] = 0.0;
        }
        let mut acc = Self::NONE;
        let mut c = 0.0;
        for &v in src[split + 1..].iter().rev() {
            let (u, f) = Self::masked::<NAN>(v);
            acc = if Self::beyond(u, acc) { u } else { acc };
            c += f;
        }
        let src = &src[1..split + 1];
        let cnt = &mut self.cs[o..o + split];
        let dst = &mut self.ms[o..o + split];
        for j in (0..split).rev() {
            let (u, f) = Self::masked::<NAN>(src[j]);
            acc = if Self::beyond(u, acc) { u } else { acc };
            dst[j] = acc;
            if NAN {
                c += f;
                cnt[j] = c;
            }
        }
    }

    /// As `Scan::prefix`; ties again go to the later row.
    #[inline(always)]
    fn prefix<const NAN: bool>(&mut self, bs: usize, l: usize, o: usize) {
        let src = &self.x[bs..bs + l];
        let cnt = &mut self.cp[o..o + l];
        let dst = &mut self.mp[o..o + l];
        let mut acc = Self::NONE;
        let mut c = 0.0;
        for i in 0..l {
            let (u, f) = Self::masked::<NAN>(src[i]);
            acc = if Self::beyond(acc, u) { acc } else { u };
            dst[i] = acc;
            if NAN {
                c += f;
                cnt[i] = c;
            }
        }
    }

    #[inline(always)]
    fn scan<const NAN: bool>(&mut self, t0: usize, t1: usize) {
        let len = self.len;
        let rows = t1 - t0;
        let nb = rows.div_ceil(len);
        if t0 == 0 {
            let l = rows.min(len);
            self.ms[..l].fill(Self::NONE);
            self.cs[..l].fill(0.0);
        } else {
            self.suffix::<NAN>(t0 - len, 0, rows.min(len));
        }
        for j in 0..nb {
            let bs = t0 + j * len;
            let l = (t1 - bs).min(len);
            self.prefix::<NAN>(bs, l, j * len);
            if j + 1 < nb {
                self.suffix::<NAN>(bs, (j + 1) * len, (t1 - bs - len).min(len));
            }
        }
    }

    #[inline(always)]
    fn run(&mut self, r0: usize, out: &mut [f64], tile: usize) {
        let len = self.len;
        let mut t0 = r0;
        for o in out.chunks_mut(tile) {
            let rows = o.len();
            let t1 = t0 + rows;
            let nan = !all_finite(&self.x[t0.saturating_sub(len)..t1]);
            if nan {
                self.scan::<true>(t0, t1);
            } else {
                self.scan::<false>(t0, t1);
            }
            for (a, oc) in o.chunks_mut(CHUNK).enumerate() {
                let a = a * CHUNK;
                prefetch(self.x, t1 + a);
                prefetch(self.x, t1 + a + CHUNK / 2);
                for (j, y) in oc.iter_mut().enumerate() {
                    let i = a + j;
                    let (s, p) = (self.ms[i], self.mp[i]);
                    let m = if Self::beyond(s, p) { s } else { p };
                    let n = if nan {
                        self.cs[i] + self.cp[i]
                    } else {
                        (t0 + i + 1).min(len) as f64
                    };
                    *y = if n >= self.need { m } else { f64::NAN };
                }
            }
            t0 = t1;
        }
    }
}

// ------------------------------------------------------------------------------------------
// Entry points

/// Rows [r0, r0 + out.len()) of the rolling statistic of `x` into `out`, tile by tile; r0 is
/// a multiple of `tile`, which is a multiple of the window. Expects a checked window.
///
/// With `simd` and a CPU that has AVX2 (checked at run time; the build itself targets the
/// baseline ISA), this runs a copy of the same code compiled for AVX2, which doubles the
/// throughput of the divisions and square roots. The values are the same bits: every
/// operation is a correctly rounded IEEE operation in the same order (FMA is not enabled,
/// and Rust never contracts a·b + c on its own).
fn batch_range(
    x: &[f64],
    stat: Stat,
    w: Window,
    tile: usize,
    r0: usize,
    out: &mut [f64],
    simd: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if simd && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { batch_range_avx2(x, stat, w, tile, r0, out) };
    }
    let _ = simd;
    batch_range_impl(x, stat, w, tile, r0, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn batch_range_avx2(
    x: &[f64],
    stat: Stat,
    w: Window,
    tile: usize,
    r0: usize,
    out: &mut [f64],
) {
    batch_range_impl(x, stat, w, tile, r0, out)
}

#[inline(always)]
fn batch_range_impl(x: &[f64], stat: Stat, w: Window, tile: usize, r0: usize, out: &mut [f64]) {
    let rows = out.len().min(tile);
    match stat {
        Stat::Min => ExtremeBatch::<false>::new(x, w, rows).run(r0, out, tile),
        Stat::Max => ExtremeBatch::<true>::new(x, w, rows).run(r0, out, tile),
        Stat::Sum => MomentBatch::<1>::new(x, stat, w, rows).run::<SUM>(r0, out, tile),
        Stat::Mean => MomentBatch::<1>::new(x, stat, w, rows).run::<MEAN>(r0, out, tile),
        Stat::Var => MomentBatch::<2>::new(x, stat, w, rows).run::<VAR>(r0, out, tile),
        Stat::Std => MomentBatch::<2>::new(x, stat, w, rows).run::<STD>(r0, out, tile),
        Stat::ZScore => MomentBatch::<2>::new(x, stat, w, rows).run::<ZSCORE>(r0, out, tile),
        Stat::Skew => MomentBatch::<3>::new(x, stat, w, rows).run::<SKEW>(r0, out, tile),
        Stat::Kurt => MomentBatch::<4>::new(x, stat, w, rows).run::<KURT>(r0, out, tile),
    }
}

/// As `batch_range` for corr/cov of `x` and `y` (equal lengths).
fn pair_range(
    x: &[f64],
    y: &[f64],
    stat: PairStat,
    w: Window,
    tile: usize,
    out: &mut [f64],
    simd: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if simd && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { pair_range_avx2(x, y, stat, w, tile, out) };
    }
    let _ = simd;
    pair_range_impl(x, y, stat, w, tile, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pair_range_avx2(
    x: &[f64],
    y: &[f64],
    stat: PairStat,
    w: Window,
    tile: usize,
    out: &mut [f64],
) {
    pair_range_impl(x, y, stat, w, tile, out)
}

#[inline(always)]
fn pair_range_impl(x: &[f64], y: &[f64], stat: PairStat, w: Window, tile: usize, out: &mut [f64]) {
    let mut b = PairBatch::new(x, y, stat, w, out.len().min(tile));
    match stat {
        PairStat::Corr => b.run::<true>(0, out, tile),
        PairStat::Cov => b.run::<false>(0, out, tile),
    }
}

/// `rolling` with tiles of `tile` rows (rounded to whole blocks; the values do not depend on
/// it, and tests use small tiles to cross many tile boundaries), or the default tiles. Without
/// `simd`, the baseline code even on a CPU with AVX2 (tests compare the two).
pub(crate) fn rolling_tiled(
    x: &[f64],
    stat: Stat,
    w: Window,
    tile: Option<usize>,
    simd: bool,
) -> Result<Vec<f64>, DataError> {
    w.check(stat)?;
    let mut out = vec![0.0; x.len()];
    let tile = tile.map_or(default_tile(w.len), |t| tile_rows(w.len, t));
    batch_range(x, stat, w, tile, 0, &mut out, simd);
    Ok(out)
}

/// `rolling_pair` with tiles of `tile` rows or the default ones, as `rolling_tiled`.
pub(crate) fn rolling_pair_tiled(
    x: &[f64],
    y: &[f64],
    stat: PairStat,
    w: Window,
    tile: Option<usize>,
    simd: bool,
) -> Result<Vec<f64>, DataError> {
    check_lengths(x, y)?;
    w.check_pair(stat)?;
    let mut out = vec![0.0; x.len()];
    let tile = tile.map_or(default_tile(w.len), |t| tile_rows(w.len, t));
    pair_range(x, y, stat, w, tile, &mut out, simd);
    Ok(out)
}

/// The rolling statistic of `x` (one output per row, NaN where undefined).
pub fn rolling(x: &[f64], stat: Stat, w: Window) -> Result<Vec<f64>, DataError> {
    rolling_tiled(x, stat, w, None, true)
}

/// `rolling` into `out`, which must be as long as `x` (no allocation of the result: writing
/// into memory that is already mapped also avoids the page faults of a fresh result).
pub fn rolling_into(x: &[f64], stat: Stat, w: Window, out: &mut [f64]) -> Result<(), DataError> {
    w.check(stat)?;
    check_lengths(x, out)?;
    batch_range(x, stat, w, default_tile(w.len), 0, out, true);
    Ok(())
}

/// `rolling` for many series at once. Long series are cut into time blocks of about 65 536
/// rows (whole tiles) and the blocks of all series run as independent rayon tasks; each block
/// reads the rows before it that its first windows need. The cut does not depend on the
/// number of threads and the values do not depend on the cut, so the result is `rolling`'s,
/// bit for bit, at any thread count.
pub fn rolling_many<S: AsRef<[f64]> + Sync>(
    xs: &[S],
    stat: Stat,
    w: Window,
) -> Result<Vec<Vec<f64>>, DataError> {
    rolling_many_tasks(xs, stat, w, TASK_TARGET)
}

/// `rolling_many` with time blocks of about `task_target` rows (tests use small ones).
pub(crate) fn rolling_many_tasks<S: AsRef<[f64]> + Sync>(
    xs: &[S],
    stat: Stat,
    w: Window,
    task_target: usize,
) -> Result<Vec<Vec<f64>>, DataError> {
    w.check(stat)?;
    let tile = default_tile(w.len);
    let task = tile.saturating_mul((task_target / tile).max(1));
    let mut outs: Vec<Vec<f64>> = xs.iter().map(|x| vec![0.0; x.as_ref().len()]).collect();
    let jobs: Vec<(usize, usize, &mut [f64])> = outs
        .iter_mut()
        .enumerate()
        .flat_map(|(i, o)| {
            o.chunks_mut(task)
                .enumerate()
                .map(move |(j, c)| (i, j * task, c))
        })
        .collect();
    jobs.into_par_iter()
        .for_each(|(i, r0, out)| batch_range(xs[i].as_ref(), stat, w, tile, r0, out, true));
    Ok(outs)
}

/// Naive reference for `rolling`: every window recomputed from scratch with the two-pass
/// formula (mean first, then the central moments, both over the values minus the window's
/// first value). O(n·len); for tests. Expects a valid window.
pub fn rolling_reference(x: &[f64], stat: Stat, w: Window) -> Vec<f64> {
    (0..x.len())
        .map(|t| {
            let lo = (t + 1).saturating_sub(w.len);
            let v: Vec<f64> = x[lo..=t]
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
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
    let md = if constant {
        0.0
    } else {
        d.iter().sum::<f64>() / nf
    };
    let m = |p: i32| {
        if constant {
            0.0
        } else {
            d.iter().map(|&u| (u - md).powi(p)).sum::<f64>()
        }
    };
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
                ((nf + 1.0) * m4 / (m2 * m2) - 3.0 * (nf - 1.0)) * (nf - 1.0)
                    / ((nf - 2.0) * (nf - 3.0))
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
        CoMoments {
            nobs: 0,
            kx: 0.0,
            ky: 0.0,
            s: [Acc::default(); 5],
            run_x: Run::new(),
            run_y: Run::new(),
        }
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
        let cxx = if const_x {
            0.0
        } else {
            (self.s[2].value() - sx * ax).max(0.0)
        };
        let cyy = if const_y {
            0.0
        } else {
            (self.s[3].value() - sy * ay).max(0.0)
        };
        let cxy = if const_x || const_y {
            0.0
        } else {
            self.s[4].value() - sx * ay
        };
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
            PairStat::Corr if cxx > 0.0 && cyy > 0.0 => {
                (cxy / (cxx.sqrt() * cyy.sqrt())).clamp(-1.0, 1.0)
            }
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
        let (x, y) = if x.is_finite() && y.is_finite() {
            (x, y)
        } else {
            (f64::NAN, f64::NAN)
        };
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
pub fn rolling_pair(
    x: &[f64],
    y: &[f64],
    stat: PairStat,
    w: Window,
) -> Result<Vec<f64>, DataError> {
    rolling_pair_tiled(x, y, stat, w, None, true)
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
            let v: Vec<(f64, f64)> = (lo..=t)
                .map(|i| (x[i], y[i]))
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .collect();
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
            let cxy = if const_x || const_y {
                0.0
            } else {
                v.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
            };
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
        [EwmStat::Mean, EwmStat::Std]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

fn check_alpha(alpha: f64) -> Result<(), DataError> {
    if !(alpha > 0.0 && alpha <= 1.0) {
        return Err(DataError::arg(format!(
            "Expected alpha in (0, 1] but received {alpha}"
        )));
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
        Ok(EwmStream {
            stat,
            alpha,
            mean: Acc {
                hi: f64::NAN,
                lo: 0.0,
            },
            var: 0.0,
            q: 0.0,
            old_wt: 1.0,
        })
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
                    let var = obs
                        .iter()
                        .map(|o| o.0 * ((o.1 - v) - md).powi(2))
                        .sum::<f64>()
                        / total;
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
                    out.push(if rng.random::<f64>() < 0.02 {
                        v * 1e3
                    } else {
                        v
                    });
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
                let run = if rng.random::<f64>() < 0.2 {
                    rng.random_range(1..50)
                } else {
                    1
                };
                for v in out.iter_mut().skip(i).take(run) {
                    *v = if rng.random::<f64>() < 0.1 {
                        f64::INFINITY
                    } else {
                        f64::NAN
                    };
                }
                i += run;
            } else {
                i += 1;
            }
        }
        out
    }

    fn same_bits(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    }

    fn window_obs(x: &[f64], t: usize, len: usize) -> Vec<f64> {
        x[(t + 1).saturating_sub(len)..=t]
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect()
    }

    /// Kernel vs two-pass reference. NaN positions must be identical. Tolerances:
    /// - sum, mean: 4nε·Σ|x| and 4nε·max|x| (the reference sums naively, (n−1)ε·Σ|x|);
    /// - min, max: exact;
    /// - var, std: 1e-12 relative. Both sides are within ~20ε·(1 + (mean−K)²/m2) ≤ ~400ε
    ///   (the kernel re-anchors K when (mean−K)² > 16·m2; the reference's shift is exact);
    /// - zscore: 1e-12·(1 + |z|);
    /// - skew 1e-10·(1 + |skew|), kurt 1e-9·(1 + |kurt|): third and fourth powers amplify the
    ///   rounding of the centred sums by up to (1 + 4)^p; measured maxima are ~1e-13 and ~1e-12.
    fn compare(
        x: &[f64],
        stat: Stat,
        w: Window,
        fast: &[f64],
        reference: &[f64],
    ) -> Result<(), String> {
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
                return Err(format!(
                    "row {t}: {stat} {a} but reference {b}, |diff| {} > {tol} ({w:?})",
                    (a - b).abs()
                ));
            }
        }
        Ok(())
    }

    /// Batch and stream each within `compare`'s tolerances of the reference (they are no
    /// longer the same bits: the batch sums blocks, the stream adds and removes). The batch
    /// values do not depend on the tiling (tiles of one block and of three blocks give the
    /// same bits as the default) nor on the AVX2 copy of the code (the baseline code gives
    /// the same bits).
    fn check_all(x: &[f64], stat: Stat, w: Window) -> Result<Vec<f64>, String> {
        let fast = rolling(x, stat, w).map_err(|e| e.to_string())?;
        let mut s = RollingStream::new(stat, w).unwrap();
        let streamed: Vec<f64> = x.iter().map(|&v| s.update(v)).collect();
        let reference = rolling_reference(x, stat, w);
        compare(x, stat, w, &fast, &reference).map_err(|e| format!("batch: {e}"))?;
        compare(x, stat, w, &streamed, &reference).map_err(|e| format!("stream: {e}"))?;
        for (tile, simd) in [
            (Some(1), true),
            (Some(3 * w.len.min(1 << 20)), true),
            (None, false),
            (Some(1), false),
        ] {
            if !same_bits(&fast, &rolling_tiled(x, stat, w, tile, simd).unwrap()) {
                return Err(format!(
                    "{stat}: tiles of {tile:?} rows (simd {simd}) change the values ({w:?})"
                ));
            }
        }
        Ok(fast)
    }

    fn window_for(stat: Stat, len: usize, mp: f64, ddof: usize) -> Window {
        let len = len.max(stat.min_obs(0));
        let ddof = if stat.uses_ddof() {
            ddof.min(len - 1)
        } else {
            ddof
        };
        Window {
            len,
            min_periods: 1 + ((len - 1) as f64 * mp) as usize,
            ddof,
        }
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
            // The batch values depend neither on the tiling nor on the AVX2 copy of the code.
            for (tile, simd) in [(Some(1), true), (Some(3 * len), true), (Some(1), false), (None, false)] {
                prop_assert!(same_bits(&fast, &rolling_pair_tiled(&x, &y, stat, w, tile, simd).unwrap()), "tile {:?} simd {}", tile, simd);
            }
            let r = rolling_pair_reference(&x, &y, stat, w);
            // Batch and stream (no longer the same bits) each within the tolerance of the
            // reference: corr 1e-12 absolute; cov 1e-12 of σx·σy (the scale of a covariance).
            for (name, got) in [("batch", &fast), ("stream", &streamed)] {
                for t in 0..n {
                    let (a, b) = (got[t], r[t]);
                    prop_assert_eq!(a.is_nan(), b.is_nan(), "{} row {}: {} vs {}", name, t, a, b);
                    if a.is_nan() { continue; }
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
                    prop_assert!((a - b).abs() <= tol, "{} row {}: {} vs {} (tol {})", name, t, a, b, tol);
                }
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
                        let w = Window {
                            len,
                            min_periods: mp,
                            ddof,
                        };
                        let wu = warmup(stat, w);
                        for n in [0usize, 1, 2, len - 1, len, len + 1, 7, 17] {
                            let x = series(0, n, (n * 31 + len) as u64, 0.0);
                            let out = check_all(&x, stat, w).unwrap();
                            let first = out.iter().position(|v| !v.is_nan());
                            assert_eq!(
                                first,
                                if n > wu { Some(wu) } else { None },
                                "{stat} {w:?} n={n}"
                            );
                            assert!(
                                out[wu.min(n)..].iter().all(|v| !v.is_nan()),
                                "{stat} {w:?} n={n}"
                            );
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
        assert_eq!(
            pair_warmup(PairStat::Corr, Window::new(30).with_min_periods(1)),
            1
        );
        assert_eq!(
            pair_warmup(
                PairStat::Cov,
                Window::new(30).with_min_periods(1).with_ddof(0)
            ),
            0
        );
        assert_eq!(pair_warmup(PairStat::Corr, Window::new(30)), 29);
        assert_eq!(
            (ewm_warmup(EwmStat::Mean), ewm_warmup(EwmStat::Std)),
            (0, 1)
        );
    }

    #[test]
    fn missing_values_follow_pandas() {
        let n = f64::NAN;
        // Leading NaNs, a single NaN, an infinity, a run longer than the window, then values.
        let x = [
            n,
            n,
            1.0,
            2.0,
            n,
            4.0,
            f64::INFINITY,
            3.0,
            n,
            n,
            n,
            n,
            n,
            n,
            5.0,
            7.0,
            6.0,
            1.0,
            -2.0,
            0.5,
        ];
        for stat in Stat::ALL {
            let w = Window::new(4).with_min_periods(2);
            let out = check_all(&x, stat, w).unwrap();
            // Rows 11..=14: the window [t−3, t] holds no observation or only one.
            assert!(
                out[11..=14].iter().all(|v| v.is_nan()),
                "{stat}: {:?}",
                &out[8..16]
            );
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
            assert!(
                get(Stat::Skew)[t].is_nan()
                    && get(Stat::Kurt)[t].is_nan()
                    && get(Stat::ZScore)[t].is_nan()
            );
        }
        // Prices: a flat stretch at 1e5 after moves keeps variance exactly 0 and mean exact.
        let p: Vec<f64> = (0..50)
            .map(|i| {
                if i < 30 {
                    1e5 + (i as f64).sin()
                } else {
                    100_000.123
                }
            })
            .collect();
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
        fast.iter()
            .zip(reference)
            .filter(|(a, b)| !a.is_nan() && !b.is_nan())
            .map(|(a, b)| ((a - b) / b).abs())
            .fold(0.0, f64::max)
    }

    fn max_abs(fast: &[f64], reference: &[f64]) -> f64 {
        fast.iter()
            .zip(reference)
            .filter(|(a, b)| !a.is_nan() && !b.is_nan())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
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
            assert!(
                max_rel(&std, &reference) < 1e-12,
                "std {}",
                max_rel(&std, &reference)
            );
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
                    ((s2 - s * s / len as f64) / (len as f64 - 1.0))
                        .max(0.0)
                        .sqrt()
                })
                .collect();
            assert!(
                max_rel(&naive, &reference) > 1e-6,
                "naive {}",
                max_rel(&naive, &reference)
            );
        }
    }

    #[test]
    fn tiny_and_huge_magnitudes() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let tiny: Vec<f64> = (0..500)
            .map(|_| 1e-12 * (1.0 + 0.1 * z(&mut rng)))
            .collect();
        let w = Window::new(20);
        for stat in [
            Stat::Sum,
            Stat::Mean,
            Stat::Var,
            Stat::Std,
            Stat::Min,
            Stat::Max,
            Stat::ZScore,
        ] {
            check_all(&tiny, stat, w).unwrap();
        }
        // m2 ~ 1e-26 ≤ 1e-14: pandas' rule makes skew and kurt NaN at this scale.
        assert!(rolling(&tiny, Stat::Skew, w)
            .unwrap()
            .iter()
            .all(|v| v.is_nan()));
        assert!(rolling(&tiny, Stat::Kurt, w)
            .unwrap()
            .iter()
            .all(|v| v.is_nan()));
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
        let x: Vec<f64> = (0..400)
            .map(|i| if i < 203 { 1e5 } else { 2e5 } + 1e-3 * z(&mut rng))
            .collect();
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
        assert!(
            max_rel(&std[130..], &reference[130..]) < 1e-13,
            "{}",
            max_rel(&std[130..], &reference[130..])
        );
    }

    #[test]
    fn min_max_deque() {
        let x = [
            3.0,
            1.0,
            1.0,
            2.0,
            f64::NAN,
            5.0,
            5.0,
            0.0,
            -0.0,
            4.0,
            4.0,
            4.0,
        ];
        let w = Window::new(3).with_min_periods(1);
        assert_eq!(
            rolling(&x, Stat::Min, w).unwrap(),
            [3.0, 1.0, 1.0, 1.0, 1.0, 2.0, 5.0, 0.0, 0.0, 0.0, -0.0, 4.0]
        );
        assert_eq!(
            rolling(&x, Stat::Max, w).unwrap(),
            [3.0, 3.0, 3.0, 2.0, 2.0, 5.0, 5.0, 5.0, 5.0, 4.0, 4.0, 4.0]
        );
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
        assert!(ewm_std(&[0.1; 50], 0.3).unwrap()[1..]
            .iter()
            .all(|&v| v == 0.0));
        assert_eq!(ewm_mean(&[1.0, 5.0, 2.0], 1.0).unwrap(), [1.0, 5.0, 2.0]);
        assert!(ewm_std(&[1.0, 5.0, 2.0], 1.0)
            .unwrap()
            .iter()
            .all(|v| v.is_nan()));
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
                if i % 97 == 5 {
                    f64::NAN
                } else {
                    p
                }
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
        let xs: Vec<Vec<f64>> = (0..37)
            .map(|i| series((i % 5) as u8, (i * 97) % 2000, i as u64, 0.05))
            .collect();
        for stat in Stat::ALL {
            let w = Window::new(20).with_min_periods(5);
            let run = |threads| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| rolling_many(&xs, stat, w).unwrap())
            };
            let (one, two) = (run(1), run(2));
            assert_eq!(one.len(), xs.len());
            for ((a, b), x) in one.iter().zip(&two).zip(&xs) {
                assert!(same_bits(a, b), "{stat}");
                assert!(same_bits(a, &rolling(x, stat, w).unwrap()), "{stat}");
            }
        }
        let slices: Vec<&[f64]> = xs.iter().map(|x| x.as_slice()).collect();
        assert_eq!(
            rolling_many(&slices, Stat::Mean, Window::new(3))
                .unwrap()
                .len(),
            37
        );
    }

    #[test]
    fn long_series_across_tiles() {
        // Series of several tiles (and of many tiles of one block for long windows), with and
        // without missing values, against the reference on every row. check_all also compares
        // tiles of one and three blocks, and the baseline code with the AVX2 copy.
        for (si, stat) in Stat::ALL.into_iter().enumerate() {
            for (li, len) in [1usize, 2, 7, 20, 333, 2048, 2500].into_iter().enumerate() {
                if len < stat.min_obs(0) {
                    continue;
                }
                let kind = ((si + li) % 5) as u8;
                let nan_p = if li % 2 == 0 { 0.0 } else { 0.01 };
                let x = series(kind, 6000, (si * 10 + li) as u64, nan_p);
                let w = Window::new(len)
                    .with_min_periods(len.div_ceil(2))
                    .with_ddof(usize::from(len > 1));
                check_all(&x, stat, w).unwrap_or_else(|e| panic!("kind {kind}: {e}"));
            }
        }
        for (kx, ky, len) in [(0u8, 2u8, 30usize), (1, 1, 20), (4, 0, 333), (3, 3, 7)] {
            let x = series(kx, 8000, 7 + kx as u64, 0.01);
            let y = series(ky, 8000, 70 + ky as u64, 0.01);
            let w = Window::new(len).with_min_periods(len / 2 + 1);
            for stat in [PairStat::Corr, PairStat::Cov] {
                let fast = rolling_pair(&x, &y, stat, w).unwrap();
                let r = rolling_pair_reference(&x, &y, stat, w);
                for t in 0..x.len() {
                    assert_eq!(
                        fast[t].is_nan(),
                        r[t].is_nan(),
                        "{kx}/{ky} {} row {t}",
                        stat.name()
                    );
                    if r[t].is_nan() {
                        continue;
                    }
                    let tol = if stat == PairStat::Corr {
                        1e-12
                    } else {
                        let sd = |v: &[f64]| {
                            let o: Vec<f64> = ((t + 1).saturating_sub(len)..=t)
                                .filter(|&i| x[i].is_finite() && y[i].is_finite())
                                .map(|i| v[i])
                                .collect();
                            let m = o.iter().sum::<f64>() / o.len() as f64;
                            (o.iter().map(|u| (u - m).powi(2)).sum::<f64>() / o.len() as f64).sqrt()
                        };
                        1e-12 * sd(&x) * sd(&y)
                    };
                    assert!(
                        (fast[t] - r[t]).abs() <= tol,
                        "{} row {t}: {} vs {}",
                        stat.name(),
                        fast[t],
                        r[t]
                    );
                }
                assert!(same_bits(
                    &fast,
                    &rolling_pair_tiled(&x, &y, stat, w, Some(1), false).unwrap()
                ));
            }
        }
    }

    #[test]
    fn rolling_many_splits_long_series_deterministically() {
        // Long series cut into time blocks (of about 1, 3 and the default number of tiles) at
        // 1 and 2 threads: always `rolling`'s bits.
        let xs: Vec<Vec<f64>> = (0..3)
            .map(|i| series(i as u8 + 1, 150_000 + 977 * i, 40 + i as u64, 0.002))
            .collect();
        for stat in [Stat::Mean, Stat::Std, Stat::Kurt, Stat::ZScore, Stat::Max] {
            let w = Window::new(30).with_min_periods(10);
            let single: Vec<Vec<f64>> = xs.iter().map(|x| rolling(x, stat, w).unwrap()).collect();
            for task in [1, 3 * TILE_TARGET, TASK_TARGET] {
                for threads in [1, 2] {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap();
                    let many = pool.install(|| rolling_many_tasks(&xs, stat, w, task).unwrap());
                    for (a, b) in many.iter().zip(&single) {
                        assert!(same_bits(a, b), "{stat}: task {task}, {threads} threads");
                    }
                }
            }
        }
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
        assert!(c[10..]
            .iter()
            .all(|&v| v.is_nan() || (v - 1.0).abs() < 1e-15));
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
        assert!(same_bits(
            &a,
            &x.iter().map(|&v| e.update(v)).collect::<Vec<_>>()
        ));
        assert_eq!(Stat::from_name("zscore"), Some(Stat::ZScore));
        assert_eq!(Stat::from_name("median"), None);
        assert!(Stat::ALL
            .iter()
            .all(|s| Stat::from_name(s.name()) == Some(*s)));
        assert_eq!(PairStat::from_name("corr"), Some(PairStat::Corr));
        assert_eq!(EwmStat::from_name("std"), Some(EwmStat::Std));
    }

    #[test]
    fn argument_errors() {
        let x = [1.0, 2.0, 3.0];
        let msg = |r: Result<Vec<f64>, DataError>| r.unwrap_err().to_string();
        assert_eq!(
            msg(rolling(&x, Stat::Mean, Window::new(0))),
            "Expected a window of at least 1 but received 0"
        );
        assert!(
            msg(rolling(&x, Stat::Mean, Window::new(3).with_min_periods(0)))
                .contains("min_periods between 1 and the window (3) but received 0")
        );
        assert!(
            msg(rolling(&x, Stat::Mean, Window::new(3).with_min_periods(4))).contains("received 4")
        );
        assert!(msg(rolling(&x, Stat::Var, Window::new(3).with_ddof(3)))
            .contains("ddof below the window (3) but received 3"));
        assert!(rolling(&x, Stat::Sum, Window::new(1)).is_ok()); // ddof (default 1) is not used by sum
        assert!(msg(rolling(&x, Stat::Skew, Window::new(2)))
            .contains("skew needs a window of at least 3"));
        assert!(msg(rolling(&x, Stat::Kurt, Window::new(3)))
            .contains("kurt needs a window of at least 4"));
        assert!(
            msg(rolling_corr(&x, &x, Window::new(1))).contains("corr needs a window of at least 2")
        );
        assert!(msg(rolling_cov(&x, &x, Window::new(2).with_ddof(2))).contains("ddof below"));
        assert_eq!(
            msg(rolling_corr(&x, &x[..2], Window::new(2))),
            "Expected series of equal length but received 3 and 2"
        );
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
