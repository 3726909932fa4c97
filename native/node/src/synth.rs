//! The synthetic market across the boundary.

use crate::bars::{to_js, JsGridBars};
use crate::{data_err, guard, pool};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use regime_core::synth::{generate, RegimeSpec, SynthMarket, SynthSpec};

#[napi(object)]
pub struct JsRegimeSpec {
    pub drift_annual: f64,
    pub vol_annual: f64,
    pub corr: f64,
}

#[napi(object)]
pub struct JsSynthOptions {
    pub n_assets: u32,
    pub n_days: u32,
    pub base_interval_ms: f64,
    pub seed: f64,
    /// UTC midnight of the first day (ms); default 2020-01-01.
    pub start_ms: Option<f64>,
    pub regimes: Option<Vec<JsRegimeSpec>>,
    pub transition: Option<Vec<Vec<f64>>>,
    pub dof: Option<f64>,
    pub listing_day: Option<Vec<u32>>,
    pub vol_scale: Option<Vec<f64>>,
    pub start_price: Option<Vec<f64>>,
    /// Expected exchange maintenance windows per year (no bars for any asset); default 4.
    pub maintenance_per_year: Option<f64>,
}

#[napi(object)]
pub struct JsSynthMarket {
    pub assets: Vec<JsGridBars>,
    /// True regime index per day.
    pub regime: Uint8Array,
    pub regimes: Vec<JsRegimeSpec>,
    pub listing_day: Vec<u32>,
}

pub struct SynthTask {
    spec: SynthSpec,
}

impl Task for SynthTask {
    type Output = SynthMarket;
    type JsValue = JsSynthMarket;
    fn compute(&mut self) -> Result<Self::Output> {
        let spec = self.spec.clone();
        guard("synthMarket", || pool::install(|| generate(&spec))?.map_err(data_err))
    }
    fn resolve(&mut self, _env: Env, m: Self::Output) -> Result<Self::JsValue> {
        Ok(JsSynthMarket {
            assets: m.assets.into_iter().map(to_js).collect(),
            regime: Uint8Array::new(m.regime),
            regimes: self
                .spec
                .regimes
                .iter()
                .map(|r| JsRegimeSpec { drift_annual: r.drift_annual, vol_annual: r.vol_annual, corr: r.corr })
                .collect(),
            listing_day: self.spec.listing_day.iter().map(|&d| d as u32).collect(),
        })
    }
}

/// Generate the seeded Markov-switching market (base-interval bars for every asset and the
/// true daily regime path). Unset options take the embedded default market's values.
#[napi(ts_return_type = "Promise<JsSynthMarket>")]
pub fn synth_market(o: JsSynthOptions) -> Result<AsyncTask<SynthTask>> {
    if !(o.seed.is_finite() && o.seed >= 0.0 && o.seed.fract() == 0.0 && o.seed <= 9.0e15) {
        return Err(Error::new(Status::InvalidArg, format!("Expected a non-negative integer seed but received {}", o.seed)));
    }
    if !(o.base_interval_ms.is_finite() && o.base_interval_ms > 0.0 && o.base_interval_ms.fract() == 0.0) {
        return Err(Error::new(Status::InvalidArg, format!("Expected positive integer baseIntervalMs but received {}", o.base_interval_ms)));
    }
    let mut spec = SynthSpec::default_market(o.n_assets as usize, o.n_days as usize, o.base_interval_ms as i64, o.seed as u64);
    if let Some(s) = o.start_ms {
        spec.start_ms = s as i64;
    }
    if let Some(r) = o.regimes {
        spec.regimes = r.iter().map(|r| RegimeSpec { drift_annual: r.drift_annual, vol_annual: r.vol_annual, corr: r.corr }).collect();
    }
    if let Some(t) = o.transition {
        spec.transition = t;
    }
    if let Some(d) = o.dof {
        spec.dof = d;
    }
    if let Some(l) = o.listing_day {
        spec.listing_day = l.iter().map(|&d| d as usize).collect();
    }
    if let Some(v) = o.vol_scale {
        spec.vol_scale = v;
    }
    if let Some(p) = o.start_price {
        spec.start_price = p;
    }
    if let Some(m) = o.maintenance_per_year {
        spec.maintenance_per_year = m;
    }
    Ok(AsyncTask::new(SynthTask { spec }))
}
