// The feature sets of SPEC B3 (daily, 13 assets) and A10 (hourly, seed A corrected).
import type { FeatureDef } from './definitions.js';

const SQRT365 = Math.sqrt(365);

/** SPEC B3: daily vol, trend and cross groups, and the per-asset cross inputs for graph nodes. */
export const DAILY_SET: FeatureDef[] = [
  { name: 'logret', group: 'base', kernel: 'logret', input: 'close', output: false, formula: 'r_t = ln(C_t / C_{t−1})' },
  // vol group
  { name: 'realized_vol_20d', group: 'vol', kernel: 'rolling', input: 'logret', stat: 'std', window: 20, ddof: 1, scale: SQRT365, formula: 'std_{ddof=1}(r_{t−19..t}) · √365' },
  { name: 'GARCH_sigma', group: 'vol', kernel: 'garch_sigma', input: 'logret', dist: 't', scale: SQRT365 / 100, formula: 'one-step σ_t of GARCH(1,1)-t on 100·r, fitted on train, refitted (expanding) at the test and holdout starts; /100 · √365' },
  { name: 'HAR_daily', group: 'vol', kernel: 'map', input: 'rv', transform: 'sqrt', scale: SQRT365, formula: '√(365 · RV_d), RV_d = Σ r_h² of the day\'s hourly log returns' },
  { name: 'HAR_weekly', group: 'vol', kernel: 'rolling', input: 'HAR_daily', stat: 'mean', window: 7, formula: 'mean of HAR_daily over t−6..t' },
  { name: 'HAR_monthly', group: 'vol', kernel: 'rolling', input: 'HAR_daily', stat: 'mean', window: 30, formula: 'mean of HAR_daily over t−29..t (expected to be pruned)' },
  { name: 'realized_vol_7d', group: 'vol', kernel: 'rolling', input: 'logret', stat: 'std', window: 7, ddof: 1, scale: SQRT365, output: false, formula: 'std(r_{t−6..t}) · √365' },
  { name: 'realized_vol_30d', group: 'vol', kernel: 'rolling', input: 'logret', stat: 'std', window: 30, ddof: 1, scale: SQRT365, output: false, formula: 'std(r_{t−29..t}) · √365' },
  { name: 'vol_ratio', group: 'vol', kernel: 'ratio', input: 'realized_vol_7d', other: 'realized_vol_30d', formula: 'realized_vol_7d / realized_vol_30d' },
  // trend group
  { name: 'rate_of_change', group: 'trend', kernel: 'roc', input: 'close', n: 10, formula: 'C_t / C_{t−10} − 1' },
  { name: 'close_normalized', group: 'trend', kernel: 'rolling', input: 'close', stat: 'zscore', window: 20, ddof: 1, formula: '(C_t − SMA20(C)) / std20(C)' },
  { name: 'momentum_50d', group: 'trend', kernel: 'log_change', input: 'close', n: 50, formula: 'ln(C_t / C_{t−50})' },
  { name: 'return_skewness_30d', group: 'trend', kernel: 'rolling', input: 'logret', stat: 'skew', window: 30, formula: 'bias-corrected sample skewness of r over 30 days' },
  { name: 'trend_strength', group: 'trend', kernel: 'adx', n: 14, scale: 0.01, formula: 'ADX(14) with Wilder smoothing / 100' },
  { name: 'volume_trend', group: 'trend', kernel: 'sma_log_ratio', input: 'quote_volume_proxy', short: 7, long: 30, formula: 'ln(SMA7(QV) / SMA30(QV)); QV = quote volume, or volume × close where the source lacks it' },
  // cross group (market level: one value per day, repeated on every asset's row)
  { name: 'avg_pairwise_corr', group: 'cross', kernel: 'avg_pairwise_corr', input: 'logret', window: 30, formula: 'mean off-diagonal Pearson correlation of r over 30 days, over assets with full windows' },
  { name: 'btc_volume_share', group: 'cross', kernel: 'anchor_share', input: 'quote_volume_proxy', window: 7, formula: "the anchor's (BTC's) share of the assets' quote volume, 7-day mean — a proxy: OHLCV cannot give market-cap dominance" },
  { name: 'vol_dispersion', group: 'cross', kernel: 'dispersion', input: 'realized_vol_20d', transform: 'log', formula: 'cross-sectional std (ddof 1) of ln realized_vol_20d' },
  { name: 'corr_stability', group: 'cross', kernel: 'corr_stability', input: 'logret', window: 30, n: 30, formula: 'Pearson correlation of the upper triangles of the 30-day correlation matrices at t and t−30' },
  // per-asset cross inputs for graph nodes
  { name: 'mean_corr_30d', group: 'node', kernel: 'mean_corr', input: 'logret', window: 30, formula: "the asset's mean 30-day correlation to the other assets" },
  { name: 'beta_btc_30d', group: 'node', kernel: 'beta_ref', input: 'logret', window: 30, reference: 'anchor', formula: 'β of r on the anchor (BTC) over 30 days; the anchor itself against the equal-weight mean of the others' },
  { name: 'log_vol_rel_median', group: 'node', kernel: 'rel_to_median', input: 'realized_vol_20d', formula: 'ln(realized_vol_20d / cross-sectional median)' },
];

