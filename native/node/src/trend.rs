//! Binding of regime_core::trend: rate of change, log momentum, ADX, volume trend, and their
//! streaming classes. Inputs are read in place (the calls are synchronous and O(T)); results
//! are handed to V8 without a copy.

use crate::{data_err, guard};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use regime_core::trend;

/// An integer argument ≥ `min`, checked here again after the TS layer (the binding never trusts
/// a number to be integral).
pub(crate) fn int_arg(v: f64, name: &str, min: usize) -> Result<usize> {
    if !v.is_finite() || v.fract() != 0.0 || v < min as f64 || v > u32::MAX as f64 {
        return Err(Error::new(Status::InvalidArg, format!("Expected integer >= {min} for {name} but received {v}")));
    }
    Ok(v as usize)
}

/// C_t/C_{t−n} − 1; NaN for the first n bars and where either close is missing or not positive.
#[napi]
pub fn rate_of_change(close: Float64ArraySlice, n: f64) -> Result<Float64Array> {
    let n = int_arg(n, "n", 1)?;
    guard("rateOfChange", || Ok(Float64Array::new(trend::rate_of_change(&close, n).map_err(data_err)?)))
}

/// ln(C_t/C_{t−n}); NaN for the first n bars and where either close is missing or not positive.
#[napi]
pub fn log_momentum(close: Float64ArraySlice, n: f64) -> Result<Float64Array> {
    let n = int_arg(n, "n", 1)?;
    guard("logMomentum", || Ok(Float64Array::new(trend::log_momentum(&close, n).map_err(data_err)?)))
}

/// ADX(n) with Wilder smoothing and its components, each as long as the input.
#[napi(object)]
pub struct JsAdxResult {
    pub adx: Float64Array,
    pub plus_di: Float64Array,
    pub minus_di: Float64Array,
    pub dx: Float64Array,
}

/// ADX(n), +DI, −DI and DX; first ADX at bar 2n−1, restarting after a missing bar.
#[napi]
pub fn adx(high: Float64ArraySlice, low: Float64ArraySlice, close: Float64ArraySlice, n: f64) -> Result<JsAdxResult> {
    let n = int_arg(n, "n", 1)?;
    guard("adx", || {
        let a = trend::adx(&high, &low, &close, n).map_err(data_err)?;
        Ok(JsAdxResult {
            adx: Float64Array::new(a.adx),
            plus_di: Float64Array::new(a.plus_di),
            minus_di: Float64Array::new(a.minus_di),
            dx: Float64Array::new(a.dx),
        })
    })
}

/// ln(SMA_short(V)/SMA_long(V)); NaN unless the last `long` volumes are all finite.
#[napi]
pub fn volume_trend(volume: Float64ArraySlice, short: f64, long: f64) -> Result<Float64Array> {
    let s = int_arg(short, "short", 1)?;
    let l = int_arg(long, "long", 2)?;
    guard("volumeTrend", || Ok(Float64Array::new(trend::volume_trend(&volume, s, l).map_err(data_err)?)))
}

/// Streaming rate of change: one close at a time, the same values as `rateOfChange`.
#[napi]
pub struct RateOfChangeStream {
    inner: trend::RocStream,
}

#[napi]
impl RateOfChangeStream {
    #[napi(constructor)]
    pub fn new(n: f64) -> Result<Self> {
        let n = int_arg(n, "n", 1)?;
        Ok(RateOfChangeStream { inner: trend::RocStream::new(n).map_err(data_err)? })
    }
    #[napi]
    pub fn update(&mut self, close: f64) -> Result<f64> {
        guard("RateOfChangeStream.update", || Ok(self.inner.update(close)))
    }
}

/// Streaming log momentum: one close at a time, the same values as `logMomentum`.
#[napi]
pub struct LogMomentumStream {
    inner: trend::LogMomentumStream,
}

#[napi]
impl LogMomentumStream {
    #[napi(constructor)]
    pub fn new(n: f64) -> Result<Self> {
        let n = int_arg(n, "n", 1)?;
        Ok(LogMomentumStream { inner: trend::LogMomentumStream::new(n).map_err(data_err)? })
    }
    #[napi]
    pub fn update(&mut self, close: f64) -> Result<f64> {
        guard("LogMomentumStream.update", || Ok(self.inner.update(close)))
    }
}

/// Streaming ADX: one bar at a time, the same values as `adx`. `update` returns the ADX; the
/// getters give the components of the last bar.
#[napi]
pub struct AdxStream {
    inner: trend::AdxStream,
}

#[napi]
impl AdxStream {
    #[napi(constructor)]
    pub fn new(n: f64) -> Result<Self> {
        let n = int_arg(n, "n", 1)?;
        Ok(AdxStream { inner: trend::AdxStream::new(n).map_err(data_err)? })
    }
    #[napi]
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Result<f64> {
        guard("AdxStream.update", || Ok(self.inner.update(high, low, close).adx))
    }
    #[napi(getter)]
    pub fn plus_di(&self) -> f64 {
        self.inner.last().plus_di
    }
    #[napi(getter)]
    pub fn minus_di(&self) -> f64 {
        self.inner.last().minus_di
    }
    #[napi(getter)]
    pub fn dx(&self) -> f64 {
        self.inner.last().dx
    }
    /// Forget all state (as after a missing bar).
    #[napi]
    pub fn reset(&mut self) {
        self.inner.reset();
    }
}

/// Streaming volume trend: one volume at a time, the same values as `volumeTrend`.
#[napi]
pub struct VolumeTrendStream {
    inner: trend::VolumeTrendStream,
}

#[napi]
impl VolumeTrendStream {
    #[napi(constructor)]
    pub fn new(short: f64, long: f64) -> Result<Self> {
        let s = int_arg(short, "short", 1)?;
        let l = int_arg(long, "long", 2)?;
        Ok(VolumeTrendStream { inner: trend::VolumeTrendStream::new(s, l).map_err(data_err)? })
    }
    #[napi]
    pub fn update(&mut self, volume: f64) -> Result<f64> {
        guard("VolumeTrendStream.update", || Ok(self.inner.update(volume)))
    }
}
