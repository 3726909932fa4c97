// The embedded synthetic market: seeded Markov-switching bars with known regimes, written in the
// same schema as real bars. Ground truth for regime models when no data is given.
import * as engine from '@regime/engine';
import { buildBarSets, DEFAULT_INTERVALS } from './build.js';
import type { BarSet } from './arrow.js';
import { intervalMs, type Interval } from './intervals.js';

export interface SynthConfig {
  assets: number;
  days: number;
  /** Interval the generator draws at; coarser intervals are resampled from it. */
  baseInterval: Interval;
  seed: number;
  /** UTC date of the first day, YYYY-MM-DD. */
  start: string;
  intervals?: Interval[];
  regimes?: engine.RegimeSpec[];
  transition?: number[][];
  dof?: number;
  maintenancePerYear?: number;
}

export const DEFAULT_SYNTH: SynthConfig = { assets: 13, days: 1919, baseInterval: '1h', seed: 42, start: '2019-10-01' };

export interface SynthResult {
  sets: Map<Interval, BarSet>;
  symbols: string[];
  /** Regime index per day, from `start`. */
  regime: Uint8Array;
  regimes: engine.RegimeSpec[];
  listingDay: number[];
  startMs: number;
}

export function synthSymbols(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `SYN${String(i).padStart(2, '0')}`);
}

export async function synthesize(cfg: SynthConfig): Promise<SynthResult> {
  const startMs = Date.parse(`${cfg.start}T00:00:00Z`);
  if (!Number.isFinite(startMs)) throw new TypeError(`Expected a YYYY-MM-DD date for start but received ${JSON.stringify(cfg.start)}`);
  const opts: engine.SynthOptions = {
    nAssets: cfg.assets,
    nDays: cfg.days,
    baseIntervalMs: intervalMs(cfg.baseInterval),
    seed: cfg.seed,
    startMs,
  };
  if (cfg.regimes) opts.regimes = cfg.regimes;
  if (cfg.transition) opts.transition = cfg.transition;
  if (cfg.dof !== undefined) opts.dof = cfg.dof;
  if (cfg.maintenancePerYear !== undefined) opts.maintenancePerYear = cfg.maintenancePerYear;
  const m = await engine.synthMarket(opts);
  const symbols = synthSymbols(cfg.assets);
  const intervals = (cfg.intervals ?? DEFAULT_INTERVALS).filter((i) => intervalMs(i) >= intervalMs(cfg.baseInterval));
  if (!intervals.includes(cfg.baseInterval)) intervals.unshift(cfg.baseInterval);
  const { sets } = await buildBarSets(
    m.assets.map((g, k) => ({ symbol: symbols[k]!, native: { [cfg.baseInterval]: g } })),
    {
      intervals,
      meta: { synthetic: { seed: cfg.seed, days: cfg.days, baseInterval: cfg.baseInterval, start: cfg.start, regimes: m.regimes, listingDay: m.listingDay } },
    },
  );
  return { sets, symbols, regime: m.regime, regimes: m.regimes, listingDay: m.listingDay, startMs };
}
