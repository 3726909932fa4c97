// Trend kernels (SPEC B3 trend group): rate of change, log momentum, ADX (Wilder), volume trend,
// each as a batch function over a series and a streaming class fed one bar at a time; both give
// the same values bit for bit. NaN marks a missing bar; a value at t uses only bars <= t.
// Formulas, warm-ups and NaN rules: docs/trend-and-cross.md.
import { raw, type Raw } from './raw.js';
import { callSync } from './errors.js';
import { invalid, positiveInt } from './validate.js';

function series(name: string, v: unknown): Float64Array {
  if (!(v instanceof Float64Array)) throw invalid(name, 'Float64Array', v);
  return v;
}

function sameLength(name: string, v: Float64Array, as: string, len: number): void {
  if (v.length !== len) throw invalid(name, `Float64Array of length ${len} (as ${as})`, v);
}

function bar(name: string, v: unknown): number {
  if (typeof v !== 'number') throw invalid(name, 'number (NaN for a missing bar)', v);
  return v;
}

function windows(short: unknown, long: unknown): void {
  positiveInt('short', short);
  positiveInt('long', long);
  if ((long as number) <= (short as number)) throw invalid('long', `integer greater than short (${short as number})`, long);
}

/** ADX and its components, each as long as the input (0..100 scale). */
export interface AdxResult {
  /** ADX(n): first value at bar 2n−1 of a segment without missing bars. */
  adx: Float64Array;
  /** +DI = 100·S(+DM)/S(TR): first value at bar n. */
  plusDi: Float64Array;
  /** −DI = 100·S(−DM)/S(TR): first value at bar n. */
  minusDi: Float64Array;
  /** DX = 100·|+DI − −DI|/(+DI + −DI): first value at bar n. */
  dx: Float64Array;
}

/**
 * Rate of change C_t/C_{t−n} − 1 (SPEC: n = 10). NaN for the first n bars and where either
 * close is missing (not finite) or not positive.
 */
export function rateOfChange(close: Float64Array, n = 10): Float64Array {
  series('close', close);
  positiveInt('n', n);
  return callSync(() => raw.rateOfChange(close, n));
}

/** Log momentum ln(C_t/C_{t−n}) (SPEC momentum_50d: n = 50). NaN rules as `rateOfChange`. */
export function logMomentum(close: Float64Array, n = 50): Float64Array {
  series('close', close);
  positiveInt('n', n);
  return callSync(() => raw.logMomentum(close, n));
}

/**
 * ADX(n) with Wilder smoothing (sums seeded with the sum of the first n values), +DI, −DI and
 * DX. A bar is missing if any of high/low/close is NaN; the smoothing restarts after it, so
 * the ADX is NaN for 2n−1 bars after each gap (and at the start). SPEC trend_strength = adx/100.
 */
export function adx(high: Float64Array, low: Float64Array, close: Float64Array, n = 14): AdxResult {
  series('high', high);
  series('low', low);
  series('close', close);
  sameLength('low', low, 'high', high.length);
  sameLength('close', close, 'high', high.length);
  positiveInt('n', n);
  return callSync(() => raw.adx(high, low, close, n));
}

/**
 * Volume trend ln(SMA_short(V)/SMA_long(V)) (SPEC: quote volume, 7 and 30). NaN unless the last
 * `long` volumes are all finite, so the first value is at bar long−1.
 */
export function volumeTrend(volume: Float64Array, short = 7, long = 30): Float64Array {
  series('volume', volume);
  windows(short, long);
  return callSync(() => raw.volumeTrend(volume, short, long));
}

/** `rateOfChange` one close at a time. */
export class RateOfChangeStream {
  readonly #s: Raw.RateOfChangeStream;
  constructor(readonly n = 10) {
    positiveInt('n', n);
    this.#s = callSync(() => new raw.RateOfChangeStream(n));
  }
  /** Feed the next close (NaN if missing); returns the rate of change at this bar. */
  update(close: number): number {
    return this.#s.update(bar('close', close));
  }
}

/** `logMomentum` one close at a time. */
export class LogMomentumStream {
  readonly #s: Raw.LogMomentumStream;
  constructor(readonly n = 50) {
    positiveInt('n', n);
    this.#s = callSync(() => new raw.LogMomentumStream(n));
  }
  /** Feed the next close (NaN if missing); returns the log momentum at this bar. */
  update(close: number): number {
    return this.#s.update(bar('close', close));
  }
}

/** `adx` one bar at a time. */
export class AdxStream {
  readonly #s: Raw.AdxStream;
  constructor(readonly n = 14) {
    positiveInt('n', n);
    this.#s = callSync(() => new raw.AdxStream(n));
  }
  /** Feed the next bar (any NaN marks it missing and restarts the smoothing); returns the ADX. */
  update(high: number, low: number, close: number): number {
    return this.#s.update(bar('high', high), bar('low', low), bar('close', close));
  }
  /** +DI of the last bar. */
  get plusDi(): number {
    return this.#s.plusDi;
  }
  /** −DI of the last bar. */
  get minusDi(): number {
    return this.#s.minusDi;
  }
  /** DX of the last bar. */
  get dx(): number {
    return this.#s.dx;
  }
  /** Forget all state, as after a missing bar. */
  reset(): void {
    this.#s.reset();
  }
}

/** `volumeTrend` one volume at a time. */
export class VolumeTrendStream {
  readonly #s: Raw.VolumeTrendStream;
  constructor(
    readonly short = 7,
    readonly long = 30,
  ) {
    windows(short, long);
    this.#s = callSync(() => new raw.VolumeTrendStream(short, long));
  }
  /** Feed the next volume (NaN if missing); returns the volume trend at this bar. */
  update(volume: number): number {
    return this.#s.update(bar('volume', volume));
  }
}