/** SPEC A10: hourly, stationary inputs only, cross features vs BTC and vs the equal-weight market, no placeholders. */
export const HOURLY_SET: FeatureDef[] = [
  { name: 'log_ret_1', group: 'base', kernel: 'logret', input: 'close', formula: 'ln(C_t / C_{t−1})' },
  { name: 'vol_5', group: 'vol', kernel: 'rolling', input: 'log_ret_1', stat: 'std', window: 5, ddof: 1, formula: 'std(r over 5 h), full window' },
  { name: 'vol_20', group: 'vol', kernel: 'rolling', input: 'log_ret_1', stat: 'std', window: 20, ddof: 1, formula: 'std(r over 20 h), full window' },
  { name: 'vol_60', group: 'vol', kernel: 'rolling', input: 'log_ret_1', stat: 'std', window: 60, ddof: 1, formula: 'std(r over 60 h), full window' },
  { name: 'vol_ratio', group: 'vol', kernel: 'ratio', input: 'vol_5', other: 'vol_60', log: true, formula: 'ln(vol_5 / vol_60)' },
  { name: 'log_volume', group: 'base', kernel: 'map', input: 'volume', transform: 'log', output: false, formula: 'ln V' },
  { name: 'volume_z_20', group: 'volume', kernel: 'rolling', input: 'log_volume', stat: 'zscore', window: 20, ddof: 1, formula: 'z-score of ln V over 20 h' },
  { name: 'log_ret_norm', group: 'trend', kernel: 'ratio', input: 'log_ret_1', other: 'vol_60', formula: 'log_ret_1 / vol_60' },
  { name: 'log_range', group: 'range', kernel: 'ratio', input: 'high', other: 'low', log: true, formula: 'ln(H / L)' },
  { name: 'parkinson_20', group: 'range', kernel: 'parkinson', window: 20, formula: '√(mean_20(ln(H/L)²) / (4 ln 2))' },
  { name: 'ret_24', group: 'base', kernel: 'log_change', input: 'close', n: 24, output: false, formula: 'ln(C_t / C_{t−24})' },
  { name: 'rel_ret_24', group: 'cross', kernel: 'relative', input: 'ret_24', reference: 'anchor', formula: '24 h log return − BTC\'s (BTC: − the equal-weight mean of the others)' },
  { name: 'rel_ret_24_mkt', group: 'cross', kernel: 'relative', input: 'ret_24', reference: 'market', formula: '24 h log return − the equal-weight market mean' },
  { name: 'corr_btc_168', group: 'cross', kernel: 'corr_ref', input: 'log_ret_1', window: 168, reference: 'anchor', formula: '168 h correlation with BTC (BTC: with the equal-weight mean of the others)' },
  { name: 'corr_mkt_168', group: 'cross', kernel: 'corr_ref', input: 'log_ret_1', window: 168, reference: 'market', formula: '168 h correlation with the equal-weight market mean' },
  { name: 'log_vol_20', group: 'base', kernel: 'map', input: 'vol_20', transform: 'log', output: false, formula: 'ln vol_20' },
  { name: 'vol_spread', group: 'cross', kernel: 'relative', input: 'log_vol_20', reference: 'anchor', formula: 'ln(vol_20 / vol_20 of BTC) (BTC: vs the equal-weight mean of the others)' },
  { name: 'vol_spread_mkt', group: 'cross', kernel: 'relative', input: 'log_vol_20', reference: 'market', formula: 'ln vol_20 − the market mean of ln vol_20' },
];

export const SETS: Record<string, { interval: '1d' | '1h'; defs: FeatureDef[]; description: string }> = {
  daily: { interval: '1d', defs: DAILY_SET, description: 'SPEC B3: vol, trend, cross groups and graph-node inputs on daily bars' },
  hourly: { interval: '1h', defs: HOURLY_SET, description: 'SPEC A10: stationary hourly features, cross-asset vs BTC and the equal-weight market' },
};
