// From per-symbol source grids to aligned multi-asset BarSets: the resampling chain
// (finer → coarser, threaded across assets in the native core), merging native coarse files
// with aggregates of finer data, and alignment on one grid per interval.
import * as engine from '@regime/engine';
import type { GridBars, MergeReport } from '@regime/engine';
import type { AssetBars, BarSet } from './arrow.js';
import { intervalMs, sortIntervals, type Interval } from './intervals.js';

export interface SymbolGrids {
  symbol: string;
  /** Grids read from the symbol's own files, by interval. */
  native: Partial<Record<Interval, GridBars>>;
}

export interface BuildOptions {
  /** Intervals to produce (default 1m, 1h, 1d); an interval finer than a symbol's finest data is skipped for it. */
  intervals?: Interval[];
  minCoverage?: number;
  /** Relative volume tolerance when comparing a native coarse bar with its aggregate. */
  volumeRelTol?: number;
  meta?: Record<string, unknown>;
}

export interface BuildReport {
  /** symbol → interval → how the interval was built. */
  symbols: Record<string, Partial<Record<Interval, { from: 'native' | 'aggregate' | 'native+aggregate'; finer?: Interval; merge?: MergeReport }>>>;
}

export const DEFAULT_INTERVALS: Interval[] = ['1m', '1h', '1d'];

/** Build every requested interval for every symbol, then align each interval on one grid. */
export async function buildBarSets(inputs: SymbolGrids[], options: BuildOptions = {}): Promise<{ sets: Map<Interval, BarSet>; report: BuildReport }> {
  const targets = sortIntervals(options.intervals ?? DEFAULT_INTERVALS);
  const minCoverage = options.minCoverage ?? 0.95;
  const tol = options.volumeRelTol ?? 1e-9;
  const report: BuildReport = { symbols: Object.fromEntries(inputs.map((s) => [s.symbol, {}])) };
  // built[k][interval] = the grid of symbol k at that interval
  const built: Array<Partial<Record<Interval, GridBars>>> = inputs.map(() => ({}));
  const rv5m: Array<GridBars | undefined> = inputs.map(() => undefined);

  for (const T of targets) {
    const tMs = intervalMs(T);
    // For each symbol, the coarsest already-built interval below T that divides it.
    const finerOf = inputs.map((_, k) => {
      const cands = targets.filter((f) => intervalMs(f) < tMs && tMs % intervalMs(f) === 0 && built[k]![f]);
      return cands.length ? cands[cands.length - 1] : undefined;
    });
    // Native files of an interval not in the target list still serve as finer data below.
    const withFiner = inputs.map((s, k) => ({ k, finer: finerOf[k] ?? nativeFiner(s, tMs) }));
    const todo = withFiner.filter((x) => x.finer !== undefined);
    const aggs = await engine.resample(
      todo.map((x) => built[x.k]![x.finer!] ?? inputs[x.k]!.native[x.finer!]!),
      tMs,
    );
    const aggOf = new Map(todo.map((x, i) => [x.k, { grid: aggs[i]!, finer: x.finer! }]));
    inputs.forEach((s, k) => {
      const native = s.native[T];
      const agg = aggOf.get(k);
      if (native && agg) {
        const m = engine.mergeNativeSync(native, agg.grid, tol);
        built[k]![T] = m.bars;
        report.symbols[s.symbol]![T] = { from: 'native+aggregate', finer: agg.finer, merge: m.report };
      } else if (native) {
        built[k]![T] = native;
        report.symbols[s.symbol]![T] = { from: 'native' };
      } else if (agg) {
        built[k]![T] = agg.grid;
        report.symbols[s.symbol]![T] = { from: 'aggregate', finer: agg.finer };
      }
    });
    if (T === '1d') {
      // Daily realized variance from 5-minute returns, where 1-minute data exists (SPEC B2).
      const withMinutes = inputs.map((s, k) => ({ k, m: built[k]!['1m'] ?? s.native['1m'] })).filter((x) => x.m);
      if (withMinutes.length) {
        const five = await engine.resample(withMinutes.map((x) => x.m!), 300_000);
        const days = await engine.resample(five, tMs);
        withMinutes.forEach((x, i) => (rv5m[x.k] = days[i]));
      }
    }
  }

  const sets = new Map<Interval, BarSet>();
  for (const T of targets) {
    const members = inputs.map((s, k) => ({ symbol: s.symbol, k, g: built[k]![T] })).filter((x) => x.g && x.g.present.length > 0);
    if (members.length === 0) continue;
    const step = intervalMs(T);
    const start = Math.min(...members.map((x) => x.g!.start));
    const end = Math.max(...members.map((x) => x.g!.start + x.g!.present.length * step));
    const assets: AssetBars[] = members.map((x) => {
      const bars = engine.reframeSync(x.g!, start, end);
      const listed = new Uint8Array(bars.present.length);
      const first = bars.present.indexOf(1);
      if (first >= 0) listed.fill(1, first);
      const a: AssetBars = { symbol: x.symbol, bars, listed };
      const r5 = rv5m[x.k];
      if (T === '1d' && r5) a.rv5m = engine.reframeSync(r5, start, end).rv;
      return a;
    });
    sets.set(T, { interval: T, start, length: (end - start) / step, minCoverage, assets, meta: options.meta ?? {} });
  }
  return { sets, report };
}

function nativeFiner(s: SymbolGrids, tMs: number): Interval | undefined {
  const cands = (Object.keys(s.native) as Interval[]).filter((f) => intervalMs(f) < tMs && tMs % intervalMs(f) === 0);
  return cands.length ? sortIntervals(cands).at(-1) : undefined;
}
