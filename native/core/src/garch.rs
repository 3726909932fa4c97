//! GARCH(1,1) with a constant mean, normal or standardised Student-t innovations, in the
//! conventions of arch 7.2 (`arch_model(y, mean='Constant', vol='GARCH', p=1, q=1)`), so fits
//! can be checked against it. See docs/volatility-models.md.
//!
//! Model, on y = 100·r:
//!   y_t = μ + e_t,   σ²_t = ω + α e²_{t−1} + β σ²_{t−1},   e_t = σ_t z_t
//!   σ²_0 = ω + α·b + β·b with b the backcast (below), fixed for every parameter vector.
//! Parameters in the order θ = (μ, ω, α, β[, ν]).
//!
//! The likelihood recursion carries its forward-mode derivatives ∂σ²_t/∂(μ, ω, α, β), so the
//! gradient and the per-observation scores are analytic (checked by central differences in
//! the tests). The fit maximises the likelihood over the box
//!   μ ∈ ±10·max|y|, ω ∈ [1e-8·v, 10·v] (v = mean(r0²)), p = α+β ∈ [0, 1], s = α/p ∈ [0, 1],
//!   ν ∈ [2.05, 500]
//! with a projected quasi-Newton method (`boxmin`), which lands exactly on p = 1 when the
//! likelihood wants α+β > 1.

// `!(x > 0.0)` is deliberate: it is also true for NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use crate::error::DataError;
use nalgebra::DMatrix;
use rayon::prelude::*;

/// Innovation distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dist {
    Normal,
    /// Student t scaled to unit variance, ν > 2.
    StudentT,
}

impl Dist {
    /// Number of parameters: 4 (μ, ω, α, β) or 5 (…, ν).
    pub fn n_params(self) -> usize {
        match self {
            Dist::Normal => 4,
            Dist::StudentT => 5,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dist::Normal => "normal",
            Dist::StudentT => "t",
        }
    }

    pub fn parse(s: &str) -> Result<Dist, DataError> {
        match s {
            "normal" => Ok(Dist::Normal),
            "t" => Ok(Dist::StudentT),
            _ => Err(DataError::arg(format!(
                "Expected 'normal' or 't' for dist but received {s:?}"
            ))),
        }
    }
}

/// Bounds on ν during the fit (arch's).
pub const NU_MIN: f64 = 2.05;
pub const NU_MAX: f64 = 500.0;
/// Backcast window and decay (arch's).
pub const BACKCAST_TAU: usize = 75;
pub const BACKCAST_DECAY: f64 = 0.94;
/// Shortest series `fit` accepts.
pub const MIN_FIT_OBS: usize = 10;

/// GARCH(1,1) parameters; `nu` is `Some` exactly for Student-t innovations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GarchParams {
    pub mu: f64,
    pub omega: f64,
    pub alpha: f64,
    pub beta: f64,
    pub nu: Option<f64>,
}

impl GarchParams {
    pub fn dist(&self) -> Dist {
        if self.nu.is_some() {
            Dist::StudentT
        } else {
            Dist::Normal
        }
    }

    /// θ = (μ, ω, α, β[, ν]).
    pub fn to_vec(&self) -> Vec<f64> {
        let mut v = vec![self.mu, self.omega, self.alpha, self.beta];
        if let Some(nu) = self.nu {
            v.push(nu);
        }
        v
    }

    /// From θ of length 4 (normal) or 5 (t).
    pub fn from_slice(th: &[f64]) -> Result<GarchParams, DataError> {
        if th.len() != 4 && th.len() != 5 {
            return Err(DataError::arg(format!(
                "Expected 4 (normal) or 5 (t) GARCH parameters but received {}",
                th.len()
            )));
        }
        Ok(GarchParams {
            mu: th[0],
            omega: th[1],
            alpha: th[2],
            beta: th[3],
            nu: th.get(4).copied(),
        })
    }

    pub fn persistence(&self) -> f64 {
        self.alpha + self.beta
    }

    /// Parameters for which the recursion is defined: finite, ω > 0, α ≥ 0, β ≥ 0, ν > 2.
    /// α + β ≤ 1 is *not* required here (it is a constraint of the fit, not of the filter).
    pub fn check(&self) -> Result<(), DataError> {
        let bad =
            |what: &str, v: f64| Err(DataError::arg(format!("Expected {what} but received {v}")));
        if !self.mu.is_finite() {
            return bad("a finite mu", self.mu);
        }
        if !(self.omega.is_finite() && self.omega > 0.0) {
            return bad("omega > 0", self.omega);
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return bad("alpha >= 0", self.alpha);
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return bad("beta >= 0", self.beta);
        }
        if let Some(nu) = self.nu {
            if !(nu.is_finite() && nu > 2.0) {
                return bad("nu > 2", nu);
            }
        }
        Ok(())
    }
}

/// Where the variance recursion starts: σ²_0 = ω + α·resid2 + β·sigma2.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FilterInit {
    /// e²_{−1} = σ²_{−1} = backcast (arch's in-sample convention; pass the *training* backcast
    /// when filtering later data).
    Backcast(f64),
    /// Continue from a known state: the last squared residual and variance before the series
    /// (a fit's `state` continues the training sample exactly).
    State { resid2: f64, sigma2: f64 },
}

impl FilterInit {
    fn pair(self) -> (f64, f64) {
        match self {
            FilterInit::Backcast(b) => (b, b),
            FilterInit::State { resid2, sigma2 } => (resid2, sigma2),
        }
    }

    fn check(self) -> Result<(), DataError> {
        let (e2, s2) = self.pair();
        if !(e2.is_finite() && e2 >= 0.0 && s2.is_finite() && s2 >= 0.0) {
            return Err(DataError::arg(format!(
                "Expected a finite non-negative backcast/state but received resid2 {e2}, sigma2 {s2}"
            )));
        }
        Ok(())
    }
}

/// The last squared residual and variance of a sample: the state a filter continues from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GarchState {
    pub resid2: f64,
    pub sigma2: f64,
}

/// Conditional volatilities and likelihood at fixed parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct GarchFilter {
    /// σ_t: the forecast for observation t from data up to t−1.
    pub sigma: Vec<f64>,
    /// e_t = y_t − μ.
    pub resid: Vec<f64>,
    /// Σ_t log-likelihood of observation t (0 for an empty series).
    pub loglik: f64,
    /// σ²_T = ω + α e²_{T−1} + β σ²_{T−1}: the variance forecast for the observation after the series.
    pub forecast_variance: f64,
    /// (e²_{T−1}, σ²_{T−1}); for an empty series the initial pair.
    pub state: GarchState,
}

/// Why the optimiser stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Projected gradient (sup norm, mean log-likelihood, optimiser coordinates) ≤ tolerance.
    Gradient,
    /// With a fresh finite-difference Hessian, the model decrease of a full projected Newton
    /// step is ≤ 1e-14 of the objective: nothing left to gain at working precision.
    Decrease,
    /// No step along the projected quasi-Newton direction decreased the objective, even with a
    /// fresh Hessian (not converged).
    LineSearch,
    MaxIterations,
}

