import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as engine from '@regime/engine';
import { describeShared, fixture, KLINES } from '../../../tests/helpers/shared.js';

/** Seeded PRNG (mulberry32); the seed is printed in every failure message. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** T×N row-major returns: a common factor, calm/stormy stretches, NaN runs, late listings. */
function panel(seed: number, T: number, N: number, scale = 1): Float64Array {
  const r = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const listed = Array.from({ length: N }, (_, j) => (j % 3 === 2 ? Math.floor(r() * (T / 2)) : 0));
  const gap = new Array<number>(N).fill(0);
  const x = new Float64Array(T * N).fill(NaN);
  for (let t = 0; t < T; t++) {
    const f = normal();
    const vol = Math.floor(t / 97) % 3 === 1 ? 30 : 1;
    for (let j = 0; j < N; j++) {
      if (gap[j] === 0 && r() < 0.01) gap[j] = 1 + Math.floor(r() * 40);
      if (t < listed[j]! || gap[j]! > 0) {
        gap[j] = Math.max(0, gap[j]! - 1);
        continue;
      }
      x[t * N + j] = scale * vol * ((0.3 + 0.1 * (j % 7)) * f + normal()) * 0.01;
    }
  }
  return x;
}

function pearson(a: number[], b: number[]): number {
  const k = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / k;
  const mb = b.reduce((s, v) => s + v, 0) / k;
  let [sab, saa, sbb] = [0, 0, 0];
  for (let i = 0; i < k; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Naive reference: every window recomputed two-pass (full-window pairwise rule). */
function naiveMatrices(x: Float64Array, N: number, W: number): Float64Array {
  const T = x.length / N;
  const out = new Float64Array(T * N * N).fill(NaN);
  for (let t = W - 1; t < T; t++) {
    const cols = Array.from({ length: N }, (_, j) => {
      const c = Array.from({ length: W }, (_, k) => x[(t - W + 1 + k) * N + j]!);
      return c.every(Number.isFinite) ? c : null;
    });
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) {
        const [a, b] = [cols[i], cols[j]];
        if (a && b) out[(t * N + i) * N + j] = i === j ? 1 : pearson(a, b);
      }
    }
  }
  return out;
}

function maxDiff(a: Float64Array, b: Float64Array, what: string): number {
  expect(a.length, what).toBe(b.length);
  let worst = 0;
  let mismatch = -1;
  for (let k = 0; k < a.length; k++) {
    if (Number.isNaN(a[k]!) !== Number.isNaN(b[k]!)) {
      mismatch = k;
      break;
    }
    if (!Number.isNaN(a[k]!)) worst = Math.max(worst, Math.abs(a[k]! - b[k]!));
  }
  expect(mismatch, `${what}: NaN mismatch at ${mismatch} (${a[mismatch]} vs ${b[mismatch]})`).toBe(-1);
  return worst;
}

