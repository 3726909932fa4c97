// Summary of stored bars: assets, ranges, gaps, coverage.
import type { BarSet } from './arrow.js';
import { validMask } from './arrow.js';
import { intervalMs } from './intervals.js';

export interface AssetInfo {
  symbol: string;
  first: string | null;
  last: string | null;
  /** Bars from listing to the end of the grid. */
  expected: number;
  present: number;
  missing: number;
  /** Runs of consecutive missing bars after listing. */
  gaps: number;
  longestGap: number;
  zeroVolume: number;
  /** Present bars below the coverage threshold (e.g. days with < 95% of their hours/minutes). */
  lowCoverage: number;
  valid: number;
}

export interface SetInfo {
  interval: string;
  start: string;
  end: string;
  rowsPerAsset: number;
  minCoverage: number;
  assets: AssetInfo[];
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

export function describeSet(set: BarSet): SetInfo {
  const step = intervalMs(set.interval);
  const assets = set.assets.map((a): AssetInfo => {
    const p = a.bars.present;
    const valid = validMask(a, set.minCoverage);
    let firstI = -1;
    let lastI = -1;
    let present = 0;
    let missing = 0;
    let gaps = 0;
    let run = 0;
    let longest = 0;
    let zero = 0;
    let low = 0;
    let nValid = 0;
    for (let i = 0; i < p.length; i++) {
      if (p[i]) {
        if (firstI < 0) firstI = i;
        lastI = i;
        present++;
        if (a.bars.volume[i] === 0) zero++;
        if (!valid[i]) low++;
        else nValid++;
        if (run > 0) {
          gaps++;
          longest = Math.max(longest, run);
          run = 0;
        }
      } else if (firstI >= 0) {
        run++;
      }
    }
    // Bars after an asset's last bar but before the grid's end count as missing (the asset stopped).
    if (run > 0) {
      gaps++;
      longest = Math.max(longest, run);
    }
    missing = firstI < 0 ? 0 : p.length - firstI - present;
    return {
      symbol: a.symbol,
      first: firstI < 0 ? null : iso(set.start + firstI * step),
      last: lastI < 0 ? null : iso(set.start + lastI * step),
      expected: firstI < 0 ? 0 : p.length - firstI,
      present,
      missing,
      gaps,
      longestGap: longest,
      zeroVolume: zero,
      lowCoverage: low,
      valid: nValid,
    };
  });
  return {
    interval: set.interval,
    start: iso(set.start),
    end: iso(set.start + set.length * step),
    rowsPerAsset: set.length,
    minCoverage: set.minCoverage,
    assets,
  };
}