impl StopReason {
    pub fn name(self) -> &'static str {
        match self {
            StopReason::Gradient => "gradient",
            StopReason::Decrease => "decrease",
            StopReason::LineSearch => "line-search",
            StopReason::MaxIterations => "max-iterations",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Convergence {
    /// Stopped by the gradient or the decrease rule.
    pub converged: bool,
    pub iterations: usize,
    /// Objective + gradient evaluations (including the initial Hessian's).
    pub evaluations: usize,
    pub reason: StopReason,
    /// Final projected-gradient sup norm of the mean negative log-likelihood in the optimiser's
    /// coordinates (μ/√v, ω/v, α+β, α/(α+β)[, ν]), v = mean((y − ȳ)²).
    pub grad_norm: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitOptions {
    pub max_iter: usize,
    /// Projected-gradient tolerance (sup norm, optimiser coordinates; see `Convergence`).
    pub tol: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            max_iter: 500,
            tol: 1e-8,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct GarchFit {
    pub dist: Dist,
    pub params: GarchParams,
    /// Bollerslev–Wooldridge robust standard errors, θ order; NaN if the Hessian is singular.
    pub std_err_robust: Vec<f64>,
    /// The robust covariance, k×k row-major.
    pub cov_robust: Vec<f64>,
    pub loglik: f64,
    pub nobs: usize,
    pub backcast: f64,
    pub starting_values: GarchParams,
    /// σ_t, e_t, the next-step variance forecast and the final state, at the fitted parameters.
    pub filter: GarchFilter,
    pub convergence: Convergence,
}

// ---------------------------------------------------------------------------------------------
// Input checks and small numerics

fn check_series(y: &[f64], name: &str) -> Result<(), DataError> {
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        return Err(DataError::arg(format!(
            "Expected finite values for {name} but received {} at index {i}",
            y[i]
        )));
    }
    Ok(())
}

/// Neumaier-compensated sum.
#[derive(Clone, Copy, Default)]
struct Sum {
    s: f64,
    c: f64,
}

impl Sum {
    #[inline]
    fn add(&mut self, v: f64) {
        let t = self.s + v;
        if self.s.abs() >= v.abs() {
            self.c += (self.s - t) + v;
        } else {
            self.c += (v - t) + self.s;
        }
        self.s = t;
    }
    #[inline]
    fn value(&self) -> f64 {
        self.s + self.c
    }
}

fn mean(x: &[f64]) -> f64 {
    let mut s = Sum::default();
    x.iter().for_each(|&v| s.add(v));
    s.value() / x.len() as f64
}

/// ψ(x) = d/dx ln Γ(x) for x > 0: recurrence up to x ≥ 10, then the asymptotic series
/// (truncation error < 1e-16 there).
pub fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    let tail = f
        * (-1.0 / 12.0
            + f * (1.0 / 120.0
                + f * (-1.0 / 252.0
                    + f * (1.0 / 240.0 + f * (-1.0 / 132.0 + f * (691.0 / 32760.0 - f / 12.0))))));
    acc + x.ln() - 0.5 / x + tail
}

/// The ν-only part of the standardised t log-density and its derivative:
/// c(ν) = lnΓ((ν+1)/2) − lnΓ(ν/2) − ½ ln(π(ν−2)).
fn t_const(nu: f64) -> (f64, f64) {
    let c = libm::lgamma((nu + 1.0) / 2.0)
        - libm::lgamma(nu / 2.0)
        - (std::f64::consts::PI * (nu - 2.0)).ln() / 2.0;
    let dc = 0.5 * digamma((nu + 1.0) / 2.0) - 0.5 * digamma(nu / 2.0) - 0.5 / (nu - 2.0);
    (c, dc)
}

// ---------------------------------------------------------------------------------------------
// Backcast, likelihood, filter

/// arch's backcast: Σ_{i<τ} w_i r0_i², τ = min(75, T), w_i ∝ 0.94^i, r0 = y − mean(y).
pub fn backcast(y: &[f64]) -> Result<f64, DataError> {
    if y.is_empty() {
        return Err(DataError::arg(
            "Expected a non-empty y for the backcast but received length 0",
        ));
    }
    check_series(y, "y")?;
    let m = mean(y);
    Ok(backcast_resid(&y.iter().map(|v| v - m).collect::<Vec<_>>()))
}

fn backcast_resid(r0: &[f64]) -> f64 {
    let tau = r0.len().min(BACKCAST_TAU);
    let w: Vec<f64> = (0..tau).map(|i| BACKCAST_DECAY.powf(i as f64)).collect();
    let sw: f64 = w.iter().sum();
    w.iter().zip(r0).map(|(w, r)| r * r * (w / sw)).sum()
}

/// Optional outputs of `eval`.
#[derive(Default)]
struct Out<'a> {
    /// σ²_t, length T.
    sigma2: Option<&'a mut [f64]>,
    /// d loglik / dθ (total), length k.
    grad: Option<&'a mut [f64]>,
    /// Per-observation scores ∂l_t/∂θ, T×k row-major.
    scores: Option<&'a mut [f64]>,
    /// (forecast variance σ²_T, last e², last σ²).
    tail: Option<&'a mut (f64, f64, f64)>,
}

/// Total log-likelihood at θ = (μ, ω, α, β[, ν]) with σ²_0 = ω + α·init.0 + β·init.1 (the
/// initial pair does not depend on θ). NaN if some σ²_t ≤ 0 or a term is not finite.
///
/// Forward mode: d_t = ∂σ²_t/∂(μ, ω, α, β) obeys
///   d_0 = (0, 1, init.0, init.1),
///   d_t = (−2α e_{t−1}, 1, e²_{t−1}, σ²_{t−1}) + β d_{t−1},
/// and ∂l_t/∂θ = ∂l_t/∂σ²_t · d_t + the direct terms in μ (through e_t) and ν.
fn eval(y: &[f64], th: &[f64], init: (f64, f64), mut out: Out) -> f64 {
    let (mu, omega, alpha, beta) = (th[0], th[1], th[2], th[3]);
    let nu = th.get(4).copied();
    let k = th.len();
    let want_d = out.grad.is_some() || out.scores.is_some();
    let ln_2pi = (2.0 * std::f64::consts::PI).ln();
    let (tc, dtc) = nu.map(t_const).unwrap_or((0.0, 0.0));
    let (mut e2_prev, mut s2_prev) = init;
    let mut e_prev = 0.0;
    let mut d = [0.0f64; 4];
    let mut ll = Sum::default();
    let mut g = [Sum::default(); 5];
    let mut gt = [0.0f64; 5];
    for (t, &yt) in y.iter().enumerate() {
        // Same operation order as arch's recursion: ((ω + α·e²) + β·σ²).
        let mut s2 = omega;
        s2 += alpha * e2_prev;
        s2 += beta * s2_prev;
        if want_d {
            d = if t == 0 {
                [0.0, 1.0, e2_prev, s2_prev]
            } else {
                [
                    -2.0 * alpha * e_prev + beta * d[0],
                    1.0 + beta * d[1],
                    e2_prev + beta * d[2],
                    s2_prev + beta * d[3],
                ]
            };
        }
        let e = yt - mu;
        let e2 = e * e;
        let (lt, dl_ds2, dl_dmu, dl_dnu) = match nu {
            None => (
                -0.5 * (ln_2pi + s2.ln() + e2 / s2),
                0.5 * (e2 / s2 - 1.0) / s2,
                e / s2,
                0.0,
            ),
            Some(nu) => {
                let nu2 = nu - 2.0;
                let q = e2 / (s2 * nu2);
                let lq = q.ln_1p();
                let lt = tc - 0.5 * s2.ln() - (nu + 1.0) / 2.0 * lq;
                let dl_ds2 = 0.5 / s2 * ((nu + 1.0) * q / (1.0 + q) - 1.0);
                let dl_dmu = (nu + 1.0) * e / (s2 * nu2 + e2);
                let dl_dnu = dtc - 0.5 * lq + 0.5 * (nu + 1.0) * q / ((1.0 + q) * nu2);
                (lt, dl_ds2, dl_dmu, dl_dnu)
            }
        };
        if s2.is_nan() || s2 <= 0.0 || !lt.is_finite() {
            return f64::NAN;
        }
        ll.add(lt);
        if want_d {
            gt[0] = dl_ds2 * d[0] + dl_dmu;
            gt[1] = dl_ds2 * d[1];
            gt[2] = dl_ds2 * d[2];
            gt[3] = dl_ds2 * d[3];
            gt[4] = dl_dnu;
            for j in 0..k {
                g[j].add(gt[j]);
            }
            if let Some(sc) = out.scores.as_deref_mut() {
                sc[t * k..(t + 1) * k].copy_from_slice(&gt[..k]);
            }
        }
        if let Some(s) = out.sigma2.as_deref_mut() {
            s[t] = s2;
        }
        e_prev = e;
        e2_prev = e2;
        s2_prev = s2;
    }
    if let Some(gr) = out.grad.as_deref_mut() {
        for j in 0..k {
            gr[j] = g[j].value();
        }
    }
    if let Some(tail) = out.tail.as_deref_mut() {
        let mut f = omega;
        f += alpha * e2_prev;
        f += beta * s2_prev;
        *tail = (f, e2_prev, s2_prev);
    }
    ll.value()
}

/// Conditional volatilities, residuals, log-likelihood and next-step forecast at fixed
/// parameters. Causal: σ_t uses y_0..y_{t−1} and `init` only.
pub fn filter(y: &[f64], params: &GarchParams, init: FilterInit) -> Result<GarchFilter, DataError> {
    params.check()?;
    init.check()?;
    check_series(y, "y")?;
    let th = params.to_vec();
    let mut s2 = vec![0.0; y.len()];
    let mut tail = (0.0, 0.0, 0.0);
    // An empty y gives loglik 0 and the forecast and state from `init`.
    let ll = eval(
        y,
        &th,
        init.pair(),
        Out {
            sigma2: Some(&mut s2),
            tail: Some(&mut tail),
            ..Default::default()
        },
    );
    Ok(GarchFilter {
        sigma: s2.iter().map(|v| v.sqrt()).collect(),
        resid: y.iter().map(|v| v - params.mu).collect(),
        loglik: ll,
        forecast_variance: tail.0,
        state: GarchState {
            resid2: tail.1,
            sigma2: tail.2,
        },
    })
}

/// arch's in-sample evaluation at fixed parameters (`model.fix(params)`): the backcast from y
/// itself. Note that the backcast looks at y's first 75 observations, so σ_0..σ_74 are not
/// causal; use `filter` with a training backcast or state for out-of-sample work.
pub fn loglik(y: &[f64], params: &GarchParams) -> Result<(f64, GarchFilter), DataError> {
    let b = backcast(y)?;
    let f = filter(y, params, FilterInit::Backcast(b))?;
    Ok((b, f))
}

// ---------------------------------------------------------------------------------------------
// Fit

/// arch's starting values: μ = mean(y); (ω, α, β) the best Gaussian likelihood on the grid
/// α ∈ {0.01, 0.05, 0.1, 0.2}, α+β ∈ {0.5, 0.7, 0.9, 0.98}, ω = mean(r0²)(1 − α − β);
/// ν from the kurtosis k of the standardised residuals: max((4k−6)/(k−3) if k > 3.75 else 12, 4).
fn starting_values(y: &[f64], r0: &[f64], bc: f64, dist: Dist) -> GarchParams {
    let mu = mean(y);
    let target = mean(&r0.iter().map(|r| r * r).collect::<Vec<_>>());
    let mut best = (f64::NEG_INFINITY, [target, 0.0, 0.0]);
    for alpha in [0.01, 0.05, 0.1, 0.2] {
        for agb in [0.5, 0.7, 0.9, 0.98] {
            let sv = [(1.0 - agb) * target, alpha, agb - alpha];
            let ll = eval(r0, &[0.0, sv[0], sv[1], sv[2]], (bc, bc), Out::default());
            if ll > best.0 {
                best = (ll, sv);
            }
        }
    }
    let [omega, alpha, beta] = best.1;
    let nu = match dist {
        Dist::Normal => None,
        Dist::StudentT => {
            let mut s2 = vec![0.0; r0.len()];
            eval(
                r0,
                &[0.0, omega, alpha, beta],
                (bc, bc),
                Out {
                    sigma2: Some(&mut s2),
                    ..Default::default()
                },
            );
            let z: Vec<f64> = r0.iter().zip(&s2).map(|(r, s)| r / s.sqrt()).collect();
            let m = mean(&z);
            let m2 = mean(&z.iter().map(|v| (v - m).powi(2)).collect::<Vec<_>>());
            let m4 = mean(&z.iter().map(|v| (v - m).powi(4)).collect::<Vec<_>>());
            let kurt = m4 / (m2 * m2);
            let nu = if kurt > 3.75 {
                (4.0 * kurt - 6.0) / (kurt - 3.0)
            } else {
                12.0
            };
            Some(nu.clamp(4.0, NU_MAX))
        }
    };
    GarchParams {
        mu,
        omega,
        alpha,
        beta,
        nu,
    }
}

/// Optimiser coordinates x = (μ, ω, p, s[, ν]) with p = α+β, s = α/p → θ. β is nudged down by
/// an ulp where rounding would make α+β exceed p, so p = 1 gives α+β ≤ 1 exactly.
fn theta_of(x: &[f64]) -> Vec<f64> {
    let (p, s) = (x[2], x[3]);
    let alpha = s * p;
    let mut beta = p - alpha;
    while beta > 0.0 && alpha + beta > p {
        beta = beta.next_down();
    }
    let mut th = vec![x[0], x[1], alpha, beta];
    th.extend_from_slice(&x[4..]);
    th
}

/// g_x = Jᵀ g_θ for the map above (∂α/∂p = s, ∂α/∂s = p, ∂β/∂p = 1−s, ∂β/∂s = −p).
fn grad_x(x: &[f64], gth: &[f64], gx: &mut [f64]) {
    let (p, s) = (x[2], x[3]);
    gx[0] = gth[0];
    gx[1] = gth[1];
    gx[2] = s * gth[2] + (1.0 - s) * gth[3];
    gx[3] = p * (gth[2] - gth[3]);
    gx[4..].copy_from_slice(&gth[4..]);
}

/// Maximum-likelihood fit of GARCH(1,1) with constant mean. Errors only for bad input; an
/// optimiser that does not converge is reported in `convergence`, never hidden.
pub fn fit(y: &[f64], dist: Dist, opts: &FitOptions) -> Result<GarchFit, DataError> {
    check_series(y, "y")?;
    if y.len() < MIN_FIT_OBS {
        return Err(DataError::arg(format!(
            "Expected at least {MIN_FIT_OBS} observations for y but received {}",
            y.len()
        )));
    }
    if !(opts.tol > 0.0 && opts.tol.is_finite()) {
        return Err(DataError::arg(format!(
            "Expected a positive tol but received {}",
            opts.tol
        )));
    }
    let n = y.len();
    let mu0 = mean(y);
    let r0: Vec<f64> = y.iter().map(|v| v - mu0).collect();
    let v = mean(&r0.iter().map(|r| r * r).collect::<Vec<_>>());
    if v.is_nan() || v <= 0.0 {
        return Err(DataError::arg(
            "Expected y with positive variance but all values are equal",
        ));
    }
    let bc = backcast_resid(&r0);
    let sv = starting_values(y, &r0, bc, dist);
    let max_abs = y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let k = dist.n_params();
    // The optimiser works on z = x / scale with x = (μ, ω, p, s[, ν]) and scale = (√v, v, 1, 1, 1),
    // so its path does not depend on the units of y.
    let scale = [v.sqrt(), v, 1.0, 1.0, 1.0];
    let mut lo = vec![-10.0 * max_abs / scale[0], 1e-8, 0.0, 0.0];
    let mut hi = vec![10.0 * max_abs / scale[0], 10.0, 1.0, 1.0];
    let p0 = sv.alpha + sv.beta;
    let mut z0 = vec![
        sv.mu / scale[0],
        sv.omega / scale[1],
        p0,
        if p0 > 0.0 { sv.alpha / p0 } else { 0.5 },
    ];
    if let Some(nu) = sv.nu {
        lo.push(NU_MIN);
        hi.push(NU_MAX);
        z0.push(nu);
    }
    let init = (bc, bc);
    let inv_n = 1.0 / n as f64;
    let mut gth = vec![0.0; k];
    let x_of = |z: &[f64]| -> Vec<f64> { z.iter().zip(scale).map(|(z, s)| z * s).collect() };
    let objective = |z: &[f64], gz: &mut [f64]| -> f64 {
        let x = x_of(z);
        let th = theta_of(&x);
        let ll = eval(
            y,
            &th,
            init,
            Out {
                grad: Some(&mut gth),
                ..Default::default()
            },
        );
        if !ll.is_finite() {
            return f64::INFINITY;
        }
        grad_x(&x, &gth, gz);
        gz.iter_mut().zip(scale).for_each(|(g, s)| *g *= -inv_n * s);
        -ll * inv_n
    };
    let res = boxmin::minimize(
        objective,
        &z0,
        &lo,
        &hi,
        &boxmin::Options {
            max_iter: opts.max_iter,
            pgtol: opts.tol,
            ftol: 1e-12,
        },
    );
    let th = theta_of(&x_of(&res.x));
    let params = GarchParams::from_slice(&th)?;
    let filt = filter(y, &params, FilterInit::Backcast(bc))?;
    let (cov, se) = robust_cov(y, &th, init);
    let converged = matches!(res.stop, StopReason::Gradient | StopReason::Decrease);
    Ok(GarchFit {
        dist,
        params,
        std_err_robust: se,
        cov_robust: cov,
        loglik: filt.loglik,
        nobs: n,
        backcast: bc,
        starting_values: sv,
        filter: filt,
        convergence: Convergence {
            converged,
            iterations: res.iterations,
            evaluations: res.evaluations,
            reason: res.stop,
            grad_norm: res.pg_norm,
        },
    })
}

/// `fit` for many series, one rayon task per series. Inputs are checked first (the error names
/// the series); the fits are independent, so results do not depend on the thread count.
pub fn fit_many(
    ys: &[Vec<f64>],
    dist: Dist,
    opts: &FitOptions,
) -> Result<Vec<GarchFit>, DataError> {
    for (i, y) in ys.iter().enumerate() {
        check_series(y, &format!("ys[{i}]"))?;
    }
    let out: Vec<Result<GarchFit, DataError>> = ys.par_iter().map(|y| fit(y, dist, opts)).collect();
    out.into_iter()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| DataError::arg(format!("ys[{i}]: {e}"))))
        .collect()
}