const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('cross-asset kernels', () => {
  const threadsBefore = engine.threads();
  afterAll(() => {
    engine.setThreads(threadsBefore);
  });

  it('incremental correlation matrices equal the naive two-pass reference (N = 1, 2, 13, 64)', async () => {
    for (const [seed, N, T, W] of [
      [1, 1, 200, 30],
      [2, 2, 600, 30],
      [3, 13, 700, 30],
      [4, 64, 120, 30],
      [5, 5, 400, 2],
    ] as const) {
      const x = panel(seed, T, N);
      const m = await engine.rollingCorrMatrix(x, N, W);
      expect(m.length).toBe(T * N * N);
      expect(maxDiff(m, naiveMatrices(x, N, W), `seed ${seed} N ${N}`)).toBeLessThan(1e-12);
      expect(bits(engine.rollingCorrMatrixSync(x, N, W)).equals(bits(m))).toBe(true);
    }
  });

  it('huge and tiny magnitudes give the same correlations', async () => {
    const x = panel(6, 500, 13);
    const m = await engine.rollingCorrMatrix(x, 13);
    for (const s of [1e150, 1e-150, 1e300]) {
      const y = x.map((v) => v * s);
      expect(maxDiff(await engine.rollingCorrMatrix(y, 13), m, `scale ${s}`)).toBeLessThan(1e-13);
    }
  });

  it('results are bit-identical at 1 and 2 threads', async () => {
    const x = panel(7, 1200, 13);
    engine.setThreads(1);
    const a = await engine.rollingCorrMatrix(x, 13);
    const b1 = await engine.betaTo(x, 13, 0);
    engine.setThreads(2);
    const b = await engine.rollingCorrMatrix(x, 13);
    const b2 = await engine.betaTo(x, 13, 0);
    expect(bits(a).equals(bits(b))).toBe(true);
    expect(bits(b1).equals(bits(b2))).toBe(true);
  });

  it('matrix statistics: average pairwise correlation, mean to others, stability', () => {
    const N = 6;
    const T = 400;
    const x = panel(8, T, N);
    const m = engine.rollingCorrMatrixSync(x, N, 30);
    const avg = engine.avgPairwiseCorr(m, N);
    const mean = engine.meanCorrToOthers(m, N);
    const stab = engine.corrStability(m, N);
    const at = (t: number, i: number, j: number) => m[(t * N + i) * N + j]!;
    for (let t = 0; t < T; t++) {
      const upper: number[] = [];
      for (let i = 0; i < N; i++) for (let j = i + 1; j < N; j++) if (Number.isFinite(at(t, i, j))) upper.push(at(t, i, j));
      const want = upper.length ? upper.reduce((s, v) => s + v, 0) / upper.length : NaN;
      expect(Number.isNaN(want) ? Number.isNaN(avg[t]!) : Math.abs(avg[t]! - want) < 1e-15, `t ${t}`).toBe(true);
      for (let i = 0; i < N; i++) {
        const o: number[] = [];
        for (let j = 0; j < N; j++) if (j !== i && Number.isFinite(at(t, i, j))) o.push(at(t, i, j));
        const w = o.length ? o.reduce((s, v) => s + v, 0) / o.length : NaN;
        const g = mean[t * N + i]!;
        expect(Number.isNaN(w) ? Number.isNaN(g) : Math.abs(g - w) < 1e-15, `t ${t} i ${i}`).toBe(true);
      }
      if (t >= 30) {
        const [a, b]: [number[], number[]] = [[], []];
        for (let i = 0; i < N; i++) {
          for (let j = i + 1; j < N; j++) {
            if (Number.isFinite(at(t, i, j)) && Number.isFinite(at(t - 30, i, j))) {
              a.push(at(t, i, j));
              b.push(at(t - 30, i, j));
            }
          }
        }
        const w = a.length >= 3 ? pearson(a, b) : NaN;
        expect(Number.isNaN(w) ? Number.isNaN(stab[t]!) : Math.abs(stab[t]! - w) < 1e-13, `stability t ${t}`).toBe(true);
      } else {
        expect(Number.isNaN(stab[t]!)).toBe(true);
      }
    }
  });

  it('β and correlation to a reference asset or series', async () => {
    const N = 4;
    const T = 300;
    const W = 30;
    const x = panel(9, T, N);
    const btc = engine.assetColumn(x, N, 0);
    const beta = await engine.betaTo(x, N, 0, W);
    const corr = await engine.corrTo(x, N, 0, W);
    expect(bits(engine.betaToSync(x, N, btc, W)).equals(bits(beta))).toBe(true);
    expect(bits(engine.corrToSync(x, N, 0, W)).equals(bits(corr))).toBe(true);
    const m = naiveMatrices(x, N, W);
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < N; j++) {
        const c = m[(t * N + j) * N]!;
        expect(Number.isNaN(c) ? Number.isNaN(corr[t * N + j]!) : Math.abs(corr[t * N + j]! - c) < 1e-12).toBe(true);
        let want = NaN;
        if (t >= W - 1) {
          const a = Array.from({ length: W }, (_, k) => x[(t - W + 1 + k) * N + j]!);
          const b = Array.from({ length: W }, (_, k) => btc[t - W + 1 + k]!);
          if (a.every(Number.isFinite) && b.every(Number.isFinite)) {
            const [ma, mb] = [a.reduce((s, v) => s + v, 0) / W, b.reduce((s, v) => s + v, 0) / W];
            want = a.reduce((s, v, k) => s + (v - ma) * (b[k]! - mb), 0) / b.reduce((s, v) => s + (v - mb) ** 2, 0);
          }
        }
        const g = beta[t * N + j]!;
        expect(Number.isNaN(want) ? Number.isNaN(g) : Math.abs(g - want) < 1e-12 * Math.max(1, Math.abs(want)), `t ${t} j ${j}`).toBe(true);
        if (j === 0 && !Number.isNaN(want)) expect(g).toBe(1);
      }
    }
  });

  it('cross-sectional helpers: vol dispersion, median, ln(vol/median), volume share', () => {
    const v = Float64Array.from([0.5, 0.25, 1, NaN, 0.5, NaN, NaN, NaN, 2, 4, 0, 8]);
    const d = engine.volDispersion(v, 4);
    const l = [Math.log(0.5), Math.log(0.25), 0];
    const mu = (l[0]! + l[1]! + l[2]!) / 3;
    expect(d[0]).toBeCloseTo(Math.sqrt(l.reduce((s, x) => s + (x - mu) ** 2, 0) / 2), 15);
    expect(Number.isNaN(d[1]!)).toBe(true);
    expect(d[2]).toBeCloseTo(Math.LN2, 15); // ln 2, ln 4, ln 8: vol 0 is left out
    expect(Array.from(engine.crossSectionalMedian(v, 4))).toEqual([0.5, 0.5, 3]);
    const r = engine.logRatioToMedian(v, 4);
    expect(r[0]).toBe(0);
    expect(r[8]).toBe(Math.log(2 / 4));
    expect(Number.isNaN(r[10]!)).toBe(true);
    // Quote volume: the reference has 60 of 100, an asset lists at row 5 with 100.
    const q = new Float64Array(3 * 20);
    for (let t = 0; t < 20; t++) q.set([60, 40, t >= 5 ? 100 : NaN], t * 3);
    const s1 = engine.volumeShare(q, 3, 0, 1);
    expect([s1[0], s1[5]]).toEqual([0.6, 0.3]);
    const s7 = engine.volumeShare(q, 3, 0);
    expect(Number.isNaN(s7[5]!)).toBe(true);
    expect(s7[6]).toBeCloseTo((5 * 0.6 + 2 * 0.3) / 7, 15);
  });

  it('layout helpers round-trip', () => {
    const cols = [Float64Array.from([1, 2, 3]), Float64Array.from([4, 5, 6])];
    const x = engine.timeMajor(cols);
    expect(Array.from(x)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(engine.assetColumns(x, 2).map((c) => Array.from(c))).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it('rejects bad arguments with the argument named', () => {
    const x = new Float64Array(12);
    expect(() => engine.rollingCorrMatrixSync(x, 5)).toThrow('Expected Float64Array whose length is a multiple of nAssets (5) for returns but received Float64Array(12)');
    expect(() => engine.rollingCorrMatrix(x, 65)).toThrow('Expected integer between 1 and 64 for nAssets but received 65');
    expect(() => engine.rollingCorrMatrix(x, 3, 1)).toThrow('Expected integer >= 2 for window but received 1');
    expect(() => engine.betaTo(x, 3, 3)).toThrow('Expected asset index between 0 and 2 for reference but received 3');
    expect(() => engine.corrToSync(x, 3, new Float64Array(5))).toThrow('Expected Float64Array of length 4 (rows of returns) for reference but received Float64Array(5)');
    expect(() => engine.corrStability(new Float64Array(10), 3)).toThrow('Expected Float64Array whose length is a multiple of nAssets² (9) for matrices');
    expect(() => engine.volumeShare(x, 3, 0, 0)).toThrow('Expected positive integer for window but received 0');
  });
});

interface Series {
  fingerprint: { n: number; n_nan: number; sum: number; sum_sq: number; min: number; max: number };
  first100: (number | null)[];
  last100: (number | null)[];
}

describeShared('cross-asset kernels on real daily bars', () => {
  it('30-day BTC–ETH correlation from the matrix equals pandas rolling(30).corr', async () => {
    const fx = fixture<{ rows: { n: number; first_open_time_ms: number; last_open_time_ms: number }; series: { corr30: Series } }>(
      'rolling_btcusdt_daily.json',
    );
    // BTC and ETH first (the pair the fixture pins), then assets listed later.
    const symbols = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT', 'AVAXUSDT'];
    const read = await Promise.all(symbols.map((s) => engine.readKlines(join(KLINES, '1d', `${s}.csv.gz`))));
    const start = fx.rows.first_open_time_ms;
    const end = fx.rows.last_open_time_ms + engine.DAY_MS;
    const closes = read.map(({ bars }) => engine.reframeSync(bars, start, end).close);
    const T = closes[0]!.length;
    expect(T).toBe(fx.rows.n);
    // r_t = ln C_t − ln C_{t−1} (np.log(close).diff()); NaN before listing and at row 0.
    const returns = closes.map((c) => Float64Array.from(c, (v, t) => (t === 0 ? NaN : Math.log(v) - Math.log(c[t - 1]!))));
    const N = symbols.length;
    const m = await engine.rollingCorrMatrix(engine.timeMajor(returns), N, 30);
    const corr = engine.pairSeries(m, N, 0, 1);
    const want = fx.series.corr30;
    const compare = (got: number[], exp: (number | null)[], what: string) => {
      let worst = 0;
      exp.forEach((w, k) => {
        if (w === null) expect(Number.isNaN(got[k]!), `${what}[${k}]`).toBe(true);
        else worst = Math.max(worst, Math.abs(got[k]! - w));
      });
      expect(worst, what).toBeLessThan(1e-12);
      return worst;
    };
    const w1 = compare(Array.from(corr.subarray(0, 100)), want.first100, 'first100');
    const w2 = compare(Array.from(corr.subarray(T - 100)), want.last100, 'last100');
    const finite = Array.from(corr).filter(Number.isFinite);
    const fp = want.fingerprint;
    expect(T - finite.length).toBe(fp.n_nan);
    const sum = finite.reduce((s, v) => s + v, 0);
    const sumSq = finite.reduce((s, v) => s + v * v, 0);
    expect(Math.abs(sum - fp.sum) / Math.abs(fp.sum)).toBeLessThan(1e-10);
    expect(Math.abs(sumSq - fp.sum_sq) / fp.sum_sq).toBeLessThan(1e-10);
    expect(Math.abs(Math.min(...finite) - fp.min)).toBeLessThan(1e-12);
    expect(Math.abs(Math.max(...finite) - fp.max)).toBeLessThan(1e-12);
    console.info(`corr30 BTC–ETH vs pandas: max |Δ| first100 ${w1.toExponential(2)}, last100 ${w2.toExponential(2)}, sum rel ${(Math.abs(sum - fp.sum) / fp.sum).toExponential(2)}`);

    // The market-level features are defined once two assets have full windows; the
    // late-listed assets (SOL 2020-08-11, AVAX 2020-09-22) enter after 30 returns.
    const avg = engine.avgPairwiseCorr(m, N);
    expect(avg.findIndex(Number.isFinite)).toBe(30);
    const sol = 3;
    const solFirst = returns[sol]!.findIndex(Number.isFinite);
    expect(m[((solFirst + 28) * N + sol) * N + sol]).toBeNaN();
    expect(m[((solFirst + 29) * N + sol) * N + sol]).toBe(1);
    // Stability needs three pairs at t and t−30: BTC, ETH and BNB (listed 2017-11-06) with full windows.
    const bnbFull = returns[2]!.findIndex(Number.isFinite) + 29;
    const stab = engine.corrStability(m, N);
    expect(stab.findIndex(Number.isFinite)).toBe(bnbFull + 30);
  });
});
