//! HAR-RV (Corsi 2009) on a daily realized-variance series, with the crypto windows
//! 1/7/30 days by default, in statsmodels' OLS conventions so fits can be checked against it.
//! See docs/volatility-models.md.
//!
//! With x the transformed series (by `HarForm`), W the weekly and M the monthly window:
//!   rows t = M−1 .. D−2 (n = D − M):  y_t = x_{t+1},
//!   X_t = [1, x_t, mean(x_{t−W+1..t}), mean(x_{t−M+1..t})]
//! (for `LogOfMeans` the window means are taken on RV and then logged).
//! OLS by Householder QR of X (never the normal equations: the level form's columns are
//! ~1e-3 next to the constant); classical errors σ̂²(XᵀX)⁻¹ with σ̂² = SSR/(n−4); HAC errors
//! (XᵀX)⁻¹ S (XᵀX)⁻¹ with the Bartlett kernel and no small-sample correction.

// `!(x > 0.0)` is deliberate: it is also true for NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use crate::error::DataError;
use nalgebra::{DMatrix, DVector};

/// Number of coefficients: const, daily, weekly, monthly.
pub const K: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HarForm {
    /// x = RV.
    Level,
    /// x = ln RV; the window means are means of logs.
    LogMeanOfLogs,
    /// y = ln RV_{t+1}; regressors are the logs of the level means (Corsi's log-HAR).
    LogOfMeans,
}

