//! GridBars across the boundary, and the grid/resample kernels.

use crate::{data_err, guard, pool};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use regime_core::bars::GridView;
use regime_core::{grid, resample, GridBars};

/// Bars on a complete UTC grid; row i opens at `start + i * intervalMs` (ms since epoch).
#[napi(object)]
pub struct JsGridBars {
    pub interval_ms: f64,
    pub start: f64,
    pub open: Float64Array,
    pub high: Float64Array,
    pub low: Float64Array,
    pub close: Float64Array,
    pub volume: Float64Array,
    pub quote_volume: Float64Array,
    pub trades: Float64Array,
    pub taker_buy_base: Float64Array,
    pub taker_buy_quote: Float64Array,
    pub rv: Float64Array,
    pub n_returns: Uint32Array,
    pub n_sub: Uint32Array,
    pub n_expected: Uint32Array,
    pub present: Uint8Array,
}

pub(crate) fn to_js(g: GridBars) -> JsGridBars {
    JsGridBars {
        interval_ms: g.interval_ms as f64,
        start: g.start as f64,
        open: Float64Array::new(g.open),
        high: Float64Array::new(g.high),
        low: Float64Array::new(g.low),
        close: Float64Array::new(g.close),
        volume: Float64Array::new(g.volume),
        quote_volume: Float64Array::new(g.quote_volume),
        trades: Float64Array::new(g.trades),
        taker_buy_base: Float64Array::new(g.taker_buy_base),
        taker_buy_quote: Float64Array::new(g.taker_buy_quote),
        rv: Float64Array::new(g.rv),
        n_returns: Uint32Array::new(g.n_returns),
        n_sub: Uint32Array::new(g.n_sub),
        n_expected: Uint32Array::new(g.n_expected),
        present: Uint8Array::new(g.present),
    }
}

fn ms(v: f64, name: &str) -> Result<i64> {
    if !v.is_finite() || v.fract() != 0.0 || v.abs() > 9.0e15 {
        return Err(Error::new(Status::InvalidArg, format!("Expected an integer number of ms for {name} but received {v}")));
    }
    Ok(v as i64)
}

/// Copy a JS grid into the core layout (checked like `view_js`).
pub(crate) fn from_js(g: &JsGridBars, arg: &str) -> Result<GridBars> {
    let v = view_js(g, arg)?;
    if g.rv.len() != g.present.len() || g.n_returns.len() != g.present.len() {
        return Err(Error::new(Status::InvalidArg, format!("{arg}.rv and {arg}.nReturns must be as long as present ({})", g.present.len())));
    }
    Ok(GridBars {
        interval_ms: v.interval_ms,
        start: v.start,
        open: v.open.to_vec(),
        high: v.high.to_vec(),
        low: v.low.to_vec(),
        close: v.close.to_vec(),
        volume: v.volume.to_vec(),
        quote_volume: v.quote_volume.to_vec(),
        trades: v.trades.to_vec(),
        taker_buy_base: v.taker_buy_base.to_vec(),
        taker_buy_quote: v.taker_buy_quote.to_vec(),
        rv: g.rv.to_vec(),
        n_returns: g.n_returns.to_vec(),
        n_sub: v.n_sub.to_vec(),
        n_expected: v.n_expected.to_vec(),
        present: v.present.to_vec(),
    })
}

/// A borrowed view of a JS grid (checked: every column as long as `present`).
fn view_js<'a>(g: &'a JsGridBars, arg: &str) -> Result<GridView<'a>> {
    let n = g.present.len();
    let f: [(&str, &[f64]); 9] = [
        ("open", &g.open),
        ("high", &g.high),
        ("low", &g.low),
        ("close", &g.close),
        ("volume", &g.volume),
        ("quoteVolume", &g.quote_volume),
        ("trades", &g.trades),
        ("takerBuyBase", &g.taker_buy_base),
        ("takerBuyQuote", &g.taker_buy_quote),
    ];
    for (name, a) in f {
        if a.len() != n {
            return Err(Error::new(Status::InvalidArg, format!("{arg}.{name} has length {} but present has {n}", a.len())));
        }
    }
    for (name, a) in [("nSub", &g.n_sub), ("nExpected", &g.n_expected)] {
        if a.len() != n {
            return Err(Error::new(Status::InvalidArg, format!("{arg}.{name} has length {} but present has {n}", a.len())));
        }
    }
    let interval_ms = ms(g.interval_ms, &format!("{arg}.intervalMs"))?;
    if interval_ms <= 0 {
        return Err(Error::new(Status::InvalidArg, format!("Expected positive {arg}.intervalMs but received {interval_ms}")));
    }
    Ok(GridView {
        interval_ms,
        start: ms(g.start, &format!("{arg}.start"))?,
        open: &g.open,
        high: &g.high,
        low: &g.low,
        close: &g.close,
        volume: &g.volume,
        quote_volume: &g.quote_volume,
        trades: &g.trades,
        taker_buy_base: &g.taker_buy_base,
        taker_buy_quote: &g.taker_buy_quote,
        n_sub: &g.n_sub,
        n_expected: &g.n_expected,
        present: &g.present,
    })
}

