// Evaluating a feature set on aligned bars: each definition in order, per asset, on the shared grid.
// Every kernel is trailing (a value at t reads inputs at or before t); the only fitted one
// (GARCH) is fitted on the train split and applied forward with frozen parameters.
import type { BarSet, Interval } from '@regime/data';
import { intervalMs } from '@regime/data';
import { scopeOf, validateDefs, type FeatureDef } from './definitions.js';
import { K, type GarchFitSummary } from './kernels.js';
import { FeatureError } from './errors.js';

export interface Splits {
  /** First training day (YYYY-MM-DD); earlier days are warm-up only (features look back into them,
   * nothing is fitted on them). Omitted: the data's first day. */
  trainStart?: string;
  /** Last day (inclusive, YYYY-MM-DD) of each split; the holdout runs from testEnd + 1 day on. */
  trainEnd: string;
  validationEnd: string;
  testEnd: string;
}

export const DEFAULT_SPLITS: Splits = { trainStart: '2020-01-01', trainEnd: '2022-12-31', validationEnd: '2023-12-31', testEnd: '2024-12-31' };

export interface FeatureTable {
  set: string;
  interval: Interval;
  start: number;
  length: number;
  symbols: string[];
  /** Stored (output) feature names, in definition order. */
  names: string[];
  scopes: Record<string, 'asset' | 'market'>;
  /** name → one array per asset (market features: the same values for every asset). */
  values: Record<string, Float64Array[]>;
  listed: Uint8Array[];
  meta: {
    anchor: string;
    splits: Splits;
    definitions: FeatureDef[];
    garch: Record<string, Record<string, GarchFitSummary | { skipped: string }>>;
  };
}

export interface ComputeOptions {
  set: string;
  defs: FeatureDef[];
  splits?: Splits;
  /** The reference asset for "vs BTC" features; default BTCUSDT if present, else the first symbol. */
  anchor?: string;
  /** Called after each definition. */
  onProgress?: (done: number, total: number, name: string) => void;
}

/** End (exclusive, ms) of the day `isoDate`. */
export function dayEndMs(isoDate: string): number {
  const t = Date.parse(`${isoDate}T00:00:00Z`);
  if (!Number.isFinite(t)) throw new FeatureError(`expected a date YYYY-MM-DD but received '${isoDate}'`);
  return t + 86_400_000;
}

type Series = Float64Array[];