impl HarForm {
    pub fn name(self) -> &'static str {
        match self {
            HarForm::Level => "level",
            HarForm::LogMeanOfLogs => "log",
            HarForm::LogOfMeans => "logOfMeans",
        }
    }

    pub fn parse(s: &str) -> Result<HarForm, DataError> {
        match s {
            "level" => Ok(HarForm::Level),
            "log" => Ok(HarForm::LogMeanOfLogs),
            "logOfMeans" => Ok(HarForm::LogOfMeans),
            _ => Err(DataError::arg(format!(
                "Expected 'level', 'log' or 'logOfMeans' for form but received {s:?}"
            ))),
        }
    }

    fn is_log(self) -> bool {
        self != HarForm::Level
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HarSpec {
    pub form: HarForm,
    /// Weekly window in days (7 for crypto's 7-day week).
    pub week: usize,
    /// Monthly window in days (30).
    pub month: usize,
}

impl HarSpec {
    pub fn new(form: HarForm) -> HarSpec {
        HarSpec {
            form,
            week: 7,
            month: 30,
        }
    }

    fn check(&self) -> Result<(), DataError> {
        if !(self.week >= 2 && self.month > self.week) {
            return Err(DataError::arg(format!(
                "Expected windows 1 < week < month but received week {} and month {}",
                self.week, self.month
            )));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct HarFit {
    pub spec: HarSpec,
    /// const, daily, weekly, monthly.
    pub params: [f64; K],
    pub bse: [f64; K],
    pub tvalues: [f64; K],
    pub hac_lags: usize,
    pub bse_hac: [f64; K],
    pub tvalues_hac: [f64; K],
    pub rsquared: f64,
    pub rsquared_adj: f64,
    pub ssr: f64,
    /// Gaussian log-likelihood −n/2 (ln 2π + ln(SSR/n) + 1).
    pub llf: f64,
    pub nobs: usize,
    pub df_resid: usize,
    /// Fitted values and residuals of rows t = month−1 .. D−2 (targets: days month .. D−1).
    pub fitted: Vec<f64>,
    pub resid: Vec<f64>,
    /// Index of the day the first row predicts (= month).
    pub first_target: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HarForecast {
    /// forecast[t] = prediction of x_t from days ≤ t−1 (NaN for t < month, or where a window
    /// holds a missing day). In the form's scale: RV for `Level`, ln RV for the log forms.
    pub forecast: Vec<f64>,
    /// Prediction of x_D, the day after the series.
    pub next: f64,
}

/// Check RV values: finite (unless `allow_nan`), ≥ 0, and > 0 for the log forms.
fn check_rv(rv: &[f64], form: HarForm, allow_nan: bool) -> Result<(), DataError> {
    for (i, &v) in rv.iter().enumerate() {
        if v.is_nan() && allow_nan {
            continue;
        }
        if !v.is_finite() {
            return Err(DataError::arg(format!(
                "Expected finite values for rv but received {v} at index {i}"
            )));
        }
        if v < 0.0 || (form.is_log() && v == 0.0) {
            let what = if form.is_log() {
                "positive values for rv (log form)"
            } else {
                "non-negative values for rv"
            };
            return Err(DataError::arg(format!(
                "Expected {what} but received {v} at index {i}"
            )));
        }
    }
    Ok(())
}

/// Regressors [x_t, weekly_t, monthly_t] and the series x (form's scale) for every day;
/// NaN where the windows do not fit or hold a NaN. Each window mean is summed directly.
fn regressors(rv: &[f64], spec: &HarSpec) -> (Vec<[f64; 3]>, Vec<f64>) {
    let d = rv.len();
    let x: Vec<f64> = match spec.form {
        HarForm::Level => rv.to_vec(),
        _ => rv.iter().map(|v| v.ln()).collect(),
    };
    // Window means on x (mean of logs / levels) or on RV then logged (log of means).
    let base: &[f64] = if spec.form == HarForm::LogOfMeans {
        rv
    } else {
        &x
    };
    let wmean = |t: usize, w: usize| -> f64 {
        let s: f64 = base[t + 1 - w..=t].iter().sum();
        let m = s / w as f64;
        if spec.form == HarForm::LogOfMeans {
            m.ln()
        } else {
            m
        }
    };
    let mut out = vec![[f64::NAN; 3]; d];
    for t in spec.month.saturating_sub(1)..d {
        out[t] = [x[t], wmean(t, spec.week), wmean(t, spec.month)];
    }
    (out, x)
}

/// OLS HAR fit with classical and HAC(`hac_lags`) standard errors.
pub fn fit(rv: &[f64], spec: &HarSpec, hac_lags: usize) -> Result<HarFit, DataError> {
    spec.check()?;
    check_rv(rv, spec.form, false)?;
    let d = rv.len();
    let first = spec.month - 1;
    if d < spec.month + K + 1 {
        return Err(DataError::arg(format!(
            "Expected at least {} days for rv (month window {} + {} rows) but received {d}",
            spec.month + K + 1,
            spec.month,
            K + 1
        )));
    }
    let n = d - spec.month;
    if hac_lags >= n {
        return Err(DataError::arg(format!(
            "Expected hacLags below the {n} regression rows but received {hac_lags}"
        )));
    }
    let (reg, x) = regressors(rv, spec);
    let xm = DMatrix::from_fn(
        n,
        K,
        |r, c| if c == 0 { 1.0 } else { reg[first + r][c - 1] },
    );
    let yv = DVector::from_fn(n, |r, _| x[first + r + 1]);
    let qr = xm.clone().qr();
    let rmat = qr.r();
    if (0..K).any(|i| !(rmat[(i, i)].abs() > 1e-13 * rmat[(0, 0)].abs())) {
        return Err(DataError::arg(
            "The HAR design matrix is rank deficient (constant or collinear rv)",
        ));
    }
    let mut qty = yv.clone();
    qr.q_tr_mul(&mut qty);
    let beta = rmat
        .solve_upper_triangular(&qty.rows(0, K).into_owned())
        .ok_or_else(|| DataError::arg("The HAR design matrix is singular"))?;
    let fitted = &xm * &beta;
    let resid = &yv - &fitted;
    let ssr: f64 = resid.iter().map(|u| u * u).sum();
    let ybar = yv.iter().sum::<f64>() / n as f64;
    let tss: f64 = yv.iter().map(|v| (v - ybar) * (v - ybar)).sum();
    let df_resid = n - K;
    // (XᵀX)⁻¹ = R⁻¹R⁻ᵀ.
    let rinv = rmat
        .solve_upper_triangular(&DMatrix::identity(K, K))
        .ok_or_else(|| DataError::arg("The HAR design matrix is singular"))?;
    let xtx_inv = &rinv * rinv.transpose();
    let s2 = ssr / df_resid as f64;
    // HAC: S = Σ_t u_t² x_t x_tᵀ + Σ_{l=1..L} (1 − l/(L+1)) Σ_t u_t u_{t−l} (x_t x_{t−l}ᵀ + x_{t−l} x_tᵀ).
    let xu = DMatrix::from_fn(n, K, |r, c| xm[(r, c)] * resid[r]);
    let mut s = xu.transpose() * &xu;
    for l in 1..=hac_lags {
        let w = 1.0 - l as f64 / (hac_lags as f64 + 1.0);
        let a = xu.rows(l, n - l).transpose() * xu.rows(0, n - l);
        s += (&a + a.transpose()) * w;
    }
    let cov_hac = &xtx_inv * s * &xtx_inv;
    let mut out = HarFit {
        spec: *spec,
        params: [0.0; K],
        bse: [0.0; K],
        tvalues: [0.0; K],
        hac_lags,
        bse_hac: [0.0; K],
        tvalues_hac: [0.0; K],
        rsquared: 1.0 - ssr / tss,
        rsquared_adj: 1.0 - (n - 1) as f64 / df_resid as f64 * (ssr / tss),
        ssr,
        llf: -(n as f64) / 2.0 * ((2.0 * std::f64::consts::PI).ln() + (ssr / n as f64).ln() + 1.0),
        nobs: n,
        df_resid,
        fitted: fitted.iter().copied().collect(),
        resid: resid.iter().copied().collect(),
        first_target: spec.month,
    };
    for i in 0..K {
        out.params[i] = beta[i];
        out.bse[i] = (s2 * xtx_inv[(i, i)]).sqrt();
        out.tvalues[i] = beta[i] / out.bse[i];
        out.bse_hac[i] = cov_hac[(i, i)].sqrt();
        out.tvalues_hac[i] = beta[i] / out.bse_hac[i];
    }
    Ok(out)
}

/// Apply fitted coefficients to a (new) RV series, causally: forecast[t] uses days ≤ t−1.
/// Missing days (NaN) give NaN forecasts wherever a window holds them.
pub fn forecast(rv: &[f64], params: &[f64; K], spec: &HarSpec) -> Result<HarForecast, DataError> {
    spec.check()?;
    check_rv(rv, spec.form, true)?;
    if let Some(i) = params.iter().position(|p| !p.is_finite()) {
        return Err(DataError::arg(format!(
            "Expected finite values for params but received {} at index {i}",
            params[i]
        )));
    }
    let (reg, _) = regressors(rv, spec);
    let pred = |r: &[f64; 3]| params[0] + params[1] * r[0] + params[2] * r[1] + params[3] * r[2];
    let d = rv.len();
    let mut f = vec![f64::NAN; d];
    for t in 1..d {
        f[t] = pred(&reg[t - 1]);
    }
    let next = if d > 0 { pred(&reg[d - 1]) } else { f64::NAN };
    Ok(HarForecast { forecast: f, next })
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    /// A positive RV-like series with persistence (log AR(1) plus noise), seeded.
    fn rv_series(d: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut l = -8.0;
        (0..d)
            .map(|_| {
                let z: f64 = rng.sample(StandardNormal);
                l = -8.0 + 0.9 * (l + 8.0) + 0.5 * z;
                l.exp()
            })
            .collect()
    }

    /// Reference: the design by explicit loops, OLS by Gauss–Jordan on XᵀX (fine for the
    /// well-conditioned log forms), classical and HAC covariances by their textbook sums.
    struct Naive {
        params: Vec<f64>,
        bse: Vec<f64>,
        bse_hac: Vec<f64>,
        ssr: f64,
    }

    fn naive(rv: &[f64], form: HarForm, week: usize, month: usize, lags: usize) -> Naive {
        let tr = |v: f64| if form == HarForm::Level { v } else { v.ln() };
        let mut xs = vec![];
        let mut ys = vec![];
        for t in month - 1..rv.len() - 1 {
            let mean_of = |w: usize| -> f64 {
                match form {
                    HarForm::LogOfMeans => (rv[t + 1 - w..=t].iter().sum::<f64>() / w as f64).ln(),
                    _ => rv[t + 1 - w..=t].iter().map(|v| tr(*v)).sum::<f64>() / w as f64,
                }
            };
            xs.push([1.0, tr(rv[t]), mean_of(week), mean_of(month)]);
            ys.push(tr(rv[t + 1]));
        }
        let n = xs.len();
        let mut a = [[0.0; 8]; 4];
        let mut xty = [0.0; 4];
        for r in 0..n {
            for i in 0..4 {
                xty[i] += xs[r][i] * ys[r];
                for j in 0..4 {
                    a[i][j] += xs[r][i] * xs[r][j];
                }
            }
        }
        for i in 0..4 {
            a[i][4 + i] = 1.0;
        }
        for c in 0..4 {
            let p = (c..4)
                .max_by(|&x, &y| a[x][c].abs().partial_cmp(&a[y][c].abs()).unwrap())
                .unwrap();
            a.swap(c, p);
            let piv = a[c][c];
            a[c].iter_mut().for_each(|v| *v /= piv);
            for r in 0..4 {
                if r != c {
                    let f = a[r][c];
                    for j in 0..8 {
                        a[r][j] -= f * a[c][j];
                    }
                }
            }
        }
        let inv = |i: usize, j: usize| a[i][4 + j];
        let params: Vec<f64> = (0..4)
            .map(|i| (0..4).map(|j| inv(i, j) * xty[j]).sum())
            .collect();
        let u: Vec<f64> = (0..n)
            .map(|r| ys[r] - (0..4).map(|j| xs[r][j] * params[j]).sum::<f64>())
            .collect();
        let ssr: f64 = u.iter().map(|v| v * v).sum();
        let s2 = ssr / (n - 4) as f64;
        let mut s = [[0.0; 4]; 4];
        for l in 0..=lags {
            let w = 1.0 - l as f64 / (lags as f64 + 1.0);
            for t in l..n {
                for i in 0..4 {
                    for j in 0..4 {
                        let v = xs[t][i] * u[t] * xs[t - l][j] * u[t - l];
                        s[i][j] += w * v;
                        if l > 0 {
                            s[j][i] += w * v;
                        }
                    }
                }
            }
        }
        let bse = (0..4).map(|i| (s2 * inv(i, i)).sqrt()).collect();
        let bse_hac = (0..4)
            .map(|i| {
                let mut v = 0.0;
                for a in 0..4 {
                    for b in 0..4 {
                        v += inv(i, a) * s[a][b] * inv(b, i);
                    }
                }
                v.sqrt()
            })
            .collect();
        Naive {
            params,
            bse,
            bse_hac,
            ssr,
        }
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    #[test]
    fn fit_matches_the_naive_reference() {
        let rv = rv_series(800, 1);
        for form in [HarForm::Level, HarForm::LogMeanOfLogs, HarForm::LogOfMeans] {
            for (week, month, lags) in [(7, 30, 5), (5, 22, 0), (7, 30, 12)] {
                let spec = HarSpec { form, week, month };
                let f = fit(&rv, &spec, lags).unwrap();
                let r = naive(&rv, form, week, month, lags);
                assert_eq!(f.nobs, 800 - month);
                assert_eq!(f.df_resid, f.nobs - 4);
                // The level form's XᵀX has condition ~1e10, so the normal-equation reference is
                // itself only good to ~1e-7 there.
                let tol = if form == HarForm::Level { 1e-6 } else { 1e-10 };
                for i in 0..K {
                    assert!(
                        rel(f.params[i], r.params[i]) < tol,
                        "{form:?} {week}/{month} params[{i}]: {} vs {}",
                        f.params[i],
                        r.params[i]
                    );
                    assert!(rel(f.bse[i], r.bse[i]) < tol, "{form:?} bse[{i}]");
                    assert!(
                        rel(f.bse_hac[i], r.bse_hac[i]) < tol,
                        "{form:?} lags {lags} bse_hac[{i}]"
                    );
                    assert_eq!(f.tvalues[i], f.params[i] / f.bse[i]);
                    assert_eq!(f.tvalues_hac[i], f.params[i] / f.bse_hac[i]);
                }
                assert!(rel(f.ssr, r.ssr) < tol);
                let n = f.nobs as f64;
                let llf = -n / 2.0 * ((2.0 * std::f64::consts::PI).ln() + (f.ssr / n).ln() + 1.0);
                assert!(rel(f.llf, llf) < 1e-14);
                assert!(f.rsquared > 0.0 && f.rsquared < 1.0 && f.rsquared_adj < f.rsquared);
            }
        }
    }

    /// A simulated log-HAR process (20 000 days, Gaussian noise): the log form recovers the
    /// coefficients within 4 HAC standard errors.
    #[test]
    fn simulated_har_recovers_coefficients() {
        let coef = [-0.8, 0.3, 0.4, 0.2];
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut x: Vec<f64> = vec![-8.0; 30];
        for t in 29..20_029 {
            let w = x[t - 6..=t].iter().sum::<f64>() / 7.0;
            let m = x[t - 29..=t].iter().sum::<f64>() / 30.0;
            let z: f64 = rng.sample(StandardNormal);
            x.push(coef[0] + coef[1] * x[t] + coef[2] * w + coef[3] * m + 0.5 * z);
        }
        let rv: Vec<f64> = x.iter().map(|v| v.exp()).collect();
        let f = fit(&rv, &HarSpec::new(HarForm::LogMeanOfLogs), 5).unwrap();
        for i in 0..K {
            assert!(
                (f.params[i] - coef[i]).abs() < 4.0 * f.bse_hac[i],
                "coef {i}: {} vs {} (se {})",
                f.params[i],
                coef[i],
                f.bse_hac[i]
            );
        }
        // Gaussian noise with sd 0.5: σ̂² = SSR/(n−4) ≈ 0.25.
        assert!((f.ssr / f.df_resid as f64 - 0.25).abs() < 0.01);
    }

    #[test]
    fn forecast_is_causal_and_reproduces_the_fitted_values() {
        let rv = rv_series(500, 2);
        for form in [HarForm::Level, HarForm::LogMeanOfLogs, HarForm::LogOfMeans] {
            let spec = HarSpec::new(form);
            let f = fit(&rv, &spec, 5).unwrap();
            let fc = forecast(&rv, &f.params, &spec).unwrap();
            assert_eq!(fc.forecast.len(), rv.len());
            assert!(fc.forecast[..30].iter().all(|v| v.is_nan()));
            for (r, fitted) in f.fitted.iter().enumerate() {
                assert!(
                    (fc.forecast[f.first_target + r] - fitted).abs() <= 1e-13 * fitted.abs(),
                    "{form:?} row {r}"
                );
            }
            assert!(fc.next.is_finite());
            // Changing days ≥ 300 leaves forecasts of days ≤ 300 unchanged.
            let mut rv2 = rv.clone();
            for v in &mut rv2[300..] {
                *v *= 3.0;
            }
            let fc2 = forecast(&rv2, &f.params, &spec).unwrap();
            assert_eq!(fc.forecast[30..=300], fc2.forecast[30..=300]);
            assert_ne!(fc.forecast[301], fc2.forecast[301]);
        }
    }

    #[test]
    fn forecast_propagates_missing_days_through_the_windows() {
        let mut rv = rv_series(200, 3);
        rv[100] = f64::NAN;
        let spec = HarSpec::new(HarForm::LogOfMeans);
        let fc = forecast(&rv, &[0.1, 0.3, 0.3, 0.3], &spec).unwrap();
        // Day 100 is in the monthly window of the forecasts of days 101..=130.
        assert!(fc.forecast[101..=130].iter().all(|v| v.is_nan()));
        assert!(
            fc.forecast[131..].iter().all(|v| v.is_finite())
                && fc.forecast[31..=100].iter().all(|v| v.is_finite())
        );
        assert!(fc.next.is_finite());
        // Fewer than `month` days: nothing to forecast.
        let short = forecast(&rv[..10], &[0.1, 0.3, 0.3, 0.3], &spec).unwrap();
        assert!(short.forecast.iter().all(|v| v.is_nan()) && short.next.is_nan());
    }

    #[test]
    fn bad_input_is_a_data_error_naming_the_argument() {
        let mut rv = rv_series(100, 5);
        rv[17] = f64::NAN;
        let spec = HarSpec::new(HarForm::Level);
        assert_eq!(
            fit(&rv, &spec, 5).unwrap_err().to_string(),
            "Expected finite values for rv but received NaN at index 17"
        );
        rv[17] = 0.0;
        assert!(fit(&rv, &spec, 5).is_ok());
        let e = fit(&rv, &HarSpec::new(HarForm::LogMeanOfLogs), 5)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "Expected positive values for rv (log form) but received 0 at index 17"
        );
        rv[17] = -1.0;
        assert!(forecast(&rv, &[0.0; 4], &spec).is_err());
        assert!(fit(&rv_series(34, 1), &spec, 5)
            .unwrap_err()
            .to_string()
            .contains("at least 35 days"));
        assert!(fit(&rv_series(35, 1), &spec, 0).is_ok());
        assert!(fit(
            &rv_series(100, 1),
            &HarSpec {
                form: HarForm::Level,
                week: 30,
                month: 7
            },
            5
        )
        .is_err());
        assert!(fit(&vec![1e-4; 100], &spec, 5)
            .unwrap_err()
            .to_string()
            .contains("rank deficient"));
        assert!(forecast(&rv_series(50, 1), &[f64::NAN, 0.0, 0.0, 0.0], &spec).is_err());
        assert!(HarForm::parse("logs").is_err());
    }
}
