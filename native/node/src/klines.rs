//! Kline file reading across the boundary.

use crate::bars::{to_js, JsGridBars};
use crate::{data_err, guard};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use regime_core::klines::{read_file, ReadOptions, ReadReport};
use regime_core::grid::to_grid;
use std::path::PathBuf;

#[napi(object)]
#[derive(Default)]
pub struct JsReadOptions {
    /// Bar interval in ms; inferred from the data when absent.
    pub interval_ms: Option<f64>,
    /// Sort unsorted rows and drop duplicate open times (reported, never silent).
    pub repair: Option<bool>,
}

#[napi(object)]
pub struct JsReadReport {
    pub rows: f64,
    pub header_lines: f64,
    pub micros_rows: f64,
    pub out_of_order: f64,
    pub duplicates_dropped: f64,
    pub conflicting_duplicates: f64,
    pub interval_ms: f64,
}

fn report_js(r: &ReadReport) -> JsReadReport {
    JsReadReport {
        rows: r.rows as f64,
        header_lines: r.header_lines as f64,
        micros_rows: r.micros_rows as f64,
        out_of_order: r.out_of_order as f64,
        duplicates_dropped: r.duplicates_dropped as f64,
        conflicting_duplicates: r.conflicting_duplicates as f64,
        interval_ms: r.interval_ms as f64,
    }
}

#[napi(object)]
pub struct JsReadResult {
    /// The file's bars on a complete grid from its first to its last bar (gaps marked missing).
    pub bars: JsGridBars,
    pub report: JsReadReport,
}

pub struct ReadTask {
    paths: Vec<PathBuf>,
    opts: ReadOptions,
}

impl Task for ReadTask {
    type Output = (regime_core::GridBars, ReadReport);
    type JsValue = JsReadResult;
    fn compute(&mut self) -> Result<Self::Output> {
        let paths = std::mem::take(&mut self.paths);
        let opts = self.opts.clone();
        guard("readKlines", || {
            // Several files of one symbol and interval (e.g. monthly archives) form one series.
            let mut all = regime_core::Klines::default();
            let mut rep = ReadReport::default();
            for p in &paths {
                let r = read_file(p, &opts).map_err(data_err)?;
                if rep.interval_ms != 0 && r.report.interval_ms != rep.interval_ms {
                    return Err(Error::new(
                        Status::InvalidArg,
                        format!("{}: interval {} ms differs from the other files' {} ms", p.display(), r.report.interval_ms, rep.interval_ms),
                    ));
                }
                rep.interval_ms = r.report.interval_ms;
                rep.rows += r.report.rows;
                rep.header_lines += r.report.header_lines;
                rep.micros_rows += r.report.micros_rows;
                rep.out_of_order += r.report.out_of_order;
                rep.duplicates_dropped += r.report.duplicates_dropped;
                rep.conflicting_duplicates += r.report.conflicting_duplicates;
                if let (Some(&last), Some(&first)) = (all.open_time.last(), r.klines.open_time.first()) {
                    if first <= last && !opts.repair {
                        return Err(Error::new(
                            Status::InvalidArg,
                            format!("{}: first open_time {first} is not after the previous file's last {last} (files overlap or are out of order; use the repair flag)", p.display()),
                        ));
                    }
                }
                all.append(r.klines);
            }
            if opts.repair && all.open_time.windows(2).any(|w| w[1] <= w[0]) {
                let mut idx: Vec<usize> = (0..all.len()).collect();
                idx.sort_by_key(|&i| all.open_time[i]);
                let mut keep: Vec<usize> = Vec::with_capacity(idx.len());
                for i in idx {
                    if keep.last().map(|&l| all.open_time[l] == all.open_time[i]).unwrap_or(false) {
                        rep.duplicates_dropped += 1;
                        rep.rows -= 1;
                        continue;
                    }
                    keep.push(i);
                }
                all = all.take(&keep);
            }
            let g = to_grid(&all, rep.interval_ms, None, None).map_err(data_err)?;
            Ok((g, rep))
        })
    }
    fn resolve(&mut self, _env: Env, out: Self::Output) -> Result<Self::JsValue> {
        Ok(JsReadResult { bars: to_js(out.0), report: report_js(&out.1) })
    }
}

