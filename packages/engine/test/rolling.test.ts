import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as engine from '@regime/engine';
import { raw } from '../src/raw.js';
import { describeShared, fixture, KLINES } from '../../../tests/helpers/shared.js';

// ------------------------------------------------------------------------------------------------
// Helpers

/** Deterministic test series (xorshift), with NaN at about `nanRate` of the rows. */
function noise(n: number, seed: number, nanRate = 0, level = 0, scale = 1): Float64Array {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  return Float64Array.from({ length: n }, () => (u() < nanRate ? NaN : level + scale * (u() + u() + u() - 1.5)));
}

const sameBits = (a: Float64Array, b: Float64Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

interface Fingerprint {
  n: number;
  n_nan: number;
  n_finite: number;
  sum: number;
  sum_sq: number;
  min: number;
  max: number;
}
interface FixtureSeries {
  fingerprint: Fingerprint;
  first100: (number | null)[];
  last100: (number | null)[];
}
interface RollingFixture {
  rows: { n: number; first_open_time_ms: number; last_open_time_ms: number };
  correlation_partner: string;
  series: Record<string, FixtureSeries>;
}

/** Closes of `symbol` for the fixture's rows (by open time), read with the engine's reader. */
async function closes(interval: '1d' | '1h', symbol: string, rows: RollingFixture['rows']): Promise<Float64Array> {
  const { bars } = await engine.readKlines(join(KLINES, interval, `${symbol}.csv.gz`));
  const i0 = (rows.first_open_time_ms - bars.start) / bars.intervalMs;
  expect(Number.isInteger(i0) && i0 >= 0).toBe(true);
  expect(bars.close.length).toBeGreaterThanOrEqual(i0 + rows.n);
  expect(engine.openTime(bars, i0 + rows.n - 1)).toBe(rows.last_open_time_ms);
  const c = bars.close.slice(i0, i0 + rows.n);
  expect(c.every((v) => Number.isFinite(v))).toBe(true); // both fixtures cover days/hours without gaps
  return c;
}

/** r_t = ln C_t − ln C_{t−1} (difference of logs, as np.log(close).diff()); r_0 = NaN. */
function logReturns(c: Float64Array): Float64Array {
  return Float64Array.from(c, (v, t) => (t === 0 ? NaN : Math.log(v) - Math.log(c[t - 1]!)));
}

/** |got − want| ≤ abs + rel·|want|. */
type Tol = { abs: number; rel: number };

/** The fixtures README tolerances per series (`zscore` differs between the daily and hourly file). */
function tolerance(name: string, zscoreAbs: number): Tol {
  if (name === 'logret') return { abs: 1e-14, rel: 0 };
  if (/^(mean|std)\d+$/.test(name) || name.startsWith('ewm_')) return { abs: 0, rel: 1e-11 };
  if (name.startsWith('skew')) return { abs: 1e-10, rel: 0 };
  if (name.startsWith('kurt')) return { abs: 1e-8, rel: 0 };
  if (/^(min|max)\d+$/.test(name)) return { abs: 0, rel: 0 };
  if (name === 'corr30') return { abs: 1e-12, rel: 0 };
  if (name === 'close_zscore20') return { abs: zscoreAbs, rel: 0 };
  throw new Error(`no tolerance for ${name}`);
}

function within(got: number, want: number, tol: Tol): boolean {
  return Math.abs(got - want) <= tol.abs + tol.rel * Math.abs(want);
}

/** Compare against first/last 100 values (identical NaN positions) and the fingerprint. */
function checkSeries(name: string, got: Float64Array, want: FixtureSeries, tol: Tol): void {
  const n = want.fingerprint.n;
  expect(got.length, name).toBe(n);
  const pairs: [number, number | null][] = [
    ...want.first100.map((w, i): [number, number | null] => [i, w]),
    ...want.last100.map((w, i): [number, number | null] => [n - 100 + i, w]),
  ];
  for (const [i, w] of pairs) {
    const g = got[i]!;
    if (w === null) {
      expect(Number.isNaN(g), `${name}[${i}] should be NaN, got ${g}`).toBe(true);
    } else {
      expect(within(g, w, tol), `${name}[${i}]: ${g} vs pandas ${w} (${JSON.stringify(tol)})`).toBe(true);
    }
  }
  const finite = got.filter((v) => Number.isFinite(v));
  const fp = want.fingerprint;
  expect([finite.length, n - finite.length], name).toEqual([fp.n_finite, fp.n_nan]);
  const sumTol = { abs: 0, rel: /^kurt|zscore/.test(name) ? 1e-8 : 1e-10 };
  const sum = finite.reduce((s, v) => s + v, 0);
  const sumSq = finite.reduce((s, v) => s + v * v, 0);
  expect(within(sum, fp.sum, sumTol), `${name} sum ${sum} vs ${fp.sum}`).toBe(true);
  expect(within(sumSq, fp.sum_sq, sumTol), `${name} sum_sq ${sumSq} vs ${fp.sum_sq}`).toBe(true);
  expect(within(Math.min(...finite), fp.min, tol), `${name} min`).toBe(true);
  expect(within(Math.max(...finite), fp.max, tol), `${name} max`).toBe(true);
}

/** Every fixture series computed with the engine from the closes of BTC and its partner. */
function compute(close: Float64Array, partner: Float64Array): Record<string, Float64Array> {
  const r = logReturns(close);
  const out: Record<string, Float64Array> = { logret: r };
  for (const w of [20, 30]) {
    for (const stat of ['mean', 'std', 'skew', 'kurt', 'min', 'max'] as const) out[`${stat}${w}`] = engine.rolling(r, stat, w);
  }
  out.ewm_mean_span20 = engine.ewmMean(r, { span: 20 });
  out.ewm_std_span20 = engine.ewmStd(r, { span: 20 });
  out.corr30 = engine.rollingCorr(r, logReturns(partner), 30);
  out.close_zscore20 = engine.rolling(close, 'zscore', 20);
  return out;
}

// ------------------------------------------------------------------------------------------------
// pandas fixtures on real data

for (const [file, interval, zscoreAbs] of [
  ['rolling_btcusdt_daily.json', '1d', 1e-8],
  ['rolling_btcusdt_hourly_2024.json', '1h', 1e-7],
] as const) {
  describeShared(`rolling kernels vs pandas (${file})`, () => {
    it('reproduce every series from the CSVs within the README tolerances', async () => {
      const fx = fixture<RollingFixture>(file);
      const close = await closes(interval, 'BTCUSDT', fx.rows);
      const partner = await closes(interval, fx.correlation_partner, fx.rows);
      const got = compute(close, partner);
      expect(Object.keys(got).sort()).toEqual(Object.keys(fx.series).sort());
      for (const [name, want] of Object.entries(fx.series)) {
        // V8's Math.log and numpy's log differ in the last bit on about a quarter of the rows,
        // so the log returns differ by up to 1.8e-15. min/max return one of their inputs and
        // carry that difference; means and stds pass it on at most unchanged, which matters
        // where they cross zero. The next test pins min/max exactly on pandas' own returns.
        const t = tolerance(name, zscoreAbs);
        const tol = name === 'close_zscore20' ? t : { abs: Math.max(t.abs, 2e-15), rel: t.rel };
        checkSeries(name, got[name]!, want, tol);
      }
    }, 60_000);

    it('give pandas’ min and max exactly on pandas’ own log returns (first and last 100 rows)', () => {
      const fx = fixture<RollingFixture>(file);
      const pinned = fx.series.logret!;
      for (const part of ['first100', 'last100'] as const) {
        const r = Float64Array.from(pinned[part], (v) => v ?? NaN);
        for (const w of [20, 30]) {
          for (const stat of ['mean', 'std', 'skew', 'kurt', 'min', 'max'] as const) {
            const name = `${stat}${w}`;
            const got = engine.rolling(r, stat, w);
            const want = fx.series[name]![part];
            // The first 100 rows see the same windows as in the whole series; of the last 100,
            // the rows from w−1 on.
            for (let i = part === 'first100' ? 0 : w - 1; i < 100; i++) {
              const g = got[i]!;
              const x = want[i];
              if (x === null || x === undefined) expect(Number.isNaN(g), `${name} ${part}[${i}]`).toBe(true);
              else expect(within(g, x, tolerance(name, zscoreAbs)), `${name} ${part}[${i}]: ${g} vs pandas ${x}`).toBe(true);
            }
          }
        }
      }
    });
  });
}

// ------------------------------------------------------------------------------------------------
// Semantics through the binding

describe('rolling statistics', () => {
  it('skip missing values and honour minPeriods (pandas)', () => {
    const x = [NaN, 1, 2, NaN, 4, Infinity, 3];
    expect(Array.from(engine.rolling(x, 'mean', 3, { minPeriods: 2 }))).toEqual([NaN, NaN, 1.5, 1.5, 3, NaN, 3.5]); // row 5: only the 4 (the infinity is missing)
    expect(Array.from(engine.rolling(x, 'sum', 3))).toEqual(Array(7).fill(NaN));
    expect(Array.from(engine.rolling([1, 2, 3, 4], 'max', 2))).toEqual([NaN, 2, 3, 4]);
    expect(Array.from(engine.rolling([3, 1, 2, 5], 'min', 3, { minPeriods: 1 }))).toEqual([3, 1, 1, 1]);
  });

  it('give std with ddof, exact zeros on constant windows, and NaN skew/kurt there', () => {
    const x = Float64Array.from([1, 2, 3, 4, 0.1, 0.1, 0.1, 0.1]);
    const sd = engine.rolling(x, 'std', 4);
    expect(sd[3]).toBeCloseTo(Math.sqrt(5 / 3), 15);
    expect(engine.rolling(x, 'std', 4, { ddof: 0 })[3]).toBeCloseTo(Math.sqrt(5 / 4), 15);
    expect(sd[7]).toBe(0);
    expect(engine.rolling(x, 'mean', 4)[7]).toBe(0.1);
    expect(engine.rolling(x, 'skew', 4)[7]).toBeNaN();
    expect(engine.rolling(x, 'kurt', 4)[7]).toBeNaN();
    expect(engine.rolling(x, 'zscore', 4)[7]).toBeNaN();
    // z-score of the last value of 1..4: (4 − 2.5)/std
    expect(engine.rolling(x, 'zscore', 4)[3]).toBeCloseTo(1.5 / Math.sqrt(5 / 3), 14);
  });

  it('accepts number[] and Float64Array alike', () => {
    const x = noise(100, 3, 0.1);
    for (const stat of engine.ROLLING_STATS) {
      expect(sameBits(engine.rolling(Array.from(x), stat, 10), engine.rolling(x, stat, 10))).toBe(true);
    }
  });

  it('corr and cov count a row only when both sides are present', () => {
    const x = [1, 2, 3, 4, 5, NaN, 7];
    const y = [2, 4, 6, 8, NaN, 12, 14];
    const c = engine.rollingCorr(x, y, 3, { minPeriods: 2 });
    expect(Array.from(c.slice(0, 5), (v) => Math.round(v * 1e12) / 1e12)).toEqual([NaN, 1, 1, 1, 1]);
    expect(c[5]).toBeNaN(); // rows 3..5 hold one complete pair
    expect(engine.rollingCov([1, 2, 3], [1, 3, 5], 3)[2]).toBeCloseTo(2, 15);
    expect(engine.rollingCov([1, 2, 3], [1, 3, 5], 3, { ddof: 0 })[2]).toBeCloseTo(4 / 3, 15);
    expect(engine.rollingCorr([1, 1, 1], [1, 2, 3], 3)[2]).toBeNaN();
  });

  it('EWM follows pandas adjust=False with pandas’ alpha from span, com, halflife', () => {
    expect(engine.ewmAlpha({ span: 20 })).toBe(2 / 21);
    expect(engine.ewmAlpha({ com: 1 })).toBe(0.5);
    expect(engine.ewmAlpha({ halflife: 1 })).toBeCloseTo(0.5, 15);
    expect(engine.ewmAlpha({ alpha: 1 })).toBe(1);
    const x = [NaN, 1, 2, 4];
    expect(Array.from(engine.ewmMean(x, { alpha: 0.5 }))).toEqual([NaN, 1, 1.5, 2.75]);
    const s = engine.ewmStd(x, { alpha: 0.5 });
    expect([s[0], s[1]]).toEqual([NaN, NaN]);
    expect(s[2]).toBeCloseTo(Math.sqrt(0.5), 15);
    expect(s[3]).toBeCloseTo(Math.sqrt(2.7), 15);
    // A missing value repeats the mean and decays the past: (0.25·1 + 0.5·3)/0.75.
    const g = engine.ewmMean([1, NaN, 3], { alpha: 0.5 });
    expect([g[0], g[1]]).toEqual([1, 1]);
    expect(g[2]).toBeCloseTo(7 / 3, 15);
  });

  it('reports warm-up lengths', () => {
    expect(engine.rollingWarmup('std', 20)).toBe(19);
    expect(engine.rollingWarmup('mean', 20, { minPeriods: 1 })).toBe(0);
    expect(engine.rollingWarmup('std', 20, { minPeriods: 1 })).toBe(1);
    expect(engine.rollingWarmup('skew', 20, { minPeriods: 1 })).toBe(2);
    expect(engine.rollingWarmup('kurt', 20, { minPeriods: 1 })).toBe(3);
    expect(engine.rollingWarmup('zscore', 20, { minPeriods: 1, ddof: 0 })).toBe(1);
    expect(engine.rollingWarmup('corr', 30, { minPeriods: 1 })).toBe(1);
    expect(engine.rollingWarmup('cov', 30, { minPeriods: 1, ddof: 0 })).toBe(0);
    expect([engine.ewmWarmup('mean'), engine.ewmWarmup('std')]).toEqual([0, 1]);
    // The first defined output sits at the warm-up index on data without gaps.
    const x = noise(50, 9);
    for (const stat of engine.ROLLING_STATS) {
      for (const minPeriods of [1, 4, 10]) {
        const out = engine.rolling(x, stat, 10, { minPeriods });
        expect(out.findIndex((v) => !Number.isNaN(v)), `${stat} ${minPeriods}`).toBe(engine.rollingWarmup(stat, 10, { minPeriods }));
      }
    }
  });
});

describe('streaming classes through the binding', () => {
  it('RollingStream gives the batch values within the stated tolerances, with nobs, warmup and reset', () => {
    // The batch sums blocks of rows, the stream adds and removes one value at a time, so they
    // are not the same bits. Each is within the Rust tests' tolerances of the two-pass reference
    // (docs/rolling.md), so they agree to twice those: min/max exactly; sum and mean to 1e-13
    // relative (4nε on this positive series); var and std to 2e-12 relative; zscore to
    // 2e-12·(1 + |z|); skew to 2e-10·(1 + |skew|); kurt to 2e-9·(1 + |kurt|). NaN positions match.
    const tol: Record<engine.RollingStat, (b: number) => number> = {
      min: () => 0,
      max: () => 0,
      sum: (b) => 1e-13 * Math.abs(b),
      mean: (b) => 1e-13 * Math.abs(b),
      var: (b) => 2e-12 * Math.abs(b),
      std: (b) => 2e-12 * Math.abs(b),
      zscore: (b) => 2e-12 * (1 + Math.abs(b)),
      skew: (b) => 2e-10 * (1 + Math.abs(b)),
      kurt: (b) => 2e-9 * (1 + Math.abs(b)),
    };
    const x = noise(500, 17, 0.1, 1e5, 3);
    for (const stat of engine.ROLLING_STATS) {
      const s = new engine.RollingStream(stat, 20, { minPeriods: 5 });
      const streamed = Float64Array.from(x, (v) => s.update(v));
      const batch = engine.rolling(x, stat, 20, { minPeriods: 5 });
      batch.forEach((b, i) => {
        const a = streamed[i]!;
        if (Number.isNaN(b)) expect(a, `${stat}[${i}]`).toBeNaN();
        else expect(Math.abs(a - b), `${stat}[${i}]: stream ${a} vs batch ${b}`).toBeLessThanOrEqual(tol[stat](b));
      });
      expect(s.nobs).toBe(x.slice(-20).filter((v) => !Number.isNaN(v)).length);
      expect(s.warmup).toBe(engine.rollingWarmup(stat, 20, { minPeriods: 5 }));
      s.reset();
      expect(s.nobs).toBe(0);
      expect(s.update(1)).toBeNaN();
    }
  });

  it('EwmStream gives the batch values bit for bit', () => {
    const x = noise(300, 5, 0.05);
    for (const stat of ['mean', 'std'] as const) {
      const s = new engine.EwmStream(stat, { span: 20 });
      const streamed = Float64Array.from(x, (v) => s.update(v));
      const batch = stat === 'mean' ? engine.ewmMean(x, { span: 20 }) : engine.ewmStd(x, { span: 20 });
      expect(sameBits(streamed, batch), stat).toBe(true);
      expect(s.alpha).toBe(2 / 21);
    }
  });

  it('rollingMany matches rolling and does not depend on the thread count', async () => {
    // Two series longer than rollingMany's time blocks (about 65 536 rows), so they are split
    // across threads, next to short ones.
    const xs = Array.from({ length: 9 }, (_, k) => noise(k < 2 ? 150_000 + 977 * k : 1000 + 37 * k, k + 1, 0.05, 100, k + 1));
    const before = engine.threads();
    try {
      engine.setThreads(1);
      const one = await engine.rollingMany(xs, 'kurt', 30, { minPeriods: 10 });
      engine.setThreads(2);
      const two = await engine.rollingMany(xs, 'kurt', 30, { minPeriods: 10 });
      expect(one).toHaveLength(9);
      one.forEach((a, k) => {
        expect(sameBits(a, two[k]!)).toBe(true);
        expect(sameBits(a, engine.rolling(xs[k]!, 'kurt', 30, { minPeriods: 10 }))).toBe(true);
      });
    } finally {
      engine.setThreads(before);
    }
  });
});

describe('argument errors', () => {
  const x = new Float64Array([1, 2, 3, 4, 5]);
  it('are TypeErrors naming the argument, the expectation and the value', () => {
    expect(() => engine.rolling(x, 'std', 0)).toThrow(new TypeError('Expected positive integer for window but received 0'));
    expect(() => engine.rolling(x, 'std', 2.5)).toThrow('Expected positive integer for window but received 2.5');
    expect(() => engine.rolling(x, 'median' as engine.RollingStat, 3)).toThrow(
      'Expected one of sum, mean, var, std, skew, kurt, min, max, zscore for stat but received "median"',
    );
    expect(() => engine.rolling(x, 'mean', 3, { minPeriods: 0 })).toThrow('Expected positive integer for minPeriods but received 0');
    expect(() => engine.rolling(x, 'mean', 3, { minPeriods: 4 })).toThrow(
      'Expected integer between 1 and the window (3) for minPeriods but received 4',
    );
    expect(() => engine.rolling(x, 'std', 3, { ddof: 3 })).toThrow('Expected integer below the window (3) for ddof but received 3');
    expect(() => engine.rolling(x, 'std', 3, { ddof: -1 })).toThrow('Expected non-negative integer for ddof but received -1');
    expect(engine.rolling(x, 'mean', 1, { ddof: 3 })).toHaveLength(5); // ddof is not used by mean
    expect(() => engine.rolling(x, 'skew', 2)).toThrow('Expected integer >= 3 for window (skew) but received 2');
    expect(() => engine.rolling(x, 'kurt', 3)).toThrow('Expected integer >= 4 for window (kurt) but received 3');
    expect(() => engine.rolling('abc' as unknown as Float64Array, 'mean', 3)).toThrow('Expected Float64Array or number[] for x but received "abc"');
    expect(() => engine.rolling([1, '2' as unknown as number], 'mean', 3)).toThrow('Expected number (NaN for a missing value) for x[1] but received "2"');
    expect(() => engine.rollingCorr(x, x.subarray(1), 3)).toThrow('Expected series of length 5 (as x) for y but received Float64Array(4)');
    expect(() => engine.rollingCorr(x, x, 1)).toThrow('Expected integer >= 2 for window (corr) but received 1');
    expect(() => engine.ewmMean(x, { alpha: 0 })).toThrow('Expected number in (0, 1] for alpha but received 0');
    expect(() => engine.ewmMean(x, { span: 0.5 })).toThrow('Expected number >= 1 for span but received 0.5');
    expect(() => engine.ewmStd(x, {} as engine.EwmDecay)).toThrow('Expected exactly one of alpha, span, com, halflife for decay');
    expect(() => engine.ewmStd(x, { alpha: 0.5, span: 3 } as engine.EwmDecay)).toThrow('but received alpha and span');
    expect(() => new engine.RollingStream('std', 0)).toThrow('Expected positive integer for window but received 0');
    expect(() => new engine.RollingStream('mean', 3).update('1' as unknown as number)).toThrow('Expected number (NaN for a missing bar) for x');
    expect(() => engine.rollingMany([x, 'a' as unknown as Float64Array], 'mean', 3)).toThrow('for xs[1]');
  });

  it('are checked again in Rust and reach JS as InvalidArg naming the value', () => {
    const err = (f: () => unknown): Error & { code?: string } => {
      try {
        f();
      } catch (e) {
        return e as Error & { code?: string };
      }
      throw new Error('expected an error');
    };
    const e = err(() => raw.rollingStat(x, 'median', 3));
    expect(e.code).toBe('InvalidArg');
    expect(e.message).toContain("received 'median'");
    expect(err(() => raw.rollingStat(x, 'mean', 3, 0)).message).toContain('minPeriods');
    expect(err(() => raw.rollingStat(x, 'std', 3, 3, 3)).message).toBe('Expected ddof below the window (3) but received 3');
    expect(err(() => raw.rollingPair(x, x.subarray(1), 'corr', 3)).message).toBe('Expected series of equal length but received 5 and 4');
    expect(err(() => raw.rollingEwm(x, 'std', 1.5)).message).toBe('Expected alpha in (0, 1] but received 1.5');
    expect(err(() => new raw.RollingStream('avg', 3)).code).toBe('InvalidArg');
  });
});
