//! Resampling bars on a grid to a coarser UTC grid (1m → 5m → 1h → 1d, or any multiple).
//!
//! Per coarse bin: open = first present open, high = max, low = min, close = last present close,
//! volume/quote volume/trades/taker volumes = sums, `n_sub`/`n_expected` = sums of the fine
//! bars' counts, and `rv` = Σ r² of the log returns between consecutive present fine closes.
//! A bin's first return reaches back to the last present close before it (pandas-style
//! `np.log(close).diff()` over the rows that exist), so `rv` over a gap spans the gap.
//! Bins are left-closed and labelled by their start; partial bins are kept and told apart
//! by `n_sub` (the coverage rule lives with the caller).

use crate::bars::{GridBars, GridView};
use crate::error::DataError;
use rayon::prelude::*;

pub fn resample(fine: &GridBars, target_ms: i64) -> Result<GridBars, DataError> {
    resample_view(&fine.view(), target_ms)
}

/// `resample` on a borrowed grid.
pub fn resample_view(fine: &GridView, target_ms: i64) -> Result<GridBars, DataError> {
    fine.check()?;
    let f = fine.interval_ms;
    if target_ms <= 0 || f <= 0 || target_ms % f != 0 {
        return Err(DataError::arg(format!(
            "Expected a target interval that is a positive multiple of {f} ms but received {target_ms}"
        )));
    }
    if fine.start.rem_euclid(f) != 0 {
        return Err(DataError::arg(format!(
            "grid start {} is not aligned to {f} ms",
            fine.start
        )));
    }
    let ratio = (target_ms / f) as usize;
    let start = fine.start.div_euclid(target_ms) * target_ms;
    let end = if fine.is_empty() {
        start
    } else {
        (fine.end() + target_ms - 1).div_euclid(target_ms) * target_ms
    };
    let n = ((end - start) / target_ms) as usize;
    let mut out = GridBars::missing(target_ms, start, n);
    // Expected base bars per fine slot, for slots of a partial bin that lie outside the fine grid.
    let unit = fine
        .n_expected
        .iter()
        .copied()
        .find(|&e| e > 0)
        .unwrap_or(1);
    let lead = ((fine.start - start) / f) as usize; // fine slots before the grid in the first bin
                                                    // ln of the last present close: one logarithm per bar, not two.
    let mut prev_log = f64::NAN;
    for b in 0..n {
        let lo = (b * ratio).saturating_sub(lead);
        let hi = ((b + 1) * ratio).saturating_sub(lead).min(fine.len());
        let inside = hi.saturating_sub(lo);
        let outside = ratio - inside;
        let (mut o, mut h, mut l, mut c) = (f64::NAN, f64::NEG_INFINITY, f64::INFINITY, f64::NAN);
        let (mut v, mut qv, mut tr, mut tb, mut tq) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let (mut rv, mut nret, mut nsub, mut nexp) = (0.0f64, 0u32, 0u32, outside as u32 * unit);
        let mut any = false;
        for j in lo..hi {
            nexp += fine.n_expected[j];
            nsub += fine.n_sub[j];
            if fine.present[j] == 0 {
                continue;
            }
            if !any {
                o = fine.open[j];
                any = true;
            }
            h = h.max(fine.high[j]);
            l = l.min(fine.low[j]);
            c = fine.close[j];
            v += fine.volume[j];
            qv += fine.quote_volume[j];
            tr += fine.trades[j];
            tb += fine.taker_buy_base[j];
            tq += fine.taker_buy_quote[j];
            let lc = c.ln();
            if prev_log.is_finite() {
                let r = lc - prev_log;
                rv += r * r;
                nret += 1;
            }
            prev_log = lc;
        }
        out.n_sub[b] = nsub;
        out.n_expected[b] = nexp;
        if any {
            out.open[b] = o;
            out.high[b] = h;
            out.low[b] = l;
            out.close[b] = c;
            out.volume[b] = v;
            out.quote_volume[b] = qv;
            out.trades[b] = tr;
            out.taker_buy_base[b] = tb;
            out.taker_buy_quote[b] = tq;
            out.rv[b] = if nret > 0 { rv } else { f64::NAN };
            out.n_returns[b] = nret;
            out.present[b] = 1;
        }
    }
    Ok(out)
}

/// `resample` for many assets at once, one rayon task per asset. Each asset is independent,
/// so the result does not depend on the number of threads.
pub fn resample_many(fine: &[GridBars], target_ms: i64) -> Result<Vec<GridBars>, DataError> {
    fine.par_iter().map(|g| resample(g, target_ms)).collect()
}

/// `resample_many` on borrowed grids.
pub fn resample_many_views(fine: &[GridView], target_ms: i64) -> Result<Vec<GridBars>, DataError> {
    fine.par_iter()
        .map(|g| resample_view(g, target_ms))
        .collect()
}