/// Bollerslev–Wooldridge sandwich at θ: H = Hessian of the mean log-likelihood (central
/// differences of the analytic gradient, step 6e-6·max(|θ_j|, 0.1)), S = covariance (ddof=1) of
/// the analytic per-observation scores, cov = H⁻¹ S H⁻¹ / T. NaN when H is singular.
fn robust_cov(y: &[f64], th: &[f64], init: (f64, f64)) -> (Vec<f64>, Vec<f64>) {
    let k = th.len();
    let n = y.len();
    let nan = || (vec![f64::NAN; k * k], vec![f64::NAN; k]);
    let step = f64::EPSILON.cbrt();
    let mut h = DMatrix::<f64>::zeros(k, k);
    let (mut gp, mut gm) = (vec![0.0; k], vec![0.0; k]);
    for j in 0..k {
        let hj = step * th[j].abs().max(0.1);
        let (mut tp, mut tm) = (th.to_vec(), th.to_vec());
        tp[j] += hj;
        tm[j] -= hj;
        let lp = eval(
            y,
            &tp,
            init,
            Out {
                grad: Some(&mut gp),
                ..Default::default()
            },
        );
        let lm = eval(
            y,
            &tm,
            init,
            Out {
                grad: Some(&mut gm),
                ..Default::default()
            },
        );
        if !(lp.is_finite() && lm.is_finite()) {
            return nan();
        }
        for i in 0..k {
            h[(i, j)] = (gp[i] - gm[i]) / (tp[j] - tm[j]) / n as f64;
        }
    }
    let h = (&h + h.transpose()) * 0.5;
    let mut sc = vec![0.0; n * k];
    let ll = eval(
        y,
        th,
        init,
        Out {
            scores: Some(&mut sc),
            ..Default::default()
        },
    );
    if !ll.is_finite() || n < 2 {
        return nan();
    }
    let mut m = vec![0.0; k];
    for t in 0..n {
        for j in 0..k {
            m[j] += sc[t * k + j];
        }
    }
    m.iter_mut().for_each(|v| *v /= n as f64);
    let mut s = DMatrix::<f64>::zeros(k, k);
    for t in 0..n {
        for i in 0..k {
            let di = sc[t * k + i] - m[i];
            for j in 0..=i {
                s[(i, j)] += di * (sc[t * k + j] - m[j]);
            }
        }
    }
    for i in 0..k {
        for j in 0..=i {
            s[(i, j)] /= (n - 1) as f64;
            s[(j, i)] = s[(i, j)];
        }
    }
    let Some(hinv) = h.clone().try_inverse() else {
        return nan();
    };
    let cov = &hinv * s * &hinv / n as f64;
    let cov = (&cov + cov.transpose()) * 0.5;
    let se = (0..k)
        .map(|i| {
            if cov[(i, i)] >= 0.0 {
                cov[(i, i)].sqrt()
            } else {
                f64::NAN
            }
        })
        .collect();
    let mut flat = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..k {
            flat[i * k + j] = cov[(i, j)];
        }
    }
    (flat, se)
}