/// Read one or more kline files of one symbol and interval (Binance archive csv/zip, or the
/// normalized csv/csv.gz), validate every row, and place the bars on a complete grid.
/// Runs off the JS thread. A bad row rejects with an error naming file, line, column and value.
#[napi(ts_return_type = "Promise<JsReadResult>")]
pub fn read_klines(paths: Vec<String>, options: Option<JsReadOptions>) -> Result<AsyncTask<ReadTask>> {
    if paths.is_empty() {
        return Err(Error::new(Status::InvalidArg, "Expected at least one path for paths but received none"));
    }
    let o = options.unwrap_or_default();
    let interval_ms = match o.interval_ms {
        None => None,
        Some(v) if v.is_finite() && v > 0.0 && v.fract() == 0.0 => Some(v as i64),
        Some(v) => return Err(Error::new(Status::InvalidArg, format!("Expected positive integer intervalMs but received {v}"))),
    };
    Ok(AsyncTask::new(ReadTask {
        paths: paths.into_iter().map(PathBuf::from).collect(),
        opts: ReadOptions { interval_ms, repair: o.repair.unwrap_or(false) },
    }))
}

/// Kline columns from another source (e.g. an Arrow IPC file); optional columns may be absent.
#[napi(object)]
pub struct JsKlineColumns {
    pub open_time: Float64Array,
    pub open: Float64Array,
    pub high: Float64Array,
    pub low: Float64Array,
    pub close: Float64Array,
    pub volume: Float64Array,
    pub quote_volume: Option<Float64Array>,
    pub trades: Option<Float64Array>,
    pub taker_buy_base: Option<Float64Array>,
    pub taker_buy_quote: Option<Float64Array>,
}

/// Validate kline columns with the same rules as the file readers and place them on a grid.
/// `name` names the source in errors (rows are 1-based).
#[napi]
pub fn klines_from_columns_sync(columns: JsKlineColumns, name: String, options: Option<JsReadOptions>) -> Result<JsReadResult> {
    let n = columns.open_time.len();
    let mut open_time = Vec::with_capacity(n);
    for (i, &t) in columns.open_time.iter().enumerate() {
        if !(t.is_finite() && t.fract() == 0.0 && t >= 0.0) {
            return Err(Error::new(Status::InvalidArg, format!("{name}:{}: column 'open_time': not an integer timestamp (value '{t}')", i + 1)));
        }
        let mut t = t as i64;
        if t >= 100_000_000_000_000 {
            t /= 1000; // microseconds, as in Binance's 2025+ archive
        }
        open_time.push(t);
    }
    let opt = |c: &Option<Float64Array>, what: &str| -> Result<Vec<f64>> {
        match c {
            Some(a) if a.len() == n => Ok(a.to_vec()),
            Some(a) => Err(Error::new(Status::InvalidArg, format!("{name}: column '{what}' has {} rows, open_time has {n}", a.len()))),
            None => Ok(vec![f64::NAN; n]),
        }
    };
    let k = regime_core::Klines {
        open_time,
        open: columns.open.to_vec(),
        high: columns.high.to_vec(),
        low: columns.low.to_vec(),
        close: columns.close.to_vec(),
        volume: columns.volume.to_vec(),
        quote_volume: opt(&columns.quote_volume, "quote_volume")?,
        trades: opt(&columns.trades, "trades")?,
        taker_buy_base: opt(&columns.taker_buy_base, "taker_buy_base")?,
        taker_buy_quote: opt(&columns.taker_buy_quote, "taker_buy_quote")?,
    };
    let o = options.unwrap_or_default();
    let opts = ReadOptions {
        interval_ms: o.interval_ms.map(|v| v as i64),
        repair: o.repair.unwrap_or(false),
    };
    guard("klinesFromColumns", || {
        let r = regime_core::klines::validate_columns(k, &name, &opts).map_err(data_err)?;
        let g = to_grid(&r.klines, r.report.interval_ms, None, None).map_err(data_err)?;
        Ok(JsReadResult { bars: to_js(g), report: report_js(&r.report) })
    })
}