/// Where a native coarse file and the same bars aggregated from finer data disagree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergeReport {
    pub compared: u64,
    pub mismatched: u64,
    /// Open times of the first mismatching bars (at most 20).
    pub first_mismatches: Vec<i64>,
    /// Bars present only in the aggregate (the native file lacks them).
    pub filled_from_finer: u64,
    /// Bins whose aggregate is partial (some sub-bars missing): not compared, since a partial
    /// aggregate is expected to differ from the exchange's full bar.
    pub partial: u64,
}

/// Combine a native coarse table with the aggregate of finer data on the same interval.
/// Prices and volumes come from the native file where it has the bar, else from the aggregate;
/// coverage counts and realized variance come from the aggregate wherever it covers the bin
/// (they cannot be known from the coarse file alone). Where both have a bar and the aggregate
/// is complete, a disagreement in OHLC, or in volume beyond `volume_rel_tol`, is counted in
/// the report.
pub fn merge_native(
    native: &GridBars,
    agg: &GridBars,
    volume_rel_tol: f64,
) -> Result<(GridBars, MergeReport), DataError> {
    if native.interval_ms != agg.interval_ms {
        return Err(DataError::arg(
            "merge_native: grids have different intervals",
        ));
    }
    let iv = native.interval_ms;
    let start = native.start.min(agg.start);
    let end = native.end().max(agg.end());
    let mut out = crate::grid::reframe(native, start, end)?;
    let a = crate::grid::reframe(agg, start, end)?;
    let mut rep = MergeReport::default();
    for i in 0..out.len() {
        if a.n_expected[i] == 0 {
            continue; // the finer data does not reach this bin
        }
        if out.present[i] == 1 && a.present[i] == 1 && a.n_sub[i] < a.n_expected[i] {
            rep.partial += 1;
        } else if out.present[i] == 1 && a.present[i] == 1 {
            rep.compared += 1;
            let vol_diff = (out.volume[i] - a.volume[i]).abs();
            let differs = out.open[i] != a.open[i]
                || out.high[i] != a.high[i]
                || out.low[i] != a.low[i]
                || out.close[i] != a.close[i]
                || vol_diff > volume_rel_tol * out.volume[i].abs().max(a.volume[i].abs());
            if differs {
                rep.mismatched += 1;
                if rep.first_mismatches.len() < 20 {
                    rep.first_mismatches.push(start + i as i64 * iv);
                }
            }
        } else if out.present[i] == 0 && a.present[i] == 1 {
            rep.filled_from_finer += 1;
            out.open[i] = a.open[i];
            out.high[i] = a.high[i];
            out.low[i] = a.low[i];
            out.close[i] = a.close[i];
            out.volume[i] = a.volume[i];
            out.quote_volume[i] = a.quote_volume[i];
            out.trades[i] = a.trades[i];
            out.taker_buy_base[i] = a.taker_buy_base[i];
            out.taker_buy_quote[i] = a.taker_buy_quote[i];
            out.present[i] = 1;
        }
        out.n_sub[i] = a.n_sub[i];
        out.n_expected[i] = a.n_expected[i];
        out.rv[i] = a.rv[i];
        out.n_returns[i] = a.n_returns[i];
    }
    // Native bins that the aggregate never reached keep their own single-bar coverage.
    for i in 0..out.len() {
        if out.n_expected[i] == 0 && out.present[i] == 1 {
            out.n_sub[i] = 1;
            out.n_expected[i] = 1;
        }
    }
    Ok((out, rep))
}

