//! Placing bars on a complete UTC grid, and re-framing grids to a common range.
//!
//! A grid never invents a bar: a slot without a source row stays `present = 0` with NaN prices.

use crate::bars::{GridBars, Klines};
use crate::error::DataError;

/// Place validated, sorted klines on the grid `[start, end)` of step `interval_ms`.
/// `start`/`end` default to the first bar and one past the last bar. Rows outside are dropped.
pub fn to_grid(
    k: &Klines,
    interval_ms: i64,
    start: Option<i64>,
    end: Option<i64>,
) -> Result<GridBars, DataError> {
    if interval_ms <= 0 {
        return Err(DataError::arg(format!(
            "Expected positive interval_ms but received {interval_ms}"
        )));
    }
    if k.is_empty() && (start.is_none() || end.is_none()) {
        return Err(DataError::arg(
            "cannot place zero bars on a grid without an explicit start and end",
        ));
    }
    let start = start.unwrap_or_else(|| k.open_time[0]);
    let end = end.unwrap_or_else(|| k.open_time[k.len() - 1] + interval_ms);
    if start.rem_euclid(interval_ms) != 0 || end.rem_euclid(interval_ms) != 0 {
        return Err(DataError::arg(format!(
            "grid bounds {start}..{end} are not aligned to {interval_ms} ms"
        )));
    }
    if end < start {
        return Err(DataError::arg(format!(
            "grid end {end} is before start {start}"
        )));
    }
    let n = ((end - start) / interval_ms) as usize;
    let mut g = GridBars::missing(interval_ms, start, n);
    g.n_expected.iter_mut().for_each(|e| *e = 1);
    let mut prev: Option<i64> = None;
    for i in 0..k.len() {
        let t = k.open_time[i];
        if let Some(p) = prev {
            if t <= p {
                return Err(DataError::arg(format!(
                    "open_time must be strictly increasing: {t} after {p}"
                )));
            }
        }
        prev = Some(t);
        if t.rem_euclid(interval_ms) != 0 {
            return Err(DataError::arg(format!(
                "open_time {t} is not aligned to {interval_ms} ms"
            )));
        }
        if t < start || t >= end {
            continue;
        }
        let j = ((t - start) / interval_ms) as usize;
        g.open[j] = k.open[i];
        g.high[j] = k.high[i];
        g.low[j] = k.low[i];
        g.close[j] = k.close[i];
        g.volume[j] = k.volume[i];
        g.quote_volume[j] = k.quote_volume[i];
        g.trades[j] = k.trades[i];
        g.taker_buy_base[j] = k.taker_buy_base[i];
        g.taker_buy_quote[j] = k.taker_buy_quote[i];
        g.n_sub[j] = 1;
        g.present[j] = 1;
    }
    Ok(g)
}

/// The same bars on the grid `[start, end)`: rows outside are dropped, new rows are missing
/// (`n_expected` 0: nothing is known about them).
pub fn reframe(g: &GridBars, start: i64, end: i64) -> Result<GridBars, DataError> {
    let iv = g.interval_ms;
    if start.rem_euclid(iv) != 0 || end.rem_euclid(iv) != 0 || end < start {
        return Err(DataError::arg(format!(
            "cannot reframe a {iv} ms grid to {start}..{end}"
        )));
    }
    let n = ((end - start) / iv) as usize;
    let mut out = GridBars::missing(iv, start, n);
    // Overlap of [g.start, g.end) and [start, end) in source indices.
    let lo = g.start.max(start);
    let hi = g.end().min(end);
    if lo < hi {
        let s0 = ((lo - g.start) / iv) as usize;
        let d0 = ((lo - start) / iv) as usize;
        let m = ((hi - lo) / iv) as usize;
        macro_rules! cp {
            ($f:ident) => {
                out.$f[d0..d0 + m].copy_from_slice(&g.$f[s0..s0 + m]);
            };
        }
        cp!(open);
        cp!(high);
        cp!(low);
        cp!(close);
        cp!(volume);
        cp!(quote_volume);
        cp!(trades);
        cp!(taker_buy_base);
        cp!(taker_buy_quote);
        cp!(rv);
        cp!(n_returns);
        cp!(n_sub);
        cp!(n_expected);
        cp!(present);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(times: &[i64]) -> Klines {
        let n = times.len();
        Klines {
            open_time: times.to_vec(),
            open: vec![1.0; n],
            high: vec![2.0; n],
            low: vec![0.5; n],
            close: (0..n).map(|i| 1.0 + i as f64).collect(),
            volume: vec![3.0; n],
            quote_volume: vec![f64::NAN; n],
            trades: vec![f64::NAN; n],
            taker_buy_base: vec![f64::NAN; n],
            taker_buy_quote: vec![f64::NAN; n],
        }
    }

    #[test]
    fn gaps_are_marked_not_filled() {
        let g = to_grid(&k(&[0, 60_000, 240_000]), 60_000, None, None).unwrap();
        assert_eq!(g.present, vec![1, 1, 0, 0, 1]);
        assert!(g.close[2].is_nan() && g.close[3].is_nan());
        assert_eq!(g.close[4], 3.0);
    }

    #[test]
    fn reframe_pads_and_crops() {
        let g = to_grid(&k(&[60_000, 120_000]), 60_000, None, None).unwrap();
        let r = reframe(&g, 0, 240_000).unwrap();
        assert_eq!(r.present, vec![0, 1, 1, 0]);
        assert_eq!(r.n_expected, vec![0, 1, 1, 0]);
        let c = reframe(&g, 120_000, 180_000).unwrap();
        assert_eq!(c.close, vec![2.0]);
    }
}
