// Rolling window statistics with pandas semantics (SPEC B3): sum, mean, var, std, skew, kurt, min,
// max and z-score over a window of rows; rolling corr/cov of two series; EWM mean and std
// (adjust=False). Each has a batch function and a streaming class fed one bar at a time, and a
// warm-up length. The EWM stream gives the batch values bit for bit; the rolling stream gives
// them within the tolerances of docs/rolling.md (the batch sums blocks of rows, the stream adds
// and removes one value at a time). Missing values (NaN, ±Infinity) are skipped; an output is
// NaN while its window holds fewer than `minPeriods` observations.
// Formulas, NaN rules and accuracy: docs/rolling.md.
import { raw, type Raw } from './raw.js';
import { callAsync, callSync } from './errors.js';
import { describe, invalid, nonNegativeInt, positiveInt } from './validate.js';

/** A statistic over a rolling window of one series. */
export type RollingStat = 'sum' | 'mean' | 'var' | 'std' | 'skew' | 'kurt' | 'min' | 'max' | 'zscore';

/** Every `RollingStat`, in a fixed order. */
export const ROLLING_STATS: readonly RollingStat[] = Object.freeze(['sum', 'mean', 'var', 'std', 'skew', 'kurt', 'min', 'max', 'zscore']);

/** A series of values, one per row; NaN marks a missing value. Arrays are copied, typed arrays are read in place. */
export type RollingInput = Float64Array | readonly number[];

export interface RollingOptions {
  /** Fewest observations (non-missing values) in the window for a defined output; 1..window, default the window. */
  minPeriods?: number;
  /** Delta degrees of freedom of var, std, zscore and cov (divisor n − ddof); default 1. */
  ddof?: number;
}

/** The decay of an EWM, in exactly one of pandas' four parameterisations. */
export type EwmDecay = { alpha: number } | { span: number } | { com: number } | { halflife: number };

const USES_DDOF: ReadonlySet<string> = new Set(['var', 'std', 'zscore', 'cov']);
/** Smallest window for which each statistic can be defined. */
const MIN_WINDOW: Readonly<Record<string, number>> = { skew: 3, kurt: 4, zscore: 2, corr: 2 };

function input(name: string, v: unknown): Float64Array {
  if (v instanceof Float64Array) return v;
  if (Array.isArray(v)) {
    const out = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const e: unknown = v[i];
      if (typeof e !== 'number') throw invalid(`${name}[${i}]`, 'number (NaN for a missing value)', e);
      out[i] = e;
    }
    return out;
  }
  throw invalid(name, 'Float64Array or number[]', v);
}

function rollingStat(v: unknown): RollingStat {
  if (typeof v !== 'string' || !(ROLLING_STATS as readonly string[]).includes(v)) {
    throw invalid('stat', `one of ${ROLLING_STATS.join(', ')}`, v);
  }
  return v as RollingStat;
}

interface CheckedWindow {
  window: number;
  minPeriods: number;
  ddof: number;
}

function checkWindow(stat: string, window: unknown, options: unknown): CheckedWindow {
  positiveInt('window', window);
  const w = window as number;
  const need = MIN_WINDOW[stat] ?? 1;
  if (w < need) throw invalid(`window (${stat})`, `integer >= ${need}`, window);
  if (options === null || typeof options !== 'object') throw invalid('options', 'object', options);
  const { minPeriods = w, ddof = 1 } = options as RollingOptions;
  positiveInt('minPeriods', minPeriods);
  if (minPeriods > w) throw invalid('minPeriods', `integer between 1 and the window (${w})`, minPeriods);
  nonNegativeInt('ddof', ddof);
  if (USES_DDOF.has(stat) && ddof >= w) throw invalid('ddof', `integer below the window (${w})`, ddof);
  return { window: w, minPeriods, ddof };
}

const DECAY_KEYS = ['alpha', 'span', 'com', 'halflife'] as const;
const DECAY_RANGE: Readonly<Record<(typeof DECAY_KEYS)[number], [(v: number) => boolean, string]>> = {
  alpha: [(v) => v > 0 && v <= 1, 'number in (0, 1]'],
  span: [(v) => v >= 1, 'number >= 1'],
  com: [(v) => v >= 0, 'number >= 0'],
  halflife: [(v) => v > 0, 'positive number'],
};

