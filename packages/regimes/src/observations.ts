// The observations each labelling task's HMM sees (SPEC B4), computed with the feature engine so
// they are causal and exactly the features later models read.
import type { BarSet } from '@regime/data';
import { computeFeatures, DAILY_SET, type FeatureDef, type FeatureTable } from '@regime/features';

const SQRT365 = Math.sqrt(365);

/** Definitions for the observation features (a subset of DAILY_SET plus the trend task's momentum). */
export const OBSERVATION_DEFS: FeatureDef[] = [
  { name: 'logret', group: 'base', kernel: 'logret', input: 'close', output: false, formula: 'r_t = ln(C_t / C_{t−1})' },
  ...DAILY_SET.filter((d) => ['realized_vol_20d', 'HAR_daily', 'HAR_weekly'].includes(d.name)),
  { name: 'ln_realized_vol_20d', group: 'obs', kernel: 'map', input: 'realized_vol_20d', transform: 'log', formula: 'ln realized_vol_20d' },
  { name: 'ln_HAR_weekly', group: 'obs', kernel: 'map', input: 'HAR_weekly', transform: 'log', formula: 'ln HAR_weekly' },
  { name: 'momentum_30d', group: 'obs', kernel: 'log_change', input: 'close', n: 30, formula: 'ln(C_t / C_{t−30})' },
  // The 30-day momentum in units of its own expected dispersion: realized_vol_20d scaled to 30 days.
  { name: 'vol_30d', group: 'obs', kernel: 'map', input: 'realized_vol_20d', transform: 'abs', scale: Math.sqrt(30) / SQRT365, output: false, formula: 'realized_vol_20d · √(30/365)' },
  { name: 'momentum_30d_norm', group: 'obs', kernel: 'ratio', input: 'momentum_30d', other: 'vol_30d', formula: 'momentum_30d / (realized_vol_20d · √(30/365))' },
  { name: 'avg_pairwise_corr', group: 'obs', kernel: 'avg_pairwise_corr', input: 'logret', window: 30, formula: 'mean off-diagonal 30-day correlation' },
];

export async function observationTable(bars: BarSet): Promise<FeatureTable> {
  return computeFeatures(bars, { set: 'observations', defs: OBSERVATION_DEFS });
}
