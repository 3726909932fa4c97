import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as engine from '@regime/engine';
import type { HarCoefficients, HarForm } from '@regime/engine';
import { describeShared, fixture, KLINES } from '../../../tests/helpers/shared.js';

/** Seeded PRNG (mulberry32); the seed is in every failure message. */
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

/** A positive, persistent RV-like series: exp of a Gaussian AR(1) around −8. */
function rvSeries(n: number, seed: number): Float64Array {
  const u = rng(seed);
  let l = -8;
  return Float64Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
    l = -8 + 0.9 * (l + 8) + 0.5 * z;
    return Math.exp(l);
  });
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

type Coefs = { const: number; b_d: number; b_w: number; b_m: number };
interface FixtureFit {
  params: Coefs;
  bse: Coefs;
  tvalues: Coefs;
  bse_hac_maxlags5: Coefs;
  rsquared: number;
  rsquared_adj: number;
  ssr: number;
  llf: number;
  nobs: number;
  df_resid: number;
  fitted_first5: number[];
  fitted_last5: number[];
}
interface HarFixture {
  days: { first: string; last: string; D: number };
  rv: number[];
  rv_n_returns: number[];
  regression_rows: { n: number };
  fits: Record<'level' | 'log_mean_of_logs' | 'log_of_means', FixtureFit>;
}

let cached: HarFixture | undefined;
const fx = () => (cached ??= fixture<HarFixture>('har_rv_btcusdt_2019_2022.json'));
const ours = (c: Coefs): HarCoefficients => ({ const: c.const, daily: c.b_d, weekly: c.b_w, monthly: c.b_m });
const KEYS = ['const', 'daily', 'weekly', 'monthly'] as const;
const maxRel = (a: HarCoefficients, b: HarCoefficients) => Math.max(...KEYS.map((k) => rel(a[k], b[k])));

const FORMS: [HarForm, keyof HarFixture['fits']][] = [
  ['level', 'level'],
  ['log', 'log_mean_of_logs'],
  ['logOfMeans', 'log_of_means'],
];

describeShared('HAR-RV against statsmodels 0.13.5 (har_rv_btcusdt_2019_2022.json)', () => {
  for (const [form, key] of FORMS) {
    it(`${form}: params, std errors, t-values, R², SSR, llf, fitted values`, () => {
      const ref = fx().fits[key];
      const rv = Float64Array.from(fx().rv);
      const f = engine.harFit(rv, { form });
      expect(f.form).toBe(form);
      expect([f.week, f.month, f.hacLags]).toEqual([7, 30, 5]);
      expect(f.nobs).toBe(ref.nobs);
      expect(f.nobs).toBe(fx().regression_rows.n);
      expect(f.dfResid).toBe(ref.df_resid);
      expect(maxRel(f.params, ours(ref.params))).toBeLessThan(1e-9);
      expect(maxRel(f.bse, ours(ref.bse))).toBeLessThan(1e-9);
      expect(maxRel(f.tvalues, ours(ref.tvalues))).toBeLessThan(1e-9);
      expect(maxRel(f.bseHac, ours(ref.bse_hac_maxlags5))).toBeLessThan(1e-9);
      expect(Math.abs(f.rsquared - ref.rsquared)).toBeLessThan(1e-10);
      expect(Math.abs(f.rsquaredAdj - ref.rsquared_adj)).toBeLessThan(1e-10);
      expect(rel(f.ssr, ref.ssr)).toBeLessThan(1e-9);
      expect(rel(f.llf, ref.llf)).toBeLessThan(1e-9);
      const n = f.fitted.length;
      ref.fitted_first5.forEach((v, i) => expect(rel(f.fitted[i]!, v)).toBeLessThan(1e-9));
      ref.fitted_last5.forEach((v, i) => expect(rel(f.fitted[n - 5 + i]!, v)).toBeLessThan(1e-9));
      // Applying the coefficients causally reproduces the in-sample fitted values.
      const fc = engine.harForecast(rv, f);
      for (let r = 0; r < n; r++) expect(Math.abs(fc.forecast[f.firstTarget + r]! - f.fitted[r]!)).toBeLessThanOrEqual(1e-13 * Math.abs(f.fitted[r]!));
    });
  }

  it('the fixture RV equals Σ r² of hourly log returns per UTC day from the 1h klines (resampleSync)', async () => {
    const { bars } = await engine.readKlines(join(KLINES, '1h', 'BTCUSDT.csv.gz'));
    const daily = engine.resampleSync(bars, engine.DAY_MS);
    const i0 = (Date.parse(`${fx().days.first}T00:00:00Z`) - daily.start) / engine.DAY_MS;
    expect(Number.isInteger(i0) && i0 >= 0).toBe(true);
    const D = fx().days.D;
    let worst = 0;
    for (let i = 0; i < D; i++) {
      worst = Math.max(worst, rel(daily.rv[i0 + i]!, fx().rv[i]!));
      expect(daily.nReturns[i0 + i], `day ${i}`).toBe(fx().rv_n_returns[i]);
    }
    // The two differ only through ln: r = ln C_t − ln C_{t−1} cancels ~9 digits-worth of ln C ≈ 9
    // on quiet hours, so numpy's and libm's last-bit differences reach ~1e-12 relative in RV.
    expect(worst).toBeLessThan(1e-12);
  });
});