/// Holds references to the caller's typed arrays (napi refs keep them alive) and reads them in
/// place on the pool: no copy. The caller must not mutate the arrays until the Promise settles
/// (the same contract as onnxruntime-node's and duckdb-node's async workers).
pub struct ResampleTask {
    input: Vec<JsGridBars>,
    target_ms: i64,
}

impl Task for ResampleTask {
    type Output = Vec<GridBars>;
    type JsValue = Vec<JsGridBars>;
    fn compute(&mut self) -> Result<Self::Output> {
        let views = self.input.iter().enumerate().map(|(i, g)| view_js(g, &format!("grids[{i}]"))).collect::<Result<Vec<_>>>()?;
        let t = self.target_ms;
        guard("resample", || pool::install(|| resample::resample_many_views(&views, t))?.map_err(data_err))
    }
    fn resolve(&mut self, _env: Env, out: Self::Output) -> Result<Self::JsValue> {
        Ok(out.into_iter().map(to_js).collect())
    }
}

/// Resample many assets' grids to `targetMs` (a multiple of their interval), in parallel
/// across assets, off the JS thread.
#[napi(ts_return_type = "Promise<Array<JsGridBars>>")]
pub fn resample_many(grids: Vec<JsGridBars>, target_ms: f64) -> Result<AsyncTask<ResampleTask>> {
    // Check shapes on the JS thread so a bad argument throws synchronously with its name.
    for (i, g) in grids.iter().enumerate() {
        view_js(g, &format!("grids[{i}]"))?;
    }
    Ok(AsyncTask::new(ResampleTask { input: grids, target_ms: ms(target_ms, "targetMs")? }))
}

/// Blocking variant of `resampleMany` for one grid (reads the typed arrays in place).
#[napi]
pub fn resample_sync(grid: JsGridBars, target_ms: f64) -> Result<JsGridBars> {
    let g = view_js(&grid, "grid")?;
    let t = ms(target_ms, "targetMs")?;
    guard("resample", || Ok(to_js(resample::resample_view(&g, t).map_err(data_err)?)))
}

/// The same bars on the grid [start, end): rows outside are dropped, new rows are missing.
#[napi]
pub fn reframe_sync(grid: JsGridBars, start: f64, end: f64) -> Result<JsGridBars> {
    let g = from_js(&grid, "grid")?;
    let (s, e) = (ms(start, "start")?, ms(end, "end")?);
    guard("reframe", || Ok(to_js(grid::reframe(&g, s, e).map_err(data_err)?)))
}

#[napi(object)]
pub struct JsMergeReport {
    pub compared: f64,
    pub mismatched: f64,
    pub first_mismatches: Vec<f64>,
    pub filled_from_finer: f64,
    pub partial: f64,
}

#[napi(object)]
pub struct JsMergeResult {
    pub bars: JsGridBars,
    pub report: JsMergeReport,
}

/// Combine a native coarse grid with the aggregate of finer data (see regime-core `merge_native`).
#[napi]
pub fn merge_native_sync(native: JsGridBars, aggregate: JsGridBars, volume_rel_tol: f64) -> Result<JsMergeResult> {
    let n = from_js(&native, "native")?;
    let a = from_js(&aggregate, "aggregate")?;
    if volume_rel_tol.is_nan() || volume_rel_tol < 0.0 {
        return Err(Error::new(Status::InvalidArg, format!("Expected volumeRelTol >= 0 but received {volume_rel_tol}")));
    }
    guard("mergeNative", || {
        let (g, r) = resample::merge_native(&n, &a, volume_rel_tol).map_err(data_err)?;
        Ok(JsMergeResult {
            bars: to_js(g),
            report: JsMergeReport {
                compared: r.compared as f64,
                mismatched: r.mismatched as f64,
                first_mismatches: r.first_mismatches.iter().map(|&t| t as f64).collect(),
                filled_from_finer: r.filled_from_finer as f64,
                partial: r.partial as f64,
            },
        })
    })
}
