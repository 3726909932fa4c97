import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as engine from '@regime/engine';
import { describeShared, KLINES } from '../../../tests/helpers/shared.js';

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

/** A random walk of bars with runs of missing bars (some with only one field NaN). */
function bars(seed: number, len: number, nanRate = 0.03) {
  const r = rng(seed);
  const high = new Float64Array(len);
  const low = new Float64Array(len);
  const close = new Float64Array(len);
  const volume = new Float64Array(len);
  let p = 100;
  let gap = 0;
  for (let t = 0; t < len; t++) {
    if (gap === 0 && r() < nanRate) gap = 1 + Math.floor(r() * 5);
    p *= 1 + (r() - 0.5) * 0.08;
    high[t] = p * (1 + 0.03 * r());
    low[t] = p * (1 - 0.03 * r());
    close[t] = p;
    volume[t] = r() * 1e6;
    if (gap > 0) {
      gap--;
      const k = Math.floor(r() * 3);
      if (k === 0) high[t] = NaN;
      else if (k === 1) low[t] = NaN;
      else high[t] = low[t] = close[t] = NaN;
      volume[t] = NaN;
    }
  }
  return { high, low, close, volume };
}

const bits = (a: Float64Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length * 2));
const sameBits = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

/** Wilder ADX written directly from the definition (array passes per segment), independent of the kernel. */
function naiveAdx(h: Float64Array, l: Float64Array, c: Float64Array, n: number): Float64Array {
  const out = new Float64Array(h.length).fill(NaN);
  const ok = (t: number) => Number.isFinite(h[t]!) && Number.isFinite(l[t]!) && Number.isFinite(c[t]!);
  let s = 0;
  while (s < h.length) {
    if (!ok(s)) {
      s++;
      continue;
    }
    let e = s;
    while (e + 1 < h.length && ok(e + 1)) e++;
    // Segment s..e: TR/DM at bars s+1..e.
    const tr: number[] = [];
    const pdm: number[] = [];
    const mdm: number[] = [];
    for (let t = s + 1; t <= e; t++) {
      tr.push(Math.max(h[t]! - l[t]!, Math.abs(h[t]! - c[t - 1]!), Math.abs(l[t]! - c[t - 1]!)));
      const up = h[t]! - h[t - 1]!;
      const down = l[t - 1]! - l[t]!;
      pdm.push(up > down && up > 0 ? up : 0);
      mdm.push(down > up && down > 0 ? down : 0);
    }
    const dx: number[] = [];
    let [st, sp, sm] = [0, 0, 0];
    for (let k = 0; k < tr.length; k++) {
      if (k < n) {
        st += tr[k]!;
        sp += pdm[k]!;
        sm += mdm[k]!;
        if (k < n - 1) continue;
      } else {
        st = st - st / n + tr[k]!;
        sp = sp - sp / n + pdm[k]!;
        sm = sm - sm / n + mdm[k]!;
      }
      const p = st > 0 ? (100 * sp) / st : 0;
      const m = st > 0 ? (100 * sm) / st : 0;
      dx.push(p + m > 0 ? (100 * Math.abs(p - m)) / (p + m) : 0);
    }
    let a = NaN;
    for (let k = 0; k < dx.length; k++) {
      if (k === n - 1) a = dx.slice(0, n).reduce((x, y) => x + y, 0) / n;
      else if (k >= n) a = (a * (n - 1) + dx[k]!) / n;
      if (k >= n - 1) out[s + n + k] = a; // dx[k] belongs to bar s + n + k
    }
    s = e + 1;
  }
  return out;
}