// ---------------------------------------------------------------------------------------------
// The optimiser

/// Minimise a smooth f over a box [lo, hi] with a projected quasi-Newton method (after
/// Bertsekas 1982, "Projected Newton methods for optimization problems with simple
/// constraints"):
///
/// - active set A: variables on a bound whose gradient points out of the box, plus those on a
///   bound that the step would push out (so short steps are never projected);
/// - direction d_F = −B_FF⁻¹ g_F on the free set, d_A = 0, with B a damped-BFGS Hessian
///   approximation;
/// - backtracking Armijo search along the projection arc x(λ) = P(x + λd), so free variables
///   land exactly on a bound when the step crosses it.
///
/// B starts as a central-difference Hessian of the gradient with its eigenvalues replaced by
/// max(|λ|, 1e-8·max|λ|), and is refreshed that way when the model fails: after three
/// shortened steps in a row, when the line search fails, and before declaring convergence.
///
/// Stops with
///
/// - `Gradient` when ‖x − P(x − g)‖∞ ≤ pgtol;
/// - `Decrease` when, with a fresh Hessian, the model decrease of the full step on the free
///   set, −g_Fᵀd_F, is ≤ ftol·max(|f|, 1) (nothing left to gain at working precision);
/// - `LineSearch` when no step decreases f even with a fresh Hessian (not converged);
/// - `MaxIterations`.
pub(crate) mod boxmin {
    use super::StopReason;
    use nalgebra::{DMatrix, DVector};

    pub struct Options {
        pub max_iter: usize,
        pub pgtol: f64,
        pub ftol: f64,
    }

    pub struct Outcome {
        pub x: Vec<f64>,
        pub iterations: usize,
        pub evaluations: usize,
        pub stop: StopReason,
        pub pg_norm: f64,
    }

    fn project(x: &mut [f64], lo: &[f64], hi: &[f64]) {
        for i in 0..x.len() {
            x[i] = x[i].clamp(lo[i], hi[i]);
        }
    }