/**
 * pandas' smoothing factor for an EWM decay: com from span (com = (span−1)/2), halflife
 * (com = 1/(1−exp(ln ½/halflife)) − 1) or alpha (com = 1/alpha − 1), then alpha = 1/(1+com),
 * as pandas computes it (so `{ span: 20 }` gives exactly pandas' alpha 2/21).
 */
export function ewmAlpha(decay: EwmDecay): number {
  if (decay === null || typeof decay !== 'object') throw invalid('decay', 'one of { alpha }, { span }, { com }, { halflife }', decay);
  const keys = DECAY_KEYS.filter((k) => k in decay);
  const key = keys[0];
  if (key === undefined || keys.length > 1) {
    throw new TypeError(`Expected exactly one of alpha, span, com, halflife for decay but received ${keys.length ? keys.join(' and ') : describe(decay)}`);
  }
  const v: unknown = (decay as Record<string, unknown>)[key];
  const [ok, expected] = DECAY_RANGE[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw invalid(key, expected, v);
  const com = key === 'alpha' ? 1 / v - 1 : key === 'span' ? (v - 1) / 2 : key === 'com' ? v : 1 / (1 - Math.exp(Math.log(0.5) / v)) - 1;
  return 1 / (1 + com);
}

/**
 * Rolling `stat` of `x` over `window` rows, one output per row (pandas `x.rolling(window,
 * min_periods).stat()`; zscore is (x_t − mean)/std of the window ending at t). NaN where the window
 * holds fewer than `minPeriods` observations or the statistic is undefined (std of a single
 * value, skew/kurt of a window with m2 ≤ 1e-14, the z-score of a constant window).
 */
export function rolling(x: RollingInput, stat: RollingStat, window: number, options: RollingOptions = {}): Float64Array {
  const xs = input('x', x);
  const s = rollingStat(stat);
  const w = checkWindow(s, window, options);
  return callSync(() => raw.rollingStat(xs, s, w.window, w.minPeriods, w.ddof));
}

/**
 * `rolling` over many series in parallel on the kernels' thread pool, off the JS thread; long
 * series are split into time blocks, so one series also uses every thread. The result is
 * `rolling`'s, bit for bit, whatever the thread count. `Float64Array` inputs are read in place,
 * not copied: do not write to, transfer or detach them until the Promise settles (`number[]`
 * inputs are copied first).
 */
export function rollingMany(xs: readonly RollingInput[], stat: RollingStat, window: number, options: RollingOptions = {}): Promise<Float64Array[]> {
  if (!Array.isArray(xs)) throw invalid('xs', 'array of series', xs);
  const list = xs.map((x, i) => input(`xs[${i}]`, x));
  const s = rollingStat(stat);
  const w = checkWindow(s, window, options);
  return callAsync(() => raw.rollingMany(list, s, w.window, w.minPeriods, w.ddof));
}

function pair(stat: 'corr' | 'cov', x: RollingInput, y: RollingInput, window: number, options: RollingOptions): Float64Array {
  const xs = input('x', x);
  const ys = input('y', y);
  if (ys.length !== xs.length) throw invalid('y', `series of length ${xs.length} (as x)`, y);
  const w = checkWindow(stat, window, options);
  return callSync(() => raw.rollingPair(xs, ys, stat, w.window, w.minPeriods, w.ddof));
}

/**
 * Rolling Pearson correlation of two aligned series (pandas `x.rolling(window).corr(y)`); a row
 * is an observation only when both values are present. NaN where either side is constant over
 * the window. Clamped to [−1, 1].
 */
export function rollingCorr(x: RollingInput, y: RollingInput, window: number, options: Pick<RollingOptions, 'minPeriods'> = {}): Float64Array {
  return pair('corr', x, y, window, options);
}

/** Rolling covariance of two aligned series with `ddof` (pandas `x.rolling(window).cov(y)`). */
export function rollingCov(x: RollingInput, y: RollingInput, window: number, options: RollingOptions = {}): Float64Array {
  return pair('cov', x, y, window, options);
}

/**
 * EWM mean (pandas `x.ewm(..., adjust=False).mean()`): m_1 = x_1, m_t = (1−α)m_{t−1} + α x_t.
 * NaN before the first value; a missing value repeats the previous mean and decays the past.
 */
export function ewmMean(x: RollingInput, decay: EwmDecay): Float64Array {
  const xs = input('x', x);
  const alpha = ewmAlpha(decay);
  return callSync(() => raw.rollingEwm(xs, 'mean', alpha));
}

/**
 * Bias-corrected EWM std (pandas `x.ewm(..., adjust=False).std()`): √(v_t/(1 − s2_t)) with
 * v_t = (1−α)(v_{t−1} + (m_{t−1}−m_t)²) + α(x_t−m_t)², s2_t = (1−α)²s2_{t−1} + α², s2_1 = 1.
 * NaN before the second value.
 */
export function ewmStd(x: RollingInput, decay: EwmDecay): Float64Array {
  const xs = input('x', x);
  const alpha = ewmAlpha(decay);
  return callSync(() => raw.rollingEwm(xs, 'std', alpha));
}

/**
 * Index of the first output that can be defined on a series without missing values (like
 * tulipindicators' `ti_*_start`): max(minPeriods, the observations the statistic needs) − 1,
 * where std/var need ddof+1, zscore max(ddof+1, 2), skew 3, kurt 4, corr 2, cov ddof+1.
 */
export function rollingWarmup(stat: RollingStat | 'corr' | 'cov', window: number, options: RollingOptions = {}): number {
  if (stat !== 'corr' && stat !== 'cov' && !(ROLLING_STATS as readonly unknown[]).includes(stat)) {
    throw invalid('stat', `one of ${ROLLING_STATS.join(', ')}, corr, cov`, stat);
  }
  const s = stat;
  const w = checkWindow(s, window, options);
  return callSync(() => raw.rollingWarmup(s, w.window, w.minPeriods, w.ddof));
}

/** Warm-up of the EWM kernels: the mean is defined at the first value (0), the std at the second (1). */
export function ewmWarmup(stat: 'mean' | 'std'): number {
  if (stat !== 'mean' && stat !== 'std') throw invalid('stat', "'mean' or 'std'", stat);
  return callSync(() => raw.rollingWarmup(stat === 'mean' ? 'ewmMean' : 'ewmStd', 1));
}

function bar(v: unknown): number {
  if (typeof v !== 'number') throw invalid('x', 'number (NaN for a missing bar)', v);
  return v;
}

/**
 * A rolling statistic fed one bar at a time (live use). It gives `rolling`'s values on the whole
 * series within the tolerances of docs/rolling.md, not bit for bit (O(1) add/remove per bar).
 */
export class RollingStream {
  readonly stat: RollingStat;
  readonly window: number;
  readonly minPeriods: number;
  readonly ddof: number;
  /** Index of the first output that can be defined (see `rollingWarmup`). */
  readonly warmup: number;
  readonly #inner: Raw.RollingStream;

  constructor(stat: RollingStat, window: number, options: RollingOptions = {}) {
    this.stat = rollingStat(stat);
    const w = checkWindow(this.stat, window, options);
    this.window = w.window;
    this.minPeriods = w.minPeriods;
    this.ddof = w.ddof;
    this.#inner = callSync(() => new raw.RollingStream(this.stat, w.window, w.minPeriods, w.ddof));
    this.warmup = callSync(() => raw.rollingWarmup(this.stat, w.window, w.minPeriods, w.ddof));
  }

  /** Add the next bar (NaN for a missing one) and return the statistic of the window ending at it. */
  update(x: number): number {
    const v = bar(x);
    return callSync(() => this.#inner.update(v));
  }

  /** Observations (non-missing values) in the current window. */
  get nobs(): number {
    return this.#inner.nobs;
  }

  /** Forget every bar seen. */
  reset(): void {
    callSync(() => this.#inner.reset());
  }
}

/** EWM mean or std fed one bar at a time; the same values as `ewmMean`/`ewmStd` on the whole series. */
export class EwmStream {
  readonly stat: 'mean' | 'std';
  readonly alpha: number;
  readonly #inner: Raw.EwmStream;

  constructor(stat: 'mean' | 'std', decay: EwmDecay) {
    if (stat !== 'mean' && stat !== 'std') throw invalid('stat', "'mean' or 'std'", stat);
    this.stat = stat;
    this.alpha = ewmAlpha(decay);
    this.#inner = callSync(() => new raw.EwmStream(stat, this.alpha));
  }

  /** Add the next bar (NaN for a missing one) and return the statistic after it. */
  update(x: number): number {
    const v = bar(x);
    return callSync(() => this.#inner.update(v));
  }

  /** Forget every bar seen. */
  reset(): void {
    callSync(() => this.#inner.reset());
  }
}