/// A naive reference: group by `open_time / target` over the present rows, in a HashMap-free
/// two-pass form. Used by tests only, to hold the fast path to an independent formulation.
#[doc(hidden)]
pub fn resample_reference(fine: &GridBars, target_ms: i64) -> Vec<(i64, [f64; 5], u32, f64)> {
    let mut rows: Vec<(i64, [f64; 5], u32, f64)> = Vec::new();
    let mut prev = f64::NAN;
    for j in 0..fine.len() {
        if fine.present[j] == 0 {
            continue;
        }
        let t = fine.open_time(j).div_euclid(target_ms) * target_ms;
        let r2 = if prev.is_nan() {
            f64::NAN
        } else {
            (fine.close[j].ln() - prev.ln()).powi(2)
        };
        prev = fine.close[j];
        match rows.last_mut() {
            Some(last) if last.0 == t => {
                last.1[1] = last.1[1].max(fine.high[j]);
                last.1[2] = last.1[2].min(fine.low[j]);
                last.1[3] = fine.close[j];
                last.1[4] += fine.volume[j];
                last.2 += fine.n_sub[j];
                if !r2.is_nan() {
                    last.3 = if last.3.is_nan() { r2 } else { last.3 + r2 };
                }
            }
            _ => rows.push((
                t,
                [
                    fine.open[j],
                    fine.high[j],
                    fine.low[j],
                    fine.close[j],
                    fine.volume[j],
                ],
                fine.n_sub[j],
                r2,
            )),
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bars::Klines;
    use crate::grid::to_grid;
    use proptest::prelude::*;

    fn klines(times: &[i64], closes: &[f64]) -> Klines {
        let n = times.len();
        Klines {
            open_time: times.to_vec(),
            open: closes.to_vec(),
            high: closes.iter().map(|c| c * 1.01).collect(),
            low: closes.iter().map(|c| c * 0.99).collect(),
            close: closes.to_vec(),
            volume: (0..n).map(|i| i as f64 + 0.5).collect(),
            quote_volume: vec![f64::NAN; n],
            trades: vec![1.0; n],
            taker_buy_base: vec![f64::NAN; n],
            taker_buy_quote: vec![f64::NAN; n],
        }
    }

    #[test]
    fn ohlc_sums_counts_and_rv() {
        // Minutes 0..4 in the first 5-minute bin (minute 2 missing), minute 5 in the second.
        let t = [0, 60_000, 180_000, 240_000, 300_000];
        let c = [10.0, 11.0, 9.0, 12.0, 13.0];
        let g = to_grid(&klines(&t, &c), 60_000, None, None).unwrap();
        let r = resample(&g, 300_000).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r.open[0], 10.0);
        assert_eq!(r.close[0], 12.0);
        assert_eq!(r.high[0], 12.0 * 1.01);
        assert_eq!(r.low[0], 9.0 * 0.99);
        assert_eq!(r.volume[0], 0.5 + 1.5 + 2.5 + 3.5);
        assert_eq!(r.n_sub, vec![4, 1]);
        assert_eq!(r.n_expected, vec![5, 5]);
        let rv0 = (11f64.ln() - 10f64.ln()).powi(2)
            + (9f64.ln() - 11f64.ln()).powi(2)
            + (12f64.ln() - 9f64.ln()).powi(2);
        assert!((r.rv[0] - rv0).abs() < 1e-15);
        // The second bin's only return reaches back to the first bin's last close.
        assert!((r.rv[1] - (13f64.ln() - 12f64.ln()).powi(2)).abs() < 1e-15);
        assert_eq!(r.trades[0], 4.0);
        assert!(r.quote_volume[0].is_nan());
    }

    #[test]
    fn partial_first_bin_counts_expected_outside_grid() {
        let g = to_grid(
            &klines(&[180_000, 240_000], &[1.0, 2.0]),
            60_000,
            None,
            None,
        )
        .unwrap();
        let r = resample(&g, 300_000).unwrap();
        assert_eq!(r.start, 0);
        assert_eq!(r.n_sub, vec![2]);
        assert_eq!(r.n_expected, vec![5]);
    }

    #[test]
    fn chained_equals_direct() {
        let n = 3 * 1440 + 17;
        let t: Vec<i64> = (0..n)
            .filter(|i| i % 97 != 3)
            .map(|i| 86_400_000 + i * 60_000)
            .collect();
        let c: Vec<f64> = (0..t.len())
            .map(|i| 100.0 + ((i * 7919) % 113) as f64)
            .collect();
        let g = to_grid(&klines(&t, &c), 60_000, None, None).unwrap();
        let direct = resample(&g, 86_400_000).unwrap();
        let chained = resample(
            &resample(&resample(&g, 300_000).unwrap(), 3_600_000).unwrap(),
            86_400_000,
        )
        .unwrap();
        assert_eq!(direct.open, chained.open);
        assert_eq!(direct.close, chained.close);
        assert_eq!(direct.high, chained.high);
        assert_eq!(direct.low, chained.low);
        assert_eq!(direct.n_sub, chained.n_sub);
        assert_eq!(direct.n_expected, chained.n_expected);
        for i in 0..direct.len() {
            assert!((direct.volume[i] - chained.volume[i]).abs() <= 1e-9 * direct.volume[i]);
        }
    }

    proptest! {
        #[test]
        fn matches_reference(mask in proptest::collection::vec(any::<bool>(), 1..400), ratio in 1i64..30, off in 0i64..30) {
            let t: Vec<i64> = mask.iter().enumerate().filter(|(_, &m)| m).map(|(i, _)| (off + i as i64) * 60_000).collect();
            prop_assume!(!t.is_empty());
            let c: Vec<f64> = (0..t.len()).map(|i| 50.0 + ((i * 31) % 17) as f64).collect();
            let g = to_grid(&klines(&t, &c), 60_000, None, None).unwrap();
            let fast = resample(&g, ratio * 60_000).unwrap();
            let reference = resample_reference(&g, ratio * 60_000);
            let present: Vec<usize> = (0..fast.len()).filter(|&i| fast.present[i] == 1).collect();
            prop_assert_eq!(present.len(), reference.len());
            for (&i, r) in present.iter().zip(&reference) {
                prop_assert_eq!(fast.open_time(i), r.0);
                prop_assert_eq!([fast.open[i], fast.high[i], fast.low[i], fast.close[i]], [r.1[0], r.1[1], r.1[2], r.1[3]]);
                prop_assert!((fast.volume[i] - r.1[4]).abs() <= 1e-12 * r.1[4].abs().max(1.0));
                prop_assert_eq!(fast.n_sub[i], r.2);
                prop_assert!((fast.rv[i].is_nan() && r.3.is_nan()) || (fast.rv[i] - r.3).abs() < 1e-14);
            }
        }
    }
}
