//! Binding of regime_core::har: HAR-RV OLS fit and causal forecast. Inputs are read in place
//! (synchronous, O(D)); coefficients cross as [const, daily, weekly, monthly].

use crate::{data_err, guard};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use regime_core::har::{self, HarForm, HarSpec, K};

/// Which HAR and which windows.
#[napi(object)]
pub struct JsHarSpec {
    /// 'level' | 'log' (mean of logs) | 'logOfMeans' (Corsi's log-HAR).
    pub form: String,
    /// Weekly window in days (default 7).
    pub week: Option<f64>,
    /// Monthly window in days (default 30).
    pub month: Option<f64>,
}

#[napi(object)]
pub struct JsHarFit {
    pub form: String,
    pub week: u32,
    pub month: u32,
    pub params: Vec<f64>,
    pub bse: Vec<f64>,
    pub tvalues: Vec<f64>,
    pub hac_lags: u32,
    pub bse_hac: Vec<f64>,
    pub tvalues_hac: Vec<f64>,
    pub rsquared: f64,
    pub rsquared_adj: f64,
    pub ssr: f64,
    pub llf: f64,
    pub nobs: u32,
    pub df_resid: u32,
    /// Fitted values and residuals of the regression rows; row r predicts day firstTarget + r.
    pub fitted: Float64Array,
    pub resid: Float64Array,
    pub first_target: u32,
}

#[napi(object)]
pub struct JsHarForecast {
    /// forecast[t] predicts day t from days ≤ t−1 (NaN before the monthly window is full).
    pub forecast: Float64Array,
    /// Prediction for the day after the series.
    pub next: f64,
}

fn window(v: Option<f64>, name: &str, default: usize) -> Result<usize> {
    match v {
        None => Ok(default),
        Some(v) if v.is_finite() && v.fract() == 0.0 && (2.0..=100_000.0).contains(&v) => Ok(v as usize),
        Some(v) => Err(Error::new(Status::InvalidArg, format!("Expected integer >= 2 for {name} but received {v}"))),
    }
}

fn to_spec(s: &JsHarSpec) -> Result<HarSpec> {
    Ok(HarSpec {
        form: HarForm::parse(&s.form).map_err(data_err)?,
        week: window(s.week, "week", 7)?,
        month: window(s.month, "month", 30)?,
    })
}

/// OLS HAR-RV fit with classical and HAC (Bartlett, `hacLags`, no small-sample correction)
/// standard errors.
#[napi]
pub fn har_fit_sync(rv: Float64ArraySlice, spec: JsHarSpec, hac_lags: f64) -> Result<JsHarFit> {
    let sp = to_spec(&spec)?;
    if !(hac_lags.is_finite() && hac_lags.fract() == 0.0 && (0.0..=1e6).contains(&hac_lags)) {
        return Err(Error::new(Status::InvalidArg, format!("Expected non-negative integer for hacLags but received {hac_lags}")));
    }
    guard("harFit", || {
        let f = har::fit(&rv, &sp, hac_lags as usize).map_err(data_err)?;
        Ok(JsHarFit {
            form: f.spec.form.name().to_string(),
            week: f.spec.week as u32,
            month: f.spec.month as u32,
            params: f.params.to_vec(),
            bse: f.bse.to_vec(),
            tvalues: f.tvalues.to_vec(),
            hac_lags: f.hac_lags as u32,
            bse_hac: f.bse_hac.to_vec(),
            tvalues_hac: f.tvalues_hac.to_vec(),
            rsquared: f.rsquared,
            rsquared_adj: f.rsquared_adj,
            ssr: f.ssr,
            llf: f.llf,
            nobs: f.nobs as u32,
            df_resid: f.df_resid as u32,
            fitted: Float64Array::new(f.fitted),
            resid: Float64Array::new(f.resid),
            first_target: f.first_target as u32,
        })
    })
}

/// Apply HAR coefficients [const, daily, weekly, monthly] to an RV series causally.
#[napi]
pub fn har_forecast_sync(rv: Float64ArraySlice, params: Vec<f64>, spec: JsHarSpec) -> Result<JsHarForecast> {
    let sp = to_spec(&spec)?;
    let p: [f64; K] = params.as_slice().try_into().map_err(|_| {
        Error::new(Status::InvalidArg, format!("Expected {K} HAR coefficients for params but received {}", params.len()))
    })?;
    guard("harForecast", || {
        let f = har::forecast(&rv, &p, &sp).map_err(data_err)?;
        Ok(JsHarForecast { forecast: Float64Array::new(f.forecast), next: f.next })
    })
}