describe('HAR-RV on synthetic data', () => {
  it('forecast is causal and marks missing days', () => {
    const rv = rvSeries(400, 1);
    const f = engine.harFit(rv, { form: 'logOfMeans' });
    const fc = engine.harForecast(rv, f);
    expect(fc.forecast.length).toBe(rv.length);
    expect(Array.from(fc.forecast.subarray(0, 30)).every(Number.isNaN)).toBe(true);
    expect(Number.isFinite(fc.next)).toBe(true);
    const changed = Float64Array.from(rv, (v, i) => (i >= 200 ? v * 3 : v));
    const fc2 = engine.harForecast(changed, f);
    expect(Array.from(fc2.forecast.subarray(30, 201))).toEqual(Array.from(fc.forecast.subarray(30, 201)));
    expect(fc2.forecast[201]).not.toBe(fc.forecast[201]);
    // A missing day blanks the forecasts whose windows hold it (days 101..130), nothing else.
    const gap = Float64Array.from(rv);
    gap[100] = NaN;
    const fg = engine.harForecast(gap, f);
    expect(Array.from(fg.forecast.subarray(101, 131)).every(Number.isNaN)).toBe(true);
    expect(Array.from(fg.forecast.subarray(131)).every(Number.isFinite)).toBe(true);
    expect(Array.from(fg.forecast.subarray(31, 101))).toEqual(Array.from(fc.forecast.subarray(31, 101)));
  });

  it('other windows and HAC lags; coefficients from elsewhere', () => {
    const rv = rvSeries(600, 2);
    const f = engine.harFit(rv, { form: 'log', week: 5, month: 22, hacLags: 10 });
    expect([f.week, f.month, f.hacLags, f.firstTarget, f.nobs]).toEqual([5, 22, 10, 22, 578]);
    expect(f.rsquared).toBeGreaterThan(0.3);
    const fc = engine.harForecast(rv, { form: 'log', week: 5, month: 22, params: f.params });
    expect(fc.forecast[22]).toBeCloseTo(f.fitted[0]!, 12);
  });

  it('names the argument in every error', () => {
    const rv = rvSeries(100, 3);
    const bad = Float64Array.from(rv);
    bad[17] = NaN;
    expect(() => engine.harFit(bad)).toThrow('Expected finite values for rv but received NaN at index 17');
    bad[17] = 0;
    expect(() => engine.harFit(bad, { form: 'log' })).toThrow('Expected positive values for rv (log form) but received 0 at index 17');
    expect(engine.harFit(bad).nobs).toBe(70);
    bad[17] = -1;
    expect(() => engine.harForecast(bad, { form: 'level', params: { const: 0, daily: 1, weekly: 0, monthly: 0 } })).toThrow(
      'Expected non-negative values for rv but received -1 at index 17',
    );
    expect(() => engine.harFit(rv.subarray(0, 34))).toThrow('Expected at least 35 days (month window + 5 rows) for rv.length but received 34');
    expect(() => engine.harFit(rv, { form: 'logs' as HarForm })).toThrow(`Expected 'level', 'log' or 'logOfMeans' for form but received "logs"`);
    expect(() => engine.harFit(rv, { week: 30, month: 7 })).toThrow('Expected integer greater than week (30) for month but received 7');
    expect(() => engine.harFit(rv, { hacLags: -1 })).toThrow('Expected non-negative integer for hacLags but received -1');
    expect(() => engine.harForecast(rv, { form: 'level', params: { const: 0, daily: NaN, weekly: 0, monthly: 0 } })).toThrow(
      'Expected finite number for model.params.daily but received NaN',
    );
    try {
      engine.harFit(new Float64Array(100).fill(1e-4));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(engine.EngineError);
      expect((e as engine.EngineError).userError).toBe(true);
      expect((e as Error).message).toContain('rank deficient');
    }
  });
});