describe('trend kernels', () => {
  it('rate of change and log momentum follow the definition, with warm-up n', () => {
    const c = Float64Array.from([100, 110, 121, NaN, 133.1, 0, 150]);
    const roc = engine.rateOfChange(c, 2);
    expect(Number.isNaN(roc[0]!) && Number.isNaN(roc[1]!)).toBe(true);
    expect(roc[2]).toBeCloseTo(0.21, 15);
    expect(roc[4]).toBe(133.1 / 121 - 1);
    expect(Number.isNaN(roc[3]!) && Number.isNaN(roc[5]!)).toBe(true); // missing, non-positive
    const mom = engine.logMomentum(c, 1);
    expect(mom[1]).toBe(Math.log(110 / 100));
    expect([3, 4, 5, 6].every((t) => Number.isNaN(mom[t]!))).toBe(true);
    // SPEC defaults: 10 and 50.
    const walk = bars(1, 200, 0).close;
    expect(engine.rateOfChange(walk).findIndex((v) => !Number.isNaN(v))).toBe(10);
    expect(engine.logMomentum(walk).findIndex((v) => !Number.isNaN(v))).toBe(50);
  });

  it('ADX matches a hand-computed case (n = 2)', () => {
    // By hand (exact rationals): DX = 100, 100/3, 700/13 at bars 2..4; ADX = 200/3, 2350/39 at bars 3, 4.
    const a = engine.adx(
      Float64Array.from([10, 12, 13, 12, 11]),
      Float64Array.from([8, 9, 10, 7, 6]),
      Float64Array.from([9, 11, 12, 8, 7]),
      2,
    );
    expect(Number.isNaN(a.adx[2]!)).toBe(true);
    expect(a.adx[3]).toBeCloseTo(200 / 3, 12);
    expect(a.adx[4]).toBeCloseTo(2350 / 39, 12);
    expect(a.dx[3]).toBeCloseTo(100 / 3, 12);
    expect(a.plusDi[4]).toBeCloseTo(25 / 3, 12);
    expect(a.minusDi[4]).toBeCloseTo(250 / 9, 12);
  });

  it('ADX equals an independent implementation on random bars with gaps; warm-up 2n−1', () => {
    for (const seed of [1, 2, 3]) {
      const b = bars(seed, 600);
      for (const n of [1, 2, 5, 14]) {
        const got = engine.adx(b.high, b.low, b.close, n).adx;
        const want = naiveAdx(b.high, b.low, b.close, n);
        for (let t = 0; t < got.length; t++) {
          const ok = Number.isNaN(want[t]!) ? Number.isNaN(got[t]!) : Math.abs(got[t]! - want[t]!) < 1e-9;
          expect(ok, `seed ${seed} n ${n} t ${t}: ${got[t]} vs ${want[t]}`).toBe(true);
        }
      }
      const clean = bars(seed, 100, 0);
      expect(engine.adx(clean.high, clean.low, clean.close).adx.findIndex((v) => !Number.isNaN(v))).toBe(27);
    }
  });

  it('volume trend matches ln(SMA7/SMA30) and needs a full long window', () => {
    const b = bars(4, 400);
    const got = engine.volumeTrend(b.volume);
    const v = b.volume;
    for (let t = 0; t < v.length; t++) {
      const win = Array.from(v.subarray(Math.max(0, t - 29), t + 1));
      let want = NaN;
      if (t >= 29 && win.every(Number.isFinite)) {
        const s = win.slice(-7).reduce((x, y) => x + y, 0) / 7;
        const l = win.reduce((x, y) => x + y, 0) / 30;
        want = Math.log(s / l);
      }
      const ok = Number.isNaN(want) ? Number.isNaN(got[t]!) : Math.abs(got[t]! - want) < 1e-12;
      expect(ok, `seed 4 t ${t}: ${got[t]} vs ${want}`).toBe(true);
    }
  });

  it('every streaming class gives the batch values bit for bit', () => {
    for (const seed of [11, 12]) {
      const b = bars(seed, 500);
      const roc = engine.rateOfChange(b.close, 7);
      const mom = engine.logMomentum(b.close, 17);
      const a = engine.adx(b.high, b.low, b.close, 14);
      const vt = engine.volumeTrend(b.volume, 3, 11);
      const [rs, ms, as, vs] = [new engine.RateOfChangeStream(7), new engine.LogMomentumStream(17), new engine.AdxStream(14), new engine.VolumeTrendStream(3, 11)];
      for (let t = 0; t < 500; t++) {
        const msg = `seed ${seed} t ${t}`;
        expect(sameBits(rs.update(b.close[t]!), roc[t]!), msg).toBe(true);
        expect(sameBits(ms.update(b.close[t]!), mom[t]!), msg).toBe(true);
        expect(sameBits(as.update(b.high[t]!, b.low[t]!, b.close[t]!), a.adx[t]!), msg).toBe(true);
        expect(sameBits(as.plusDi, a.plusDi[t]!) && sameBits(as.minusDi, a.minusDi[t]!) && sameBits(as.dx, a.dx[t]!), msg).toBe(true);
        expect(sameBits(vs.update(b.volume[t]!), vt[t]!), msg).toBe(true);
      }
    }
  });

  it('reads subarray views (non-zero byte offset) in place correctly', () => {
    const b = bars(21, 300);
    const view = b.close.subarray(37, 250);
    const copy = Float64Array.from(view);
    expect(bits(engine.rateOfChange(view, 5))).toEqual(bits(engine.rateOfChange(copy, 5)));
    const a1 = engine.adx(b.high.subarray(37, 250), b.low.subarray(37, 250), view, 14);
    const a2 = engine.adx(Float64Array.from(b.high.subarray(37, 250)), Float64Array.from(b.low.subarray(37, 250)), copy, 14);
    expect(bits(a1.adx)).toEqual(bits(a2.adx));
  });

  it('rejects bad arguments with the argument named', () => {
    const c = new Float64Array(10);
    expect(() => engine.rateOfChange(c, 0)).toThrow('Expected positive integer for n but received 0');
    expect(() => engine.logMomentum([1, 2, 3] as unknown as Float64Array)).toThrow('Expected Float64Array for close but received array(3)');
    expect(() => engine.adx(c, new Float64Array(9), c)).toThrow('Expected Float64Array of length 10 (as high) for low but received Float64Array(9)');
    expect(() => engine.volumeTrend(c, 30, 7)).toThrow('Expected integer greater than short (30) for long but received 7');
    expect(() => new engine.AdxStream(1.5)).toThrow('Expected positive integer for n but received 1.5');
    expect(() => new engine.RateOfChangeStream().update('1' as unknown as number)).toThrow('for close but received "1"');
  });
});

describeShared('trend kernels on real daily bars', () => {
  it('BTCUSDT ADX(14) lies in [0, 100] from bar 27, and the stream agrees', async () => {
    const { bars: b } = await engine.readKlines(join(KLINES, '1d', 'BTCUSDT.csv.gz'));
    const a = engine.adx(b.high, b.low, b.close, 14);
    expect(a.adx.findIndex((v) => !Number.isNaN(v))).toBe(27);
    const defined = a.adx.subarray(27);
    expect(defined.every((v) => v >= 0 && v <= 100)).toBe(true);
    const s = new engine.AdxStream(14);
    for (let t = 0; t < b.close.length; t++) expect(sameBits(s.update(b.high[t]!, b.low[t]!, b.close[t]!), a.adx[t]!)).toBe(true);
    const m = engine.logMomentum(b.close, 50);
    expect(m[60]).toBe(Math.log(b.close[60]! / b.close[10]!));
  });
});