export async function computeFeatures(bars: BarSet, o: ComputeOptions): Promise<FeatureTable> {
  const errors = validateDefs(o.defs, o.set);
  if (errors.length) throw new FeatureError(`invalid feature definitions:\n  ${errors.join('\n  ')}`);
  const symbols = bars.assets.map((a) => a.symbol);
  const anchor = o.anchor ?? (symbols.includes('BTCUSDT') ? 'BTCUSDT' : symbols[0]!);
  const anchorIdx = symbols.indexOf(anchor);
  if (anchorIdx < 0) throw new FeatureError(`anchor '${anchor}' is not among the assets (${symbols.join(', ')})`);
  const splits = o.splits ?? DEFAULT_SPLITS;
  const T = bars.length;
  const N = symbols.length;
  const step = intervalMs(bars.interval);
  const trainRows = Math.max(0, Math.min(T, Math.ceil((dayEndMs(splits.trainEnd) - bars.start) / step)));
  const rowsThrough = (day: string) => Math.max(0, Math.min(T, Math.ceil((dayEndMs(day) - bars.start) / step)));
  const trainFrom = splits.trainStart ? Math.max(0, Math.min(T, Math.ceil((dayEndMs(splits.trainStart) - 86_400_000 - bars.start) / step))) : 0;

  const env = new Map<string, Series>();
  const barCol = (name: string): Series | undefined => {
    switch (name) {
      case 'open':
      case 'high':
      case 'low':
      case 'close':
      case 'volume':
      case 'rv':
      case 'trades':
        return bars.assets.map((a) => a.bars[name]);
      case 'quote_volume':
        return bars.assets.map((a) => a.bars.quoteVolume);
      case 'rv_5m':
        return bars.assets.map((a) => a.rv5m ?? new Float64Array(T).fill(NaN));
      case 'quote_volume_proxy':
        return bars.assets.map((a) => {
          const b = a.bars;
          return Float64Array.from(b.quoteVolume, (q, i) => (Number.isNaN(q) ? b.volume[i]! * b.close[i]! : q));
        });
      default:
        return undefined;
    }
  };
  const get = (name: string): Series => {
    const v = env.get(name) ?? barCol(name);
    if (!v) throw new FeatureError(`unknown input '${name}'`);
    return v;
  };

  const garch: FeatureTable['meta']['garch'] = {};
  for (let i = 0; i < o.defs.length; i++) {
    const d = o.defs[i]!;
    const x = d.input !== undefined ? get(d.input) : undefined;
    const y = d.other !== undefined ? get(d.other) : undefined;
    let out: Series;
    switch (d.kernel) {
      case 'logret':
        out = x!.map((s) => K.logChange(s, 1));
        break;
      case 'log_change':
        out = x!.map((s) => K.logChange(s, d.n!));
        break;
      case 'roc':
        out = x!.map((s) => K.roc(s, d.n!));
        break;
      case 'rolling':
        out = await K.rollingMany(x!, d.stat!, d.window!, d.ddof ?? 1);
        break;
      case 'ewm':
        out = x!.map((s) => (d.stat === 'std' ? K.ewmStd(s, d.alpha!) : K.ewmMean(s, d.alpha!)));
        break;
      case 'map':
        out = x!.map((s) => mapTransform(s, d.transform!));
        break;
      case 'ratio':
        out = x!.map((s, k) => Float64Array.from(s, (v, t) => (d.log ? Math.log(v / y![k]![t]!) : v / y![k]![t]!)));
        break;
      case 'diff':
        out = x!.map((s, k) => Float64Array.from(s, (v, t) => v - y![k]![t]!));
        break;
      case 'sma_log_ratio':
        out = x!.map((s) => K.smaLogRatio(s, d.short!, d.long!));
        break;
      case 'adx':
        out = bars.assets.map((a) => K.adx(a.bars.high, a.bars.low, a.bars.close, d.n!));
        break;
      case 'parkinson': {
        const hl2 = bars.assets.map((a) => Float64Array.from(a.bars.high, (h, t) => Math.log(h / a.bars.low[t]!) ** 2));
        const m = await K.rollingMany(hl2, 'mean', d.window!, 1);
        out = m.map((s) => Float64Array.from(s, (v) => Math.sqrt(v / (4 * Math.LN2))));
        break;
      }
      case 'garch_sigma': {
        const r = await K.garchSigmaMany(x!, trainFrom, [trainRows, rowsThrough(splits.validationEnd), rowsThrough(splits.testEnd)], d.dist ?? 't');
        garch[d.name] = Object.fromEntries(symbols.map((s, k) => [s, r[k]!.summary]));
        out = r.map((z) => z.sigma);
        break;
      }
      case 'relative': {
        const ref = reference(x!, d.reference!, anchorIdx);
        out = x!.map((s, k) => Float64Array.from(s, (v, t) => v - ref[k]![t]!));
        break;
      }
      case 'corr_ref': {
        const ref = reference(x!, d.reference!, anchorIdx);
        out = x!.map((s, k) => K.rollingCorr(s, ref[k]!, d.window!));
        break;
      }
      case 'beta_ref': {
        const ref = reference(x!, d.reference!, anchorIdx);
        out = x!.map((s, k) => K.rollingBeta(s, ref[k]!, d.window!));
        break;
      }
      case 'avg_pairwise_corr': {
        const m = await K.corrMatrix(x!, d.window!);
        out = repeat(K.avgPairwiseCorr(m, N), N);
        break;
      }
      case 'corr_stability': {
        const m = await K.corrMatrix(x!, d.window!);
        out = repeat(K.corrStability(m, N, d.n!), N);
        break;
      }
      case 'mean_corr': {
        const m = await K.corrMatrix(x!, d.window!);
        out = K.meanCorr(m, N);
        break;
      }
      case 'dispersion': {
        const log = d.transform === 'log';
        const v = d.transform && !log ? x!.map((s) => mapTransform(s, d.transform!)) : x!;
        out = repeat(K.crossStd(v, log), N);
        break;
      }
      case 'rel_to_median':
        out = K.logRelMedian(x!);
        break;
      case 'anchor_share':
        out = repeat(K.anchorShare(x!, anchorIdx, d.window!), N);
        break;
    }
    if (d.scale !== undefined && d.kernel !== 'map') out = out.map((s) => s.map((v) => v * d.scale!));
    if (d.kernel === 'map' && d.scale !== undefined) out = out.map((s) => s.map((v) => v * d.scale!));
    // A value is defined only where the asset is listed; ±∞ (e.g. ln 0) is undefined too.
    out = out.map((s, k) => {
      const listed = bars.assets[k]!.listed;
      return s.map((v, t) => (listed[t] && Number.isFinite(v) ? v : NaN));
    });
    env.set(d.name, out);
    o.onProgress?.(i + 1, o.defs.length, d.name);
  }

  const outputs = o.defs.filter((d) => d.output !== false);
  return {
    set: o.set,
    interval: bars.interval,
    start: bars.start,
    length: T,
    symbols,
    names: outputs.map((d) => d.name),
    scopes: Object.fromEntries(outputs.map((d) => [d.name, scopeOf(d.kernel)])),
    values: Object.fromEntries(outputs.map((d) => [d.name, env.get(d.name)!])),
    listed: bars.assets.map((a) => a.listed),
    meta: { anchor, splits, definitions: o.defs, garch },
  };
}

function mapTransform(s: Float64Array, f: 'log' | 'sqrt' | 'abs' | 'square'): Float64Array {
  switch (f) {
    case 'log':
      return s.map(Math.log);
    case 'sqrt':
      return s.map(Math.sqrt);
    case 'abs':
      return s.map(Math.abs);
    case 'square':
      return s.map((v) => v * v);
  }
}

function repeat(s: Float64Array, n: number): Series {
  return Array.from({ length: n }, () => s);
}

/**
 * The reference series per asset: the anchor's series (the anchor itself gets the equal-weight
 * mean of the others, so no asset is compared with itself), or the equal-weight market mean.
 */
function reference(x: Series, kind: 'anchor' | 'market', anchorIdx: number): Series {
  const T = x[0]?.length ?? 0;
  const mean = (skip: number) => {
    const out = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      let s = 0;
      let n = 0;
      for (let k = 0; k < x.length; k++) {
        if (k === skip) continue;
        const v = x[k]![t]!;
        if (Number.isFinite(v)) {
          s += v;
          n++;
        }
      }
      out[t] = n ? s / n : NaN;
    }
    return out;
  };
  if (kind === 'market') {
    const m = mean(-1);
    return x.map(() => m);
  }
  const others = mean(anchorIdx);
  return x.map((_, k) => (k === anchorIdx ? others : x[anchorIdx]!));
}