    fn pg_norm(x: &[f64], g: &[f64], lo: &[f64], hi: &[f64]) -> f64 {
        (0..x.len())
            .map(|i| ((x[i] - g[i]).clamp(lo[i], hi[i]) - x[i]).abs())
            .fold(0.0, f64::max)
    }

    /// Central-difference Hessian of the gradient (one-sided at a bound), symmetrised, with
    /// eigenvalues replaced by max(|λ|, 1e-8·max|λ|) so it is positive definite.
    fn fd_hessian<F: FnMut(&[f64], &mut [f64]) -> f64>(
        fg: &mut F,
        x: &[f64],
        g: &[f64],
        lo: &[f64],
        hi: &[f64],
        evals: &mut usize,
    ) -> DMatrix<f64> {
        let n = x.len();
        let mut h = DMatrix::<f64>::identity(n, n);
        let (mut gp, mut gm) = (vec![0.0; n], vec![0.0; n]);
        for j in 0..n {
            let hj = 1e-5 * x[j].abs().max(1e-2);
            let up = (hi[j] - x[j]).min(hj);
            let dn = (x[j] - lo[j]).min(hj);
            let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
            let col: Option<Vec<f64>> = if up >= hj * 0.5 && dn >= hj * 0.5 {
                xp[j] += up;
                xm[j] -= dn;
                let fp = fg(&xp, &mut gp);
                let fm = fg(&xm, &mut gm);
                *evals += 2;
                let step = xp[j] - xm[j];
                (fp.is_finite() && fm.is_finite())
                    .then(|| (0..n).map(|i| (gp[i] - gm[i]) / step).collect())
            } else if up > 0.0 || dn > 0.0 {
                xp[j] += if up >= dn { up } else { -dn };
                let step = xp[j] - x[j];
                let fp = fg(&xp, &mut gp);
                *evals += 1;
                fp.is_finite()
                    .then(|| (0..n).map(|i| (gp[i] - g[i]) / step).collect())
            } else {
                None
            };
            if let Some(c) = col {
                for i in 0..n {
                    h[(i, j)] = c[i];
                }
            }
        }
        let h = (&h + h.transpose()) * 0.5;
        if h.iter().any(|v| !v.is_finite()) {
            return DMatrix::identity(n, n);
        }
        let eig = h.symmetric_eigen();
        let big = eig.eigenvalues.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if !(big > 0.0) {
            return DMatrix::identity(n, n);
        }
        let lam = eig.eigenvalues.map(|v| v.abs().max(1e-8 * big));
        &eig.eigenvectors * DMatrix::from_diagonal(&lam) * eig.eigenvectors.transpose()
    }

    /// The projected quasi-Newton direction at x (see the module comment) and the active set.
    fn direction(
        x: &[f64],
        g: &[f64],
        b: &DMatrix<f64>,
        lo: &[f64],
        hi: &[f64],
    ) -> (Vec<f64>, Vec<bool>) {
        let n = x.len();
        let at_lo = |i: usize| x[i] <= lo[i];
        let at_hi = |i: usize| x[i] >= hi[i];
        let mut active: Vec<bool> = (0..n)
            .map(|i| (at_lo(i) && g[i] > 0.0) || (at_hi(i) && g[i] < 0.0))
            .collect();
        loop {
            let free: Vec<usize> = (0..n).filter(|&i| !active[i]).collect();
            let mut d = vec![0.0; n];
            if !free.is_empty() {
                let bff = DMatrix::from_fn(free.len(), free.len(), |a, c| b[(free[a], free[c])]);
                let rhs = DVector::from_iterator(free.len(), free.iter().map(|&i| -g[i]));
                match bff.cholesky() {
                    Some(ch) => {
                        let sol = ch.solve(&rhs);
                        for (a, &i) in free.iter().enumerate() {
                            d[i] = sol[a];
                        }
                    }
                    None => {
                        for &i in &free {
                            d[i] = -g[i] / b[(i, i)].abs().max(1e-12);
                        }
                    }
                }
            }
            // A free variable on its bound that the step would push out of the box is fixed too,
            // so that short steps are never projected (and stay descent directions).
            let blocked: Vec<usize> = free
                .iter()
                .copied()
                .filter(|&i| (at_lo(i) && d[i] < 0.0) || (at_hi(i) && d[i] > 0.0))
                .collect();
            if blocked.is_empty() {
                return (d, active);
            }
            for i in blocked {
                active[i] = true;
            }
        }
    }

    pub fn minimize<F: FnMut(&[f64], &mut [f64]) -> f64>(
        mut fg: F,
        x0: &[f64],
        lo: &[f64],
        hi: &[f64],
        o: &Options,
    ) -> Outcome {
        let n = x0.len();
        let mut x = x0.to_vec();
        project(&mut x, lo, hi);
        let mut g = vec![0.0; n];
        let mut f = fg(&x, &mut g);
        let mut evals = 1;
        let out = |x: Vec<f64>, f: f64, g: &[f64], it: usize, evals: usize, stop: StopReason| {
            let pg = if f.is_finite() {
                pg_norm(&x, g, lo, hi)
            } else {
                f64::INFINITY
            };
            Outcome {
                pg_norm: pg,
                x,
                iterations: it,
                evaluations: evals,
                stop,
            }
        };
        if !f.is_finite() {
            return out(x, f, &g, 0, evals, StopReason::LineSearch);
        }
        let mut b = fd_hessian(&mut fg, &x, &g, lo, hi, &mut evals);
        let mut fresh = true;
        let mut short_steps = 0;
        let (mut xt, mut gt) = (vec![0.0; n], vec![0.0; n]);
        for it in 0..o.max_iter {
            let pg = pg_norm(&x, &g, lo, hi);
            if pg <= o.pgtol {
                return out(x, f, &g, it, evals, StopReason::Gradient);
            }
            loop {
                let (d, active) = direction(&x, &g, &b, lo, hi);
                // Model decrease of the full step on the free set, −gᵀd ≥ 0 (B_FF is positive definite).
                let model_decrease: f64 = -(0..n)
                    .filter(|&i| !active[i])
                    .map(|i| g[i] * d[i])
                    .sum::<f64>();
                if model_decrease <= o.ftol * f.abs().max(1.0) {
                    if fresh {
                        return out(x, f, &g, it, evals, StopReason::Decrease);
                    }
                    b = fd_hessian(&mut fg, &x, &g, lo, hi, &mut evals);
                    fresh = true;
                    continue;
                }
                // Backtracking Armijo search on the projection arc.
                let mut lam = 1.0;
                let mut ft = f64::INFINITY;
                let mut accepted = false;
                for _ in 0..60 {
                    for i in 0..n {
                        xt[i] = x[i] + lam * d[i];
                    }
                    project(&mut xt, lo, hi);
                    if xt == x {
                        break;
                    }
                    let slope: f64 = (0..n).map(|i| g[i] * (xt[i] - x[i])).sum();
                    if slope >= 0.0 {
                        // Projection turned the step uphill: shorten it.
                        lam *= 0.5;
                        continue;
                    }
                    ft = fg(&xt, &mut gt);
                    evals += 1;
                    if ft.is_finite() && ft <= f + 1e-4 * slope {
                        accepted = true;
                        break;
                    }
                    // Safeguarded quadratic interpolation in λ.
                    lam = if ft.is_finite() {
                        let denom = 2.0 * (ft - f - slope);
                        if denom > 0.0 {
                            (-slope * lam / denom).clamp(0.1 * lam, 0.5 * lam)
                        } else {
                            0.5 * lam
                        }
                    } else {
                        0.1 * lam
                    };
                }
                if accepted {
                    let s: Vec<f64> = (0..n).map(|i| xt[i] - x[i]).collect();
                    let yv: Vec<f64> = (0..n).map(|i| gt[i] - g[i]).collect();
                    x.copy_from_slice(&xt);
                    g.copy_from_slice(&gt);
                    f = ft;
                    short_steps = if lam < 1.0 { short_steps + 1 } else { 0 };
                    if short_steps >= 3 {
                        b = fd_hessian(&mut fg, &x, &g, lo, hi, &mut evals);
                        fresh = true;
                        short_steps = 0;
                    } else {
                        bfgs_update(&mut b, &s, &yv);
                        fresh = false;
                    }
                    break;
                }
                if fresh {
                    return out(x, f, &g, it, evals, StopReason::LineSearch);
                }
                b = fd_hessian(&mut fg, &x, &g, lo, hi, &mut evals);
                fresh = true;
            }
        }
        out(x, f, &g, o.max_iter, evals, StopReason::MaxIterations)
    }

    /// Damped BFGS update of the Hessian approximation (Powell's damping keeps B positive
    /// definite when sᵀy is small or negative).
    fn bfgs_update(b: &mut DMatrix<f64>, s: &[f64], y: &[f64]) {
        let s = DVector::from_column_slice(s);
        let y = DVector::from_column_slice(y);
        let bs = &*b * &s;
        let sbs = s.dot(&bs);
        let sy = s.dot(&y);
        if !(sbs > 0.0) || !sbs.is_finite() || !sy.is_finite() {
            return;
        }
        let theta = if sy >= 0.2 * sbs {
            1.0
        } else {
            0.8 * sbs / (sbs - sy)
        };
        let r = &y * theta + &bs * (1.0 - theta);
        let sr = s.dot(&r);
        if !(sr > 0.0) {
            return;
        }
        *b -= &bs * bs.transpose() / sbs;
        *b += &r * r.transpose() / sr;
    }
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{StandardNormal, StudentT};

    /// Simulate y from a GARCH(1,1) with the given parameters (after a 500-step burn-in),
    /// seeded; for t the innovations are Student t scaled to unit variance.
    fn simulate(n: usize, p: &GarchParams, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let pers = p.alpha + p.beta;
        let mut s2 = if pers < 1.0 {
            p.omega / (1.0 - pers)
        } else {
            p.omega * 100.0
        };
        let mut e_prev2 = s2;
        let mut out = Vec::with_capacity(n);
        for i in 0..n + 500 {
            s2 = p.omega + p.alpha * e_prev2 + p.beta * s2;
            let z: f64 = match p.nu {
                None => rng.sample(StandardNormal),
                Some(nu) => {
                    rng.sample::<f64, _>(StudentT::new(nu).unwrap()) * ((nu - 2.0) / nu).sqrt()
                }
            };
            let e = s2.sqrt() * z;
            e_prev2 = e * e;
            if i >= 500 {
                out.push(p.mu + e);
            }
        }
        out
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-300)
    }

    const P_NORMAL: GarchParams = GarchParams {
        mu: 0.05,
        omega: 0.1,
        alpha: 0.1,
        beta: 0.85,
        nu: None,
    };
    const P_T: GarchParams = GarchParams {
        mu: 0.05,
        omega: 0.1,
        alpha: 0.1,
        beta: 0.85,
        nu: Some(5.0),
    };

    #[test]
    fn digamma_matches_known_values_and_lgamma_derivative() {
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 1e-15);
        assert!((digamma(0.5) + euler + 2.0 * std::f64::consts::LN_2).abs() < 1e-14);
        // ψ(x+1) = ψ(x) + 1/x across the recurrence/asymptotic switch.
        for x in [0.3, 1.7, 9.5, 9.99, 10.0, 10.01, 37.0, 250.5] {
            assert!(
                (digamma(x + 1.0) - digamma(x) - 1.0 / x).abs() < 1e-14 * (1.0 + digamma(x).abs()),
                "x={x}"
            );
            let h = 1e-5 * x;
            let fd = (libm::lgamma(x + h) - libm::lgamma(x - h)) / (2.0 * h);
            assert!(
                (fd - digamma(x)).abs() < 1e-7 * (1.0 + fd.abs()),
                "x={x}: {fd} vs {}",
                digamma(x)
            );
        }
    }

    #[test]
    fn backcast_closed_form() {
        // mean −0.5, r0 = (1.5, −1.5), weights (1, 0.94)/1.94: b = 2.25.
        assert!((backcast(&[1.0, -2.0]).unwrap() - 2.25).abs() < 1e-15);
        // Only the first 75 residuals count (the mean uses all of them).
        let mut y = vec![1.0; 200];
        y[100] = 1.0e6;
        let m = y.iter().sum::<f64>() / 200.0;
        let sw: f64 = (0..75).map(|i| 0.94f64.powi(i)).sum();
        let want: f64 = (0..75)
            .map(|i| 0.94f64.powi(i) / sw * (1.0 - m) * (1.0 - m))
            .sum();
        assert!(rel(backcast(&y).unwrap(), want) < 1e-13);
        assert!(backcast(&[]).is_err());
    }

    #[test]
    fn loglik_closed_forms_on_two_observations() {
        let y = [1.0, -2.0];
        let p = GarchParams {
            mu: 0.1,
            omega: 0.2,
            alpha: 0.1,
            beta: 0.8,
            nu: None,
        };
        // b = 2.25; σ²_0 = 0.2 + 0.9·2.25 = 2.225, e_0 = 0.9; σ²_1 = 0.2 + 0.1·0.81 + 0.8·2.225 = 2.061, e_1 = −2.1.
        let (b, f) = loglik(&y, &p).unwrap();
        assert_eq!(b, 2.25);
        let s2 = [2.225, 2.061];
        let e = [0.9, -2.1];
        let ln2pi = (2.0 * std::f64::consts::PI).ln();
        let want: f64 = (0..2)
            .map(|t| -0.5 * (ln2pi + f64::ln(s2[t]) + e[t] * e[t] / s2[t]))
            .sum();
        assert!(rel(f.loglik, want) < 1e-14);
        assert!(rel(f.sigma[0], s2[0].sqrt()) < 1e-15 && rel(f.sigma[1], s2[1].sqrt()) < 1e-15);
        assert!(rel(f.forecast_variance, 0.2 + 0.1 * 4.41 + 0.8 * 2.061) < 1e-15);
        assert!(rel(f.state.resid2, e[1] * e[1]) < 1e-15 && rel(f.state.sigma2, s2[1]) < 1e-15);
        // Student t: the density written with Γ (tgamma) instead of lnΓ.
        let nu = 5.0;
        let pt = GarchParams { nu: Some(nu), ..p };
        let (_, ft) = loglik(&y, &pt).unwrap();
        let c = libm::tgamma((nu + 1.0) / 2.0)
            / (libm::tgamma(nu / 2.0) * (std::f64::consts::PI * (nu - 2.0)).sqrt());
        let want_t: f64 = (0..2)
            .map(|t| {
                (c / s2[t].sqrt()
                    * (1.0 + e[t] * e[t] / (s2[t] * (nu - 2.0))).powf(-(nu + 1.0) / 2.0))
                .ln()
            })
            .sum();
        assert!(rel(ft.loglik, want_t) < 1e-13, "{} vs {want_t}", ft.loglik);
        // t → normal as ν → ∞.
        let (_, fbig) = loglik(&y, &GarchParams { nu: Some(1e8), ..p }).unwrap();
        assert!((fbig.loglik - f.loglik).abs() < 1e-6);
    }

    /// Central differences (f64) of the total log-likelihood against the analytic gradient,
    /// and the per-observation scores against the total.
    #[test]
    fn analytic_gradient_matches_central_differences() {
        let y = simulate(300, &P_T, 7);
        let bc = backcast(&y).unwrap();
        let points: [&[f64]; 5] = [
            &[0.05, 0.1, 0.1, 0.85],
            &[-0.3, 0.5, 0.02, 0.5],
            &[0.05, 0.1, 0.1, 0.85, 5.0],
            &[0.2, 0.05, 0.2, 0.79, 2.3],
            &[0.0, 1.0, 0.3, 0.75, 60.0],
        ];
        for th in points {
            let k = th.len();
            let mut g = vec![0.0; k];
            let mut sc = vec![0.0; y.len() * k];
            let ll = eval(
                &y,
                th,
                (bc, bc),
                Out {
                    grad: Some(&mut g),
                    scores: Some(&mut sc),
                    ..Default::default()
                },
            );
            assert!(ll.is_finite());
            for j in 0..k {
                let h = 1e-5 * th[j].abs().max(1e-2);
                let (mut tp, mut tm) = (th.to_vec(), th.to_vec());
                tp[j] += h;
                tm[j] -= h;
                let fd = (eval(&y, &tp, (bc, bc), Out::default())
                    - eval(&y, &tm, (bc, bc), Out::default()))
                    / (tp[j] - tm[j]);
                assert!(
                    (fd - g[j]).abs() <= 1e-6 * g[j].abs().max(1.0),
                    "θ={th:?} j={j}: analytic {} vs central {fd}",
                    g[j]
                );
                let sum: f64 = (0..y.len()).map(|t| sc[t * k + j]).sum();
                assert!((sum - g[j]).abs() <= 1e-10 * g[j].abs().max(1.0));
            }
        }
    }

    #[test]
    fn optimiser_coordinate_gradient_matches_central_differences() {
        let y = simulate(300, &P_NORMAL, 8);
        let bc = backcast(&y).unwrap();
        for x in [[0.05, 0.1, 0.95, 0.1, 6.0], [0.0, 0.3, 0.6, 0.5, 3.0]] {
            let f = |x: &[f64]| -eval(&y, &theta_of(x), (bc, bc), Out::default());
            let mut gth = vec![0.0; 5];
            eval(
                &y,
                &theta_of(&x),
                (bc, bc),
                Out {
                    grad: Some(&mut gth),
                    ..Default::default()
                },
            );
            let mut gx = vec![0.0; 5];
            grad_x(&x, &gth, &mut gx);
            for j in 0..5 {
                let h = 1e-6;
                let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
                xp[j] += h;
                xm[j] -= h;
                let fd = -(f(&xp) - f(&xm)) / (2.0 * h);
                assert!(
                    (fd - gx[j]).abs() <= 1e-6 * gx[j].abs().max(1.0),
                    "x={x:?} j={j}: {} vs {fd}",
                    gx[j]
                );
            }
        }
    }

    #[test]
    fn persistence_one_maps_to_alpha_plus_beta_at_most_one() {
        for s in [
            0.0,
            1e-9,
            0.07606881846888236,
            0.1,
            1.0 / 3.0,
            0.5,
            0.9,
            1.0,
        ] {
            let th = theta_of(&[0.0, 1.0, 1.0, s]);
            assert!(
                th[2] + th[3] <= 1.0 && th[2] + th[3] >= 1.0 - 2.0 * f64::EPSILON,
                "s={s}"
            );
            assert!(th[2] >= 0.0 && th[3] >= 0.0);
        }
    }

    #[test]
    fn boxmin_stops_exactly_on_active_bounds() {
        // f = (x0 − 2)² + (x1 + 1)² + ½ x0 x1 on [0,1]²: KKT point (1, 0), both bounds active.
        let f = |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * (x[0] - 2.0) + 0.5 * x[1];
            g[1] = 2.0 * (x[1] + 1.0) + 0.5 * x[0];
            (x[0] - 2.0).powi(2) + (x[1] + 1.0).powi(2) + 0.5 * x[0] * x[1]
        };
        let o = boxmin::Options {
            max_iter: 100,
            pgtol: 1e-10,
            ftol: 0.0,
        };
        let r = boxmin::minimize(f, &[0.5, 0.5], &[0.0, 0.0], &[1.0, 1.0], &o);
        assert_eq!(r.x, vec![1.0, 0.0]);
        assert_eq!(r.stop, StopReason::Gradient);
        // Rosenbrock with x0 ≤ 0.5: solution (0.5, 0.25) with the upper bound on x0 active.
        let rosen = |x: &[f64], g: &mut [f64]| {
            g[0] = -2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] * x[0]);
            g[1] = 200.0 * (x[1] - x[0] * x[0]);
            (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2)
        };
        let r = boxmin::minimize(rosen, &[-1.2, 1.0], &[-2.0, -1.0], &[0.5, 2.0], &o);
        assert_eq!(r.x[0], 0.5);
        assert!((r.x[1] - 0.25).abs() < 1e-9, "{:?}", r.x);
        // Interior: the unconstrained minimum (1, 1).
        let r = boxmin::minimize(rosen, &[-1.2, 1.0], &[-5.0, -5.0], &[5.0, 5.0], &o);
        assert!(
            (r.x[0] - 1.0).abs() < 1e-8 && (r.x[1] - 1.0).abs() < 1e-8,
            "{:?} {:?}",
            r.x,
            r.stop
        );
    }

    /// Simulated GARCH(1,1), T = 20 000: every estimate within 4 robust standard errors of the
    /// truth, and α, β within 0.03, ν within 1.5 absolute.
    #[test]
    fn simulated_garch_recovers_parameters() {
        for (p, seed) in [(P_NORMAL, 11u64), (P_T, 12u64)] {
            let y = simulate(20_000, &p, seed);
            let f = fit(&y, p.dist(), &FitOptions::default()).unwrap();
            assert!(f.convergence.converged, "{:?}", f.convergence);
            let truth = p.to_vec();
            let est = f.params.to_vec();
            for j in 0..truth.len() {
                let se = f.std_err_robust[j];
                assert!(se.is_finite() && se > 0.0);
                assert!(
                    (est[j] - truth[j]).abs() < 4.0 * se,
                    "{:?} θ{j}: {} vs {} (se {se})",
                    p.dist(),
                    est[j],
                    truth[j]
                );
            }
            assert!(
                (f.params.alpha - p.alpha).abs() < 0.03 && (f.params.beta - p.beta).abs() < 0.03
            );
            if let (Some(a), Some(b)) = (f.params.nu, p.nu) {
                assert!((a - b).abs() < 1.5);
            }
            // The fit is a maximum: the log-likelihood beats the truth's and the start's.
            let (_, at_truth) = loglik(&y, &p).unwrap();
            assert!(f.loglik >= at_truth.loglik);
            let (_, at_start) = loglik(&y, &f.starting_values).unwrap();
            assert!(f.loglik >= at_start.loglik);
        }
    }

    /// An explosive process (α+β = 1.05): the constrained optimum lies on α+β = 1 and the fit
    /// must end exactly there, not at 1 − ε.
    #[test]
    fn fit_ends_on_the_persistence_boundary() {
        let p = GarchParams {
            mu: 0.0,
            omega: 0.05,
            alpha: 0.2,
            beta: 0.85,
            nu: None,
        };
        let y = simulate(400, &p, 5);
        for dist in [Dist::Normal, Dist::StudentT] {
            let f = fit(&y, dist, &FitOptions::default()).unwrap();
            let pers = f.params.alpha + f.params.beta;
            assert!(
                (1.0 - 2.0 * f64::EPSILON..=1.0).contains(&pers),
                "{dist:?}: α+β = {pers}"
            );
            assert!(f.convergence.converged, "{:?}", f.convergence);
        }
    }

    /// White noise: the likelihood wants α = 0; the fit stays feasible (α ≥ 0, ω > 0).
    #[test]
    fn fit_on_white_noise_stays_feasible() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let y: Vec<f64> = (0..1000)
            .map(|_| rng.sample::<f64, _>(StandardNormal) * 2.0)
            .collect();
        let f = fit(&y, Dist::Normal, &FitOptions::default()).unwrap();
        assert!(f.params.omega > 0.0 && f.params.alpha >= 0.0 && f.params.beta >= 0.0);
        assert!(f.params.alpha + f.params.beta <= 1.0);
        assert!(f.params.alpha < 0.15, "{:?}", f.params);
        // At least as good as the constant-variance model (α = β = 0, the sample variance).
        let m = y.iter().sum::<f64>() / y.len() as f64;
        let v = y.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / y.len() as f64;
        let (_, c) = loglik(
            &y,
            &GarchParams {
                mu: m,
                omega: v,
                alpha: 0.0,
                beta: 0.0,
                nu: None,
            },
        )
        .unwrap();
        assert!(f.loglik >= c.loglik, "{} < {}", f.loglik, c.loglik);
        assert!(f.convergence.converged, "{:?}", f.convergence);
    }

    /// The optimiser works in units of y's spread, so rescaling y rescales μ and ω and leaves
    /// everything else (up to rounding).
    #[test]
    fn fit_is_invariant_to_the_scale_of_y() {
        let y = simulate(1500, &P_T, 31);
        let a = fit(&y, Dist::StudentT, &FitOptions::default()).unwrap();
        let y1000: Vec<f64> = y.iter().map(|v| v * 1000.0).collect();
        let b = fit(&y1000, Dist::StudentT, &FitOptions::default()).unwrap();
        assert!(rel(b.params.mu, 1e3 * a.params.mu) < 1e-6);
        assert!(rel(b.params.omega, 1e6 * a.params.omega) < 1e-6);
        assert!(
            rel(b.params.alpha, a.params.alpha) < 1e-6 && rel(b.params.beta, a.params.beta) < 1e-6
        );
        assert!(rel(b.params.nu.unwrap(), a.params.nu.unwrap()) < 1e-6);
        assert!((b.loglik - (a.loglik - 1500.0 * 1000f64.ln())).abs() < 1e-6);
    }

    #[test]
    fn filter_is_causal_and_continues_a_fit_exactly() {
        let y = simulate(900, &P_NORMAL, 21);
        let init = FilterInit::Backcast(3.0);
        let a = filter(&y, &P_NORMAL, init).unwrap();
        let mut y2 = y.clone();
        for v in &mut y2[500..] {
            *v = -*v * 3.0;
        }
        let b = filter(&y2, &P_NORMAL, init).unwrap();
        // σ_t depends on y_0..y_{t−1}: identical through t = 500, different after.
        assert_eq!(a.sigma[..=500], b.sigma[..=500]);
        assert_ne!(a.sigma[501], b.sigma[501]);
        // Train on the first 600, continue on the rest from the training state: identical to
        // filtering the whole series with the training backcast.
        let tr = fit(&y[..600], Dist::Normal, &FitOptions::default()).unwrap();
        let whole = filter(&y, &tr.params, FilterInit::Backcast(tr.backcast)).unwrap();
        let st = tr.filter.state;
        let cont = filter(
            &y[600..],
            &tr.params,
            FilterInit::State {
                resid2: st.resid2,
                sigma2: st.sigma2,
            },
        )
        .unwrap();
        assert_eq!(cont.sigma[..], whole.sigma[600..]);
        assert_eq!(cont.sigma[0], tr.filter.forecast_variance.sqrt());
        assert_eq!(whole.sigma[..600], tr.filter.sigma[..]);
        // An empty series gives the forecast from the state.
        let e = filter(
            &[],
            &tr.params,
            FilterInit::State {
                resid2: st.resid2,
                sigma2: st.sigma2,
            },
        )
        .unwrap();
        assert_eq!(e.forecast_variance, tr.filter.forecast_variance);
    }

    #[test]
    fn fit_many_is_deterministic_across_thread_counts() {
        let ys: Vec<Vec<f64>> = (0..6)
            .map(|i| simulate(700, if i % 2 == 0 { &P_NORMAL } else { &P_T }, 100 + i))
            .collect();
        let run = |threads: usize, dist: Dist| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| fit_many(&ys, dist, &FitOptions::default()).unwrap())
        };
        for dist in [Dist::Normal, Dist::StudentT] {
            let one = run(1, dist);
            assert_eq!(one, run(3, dist));
            for (y, f) in ys.iter().zip(&one) {
                assert_eq!(&fit(y, dist, &FitOptions::default()).unwrap(), f);
            }
        }
    }

    #[test]
    fn bad_input_is_a_data_error_naming_the_argument() {
        let mut y = simulate(50, &P_NORMAL, 1);
        y[17] = f64::NAN;
        let e = fit(&y, Dist::Normal, &FitOptions::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "Expected finite values for y but received NaN at index 17"
        );
        let e = fit_many(
            &[vec![1.0; 20], y.clone()],
            Dist::Normal,
            &FitOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("Expected finite values for ys[1]"), "{e}");
        assert!(fit(&[1.0; 5], Dist::Normal, &FitOptions::default())
            .unwrap_err()
            .to_string()
            .contains("at least 10"));
        assert!(fit(&[1.0; 50], Dist::Normal, &FitOptions::default())
            .unwrap_err()
            .to_string()
            .contains("positive variance"));
        let bad = GarchParams {
            omega: 0.0,
            ..P_NORMAL
        };
        assert!(filter(&[1.0], &bad, FilterInit::Backcast(1.0))
            .unwrap_err()
            .to_string()
            .contains("omega > 0"));
        let bad = GarchParams {
            nu: Some(2.0),
            ..P_NORMAL
        };
        assert!(filter(&[1.0], &bad, FilterInit::Backcast(1.0)).is_err());
        assert!(filter(&[1.0], &P_NORMAL, FilterInit::Backcast(-1.0)).is_err());
        assert!(Dist::parse("skewt").is_err());
        assert!(GarchParams::from_slice(&[1.0, 2.0]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Any finite series: the fit never panics, ends feasible, and does not lose likelihood
        /// against its own starting values.
        #[test]
        fn fit_is_feasible_on_arbitrary_series(
            raw in proptest::collection::vec(-1.0f64..1.0, 12..250),
            scale in prop_oneof![Just(1e-3), Just(1.0), Just(50.0)],
            spikes in proptest::collection::vec((0usize..250, -30.0f64..30.0), 0..4),
            t in any::<bool>(),
        ) {
            let mut y: Vec<f64> = raw.iter().map(|v| v * scale).collect();
            for (i, v) in spikes {
                let n = y.len();
                y[i % n] += v * scale;
            }
            prop_assume!(y.iter().any(|v| *v != y[0]));
            let dist = if t { Dist::StudentT } else { Dist::Normal };
            let f = fit(&y, dist, &FitOptions::default()).unwrap();
            let p = f.params;
            prop_assert!(p.omega > 0.0 && p.alpha >= 0.0 && p.beta >= 0.0 && p.alpha + p.beta <= 1.0);
            if let Some(nu) = p.nu {
                prop_assert!((NU_MIN..=NU_MAX).contains(&nu));
            }
            let (_, s) = loglik(&y, &f.starting_values).unwrap();
            prop_assert!(f.loglik >= s.loglik - 1e-9 * s.loglik.abs());
            prop_assert!(f.convergence.converged, "{:?}", f.convergence);
            prop_assert!(f.filter.sigma.iter().all(|v| v.is_finite() && *v > 0.0));
        }
    }
}
