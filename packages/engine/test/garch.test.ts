import { describe, expect, it } from 'vitest';
import * as engine from '@regime/engine';
import type { GarchDist, GarchParams } from '@regime/engine';
import { describeShared, fixture } from '../../../tests/helpers/shared.js';

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

/** GARCH(1,1) with normal innovations (Box–Muller), after a 500-step burn-in. */
function simulate(n: number, p: GarchParams, seed: number): Float64Array {
  const u = rng(seed);
  const out = new Float64Array(n);
  let s2 = p.omega / (1 - p.alpha - p.beta);
  let e2 = s2;
  for (let i = -500; i < n; i++) {
    s2 = p.omega + p.alpha * e2 + p.beta * s2;
    const z = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
    const e = Math.sqrt(s2) * z;
    e2 = e * e;
    if (i >= 0) out[i] = p.mu + e;
  }
  return out;
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
const maxRel = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, rel(a[i]!, b[i]!));
  return m;
};

interface FixtureFit {
  params: Record<string, number>;
  std_err_robust: Record<string, number>;
  loglik: number;
  convergence_flag: number;
  starting_values: Record<string, number>;
  backcast: number;
  persistence_alpha_plus_beta: number;
  cond_vol_first10: number[];
  cond_vol_last10: number[];
  cond_vol_fingerprint: { sum: number };
  forecast_h1_variance: number;
  fixed_params: Record<string, number>;
  fixed_params_loglik: number;
  fixed_params_cond_vol_first10: number[];
  fixed_params_cond_vol_last10: number[];
}
interface GarchFixture {
  assets: { asset: string; T: number; y: number[]; fits: Record<GarchDist, FixtureFit> }[];
}

let cached: GarchFixture | undefined;
const fx = () => (cached ??= fixture<GarchFixture>('garch11_daily_2018_2022.json'));
const asset = (name: string) => {
  const a = fx().assets.find((x) => x.asset === name)!;
  return { y: Float64Array.from(a.y), fit: (d: GarchDist) => a.fits[d] };
};
/** arch's names → ours. */
const params = (p: Record<string, number>): GarchParams => {
  const out: GarchParams = { mu: p.mu!, omega: p.omega!, alpha: p['alpha[1]']!, beta: p['beta[1]']! };
  if (p.nu !== undefined) out.nu = p.nu;
  return out;
};
const vec = (p: GarchParams) => [p.mu, p.omega, p.alpha, p.beta, ...(p.nu === undefined ? [] : [p.nu])];
const last10 = (a: Float64Array) => a.subarray(a.length - 10);
const sum = (a: Float64Array) => a.reduce((s, v) => s + v, 0);

const ASSETS = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT'];
const DISTS: GarchDist[] = ['normal', 't'];

describeShared('GARCH(1,1) against arch 7.2 (garch11_daily_2018_2022.json)', () => {
  for (const name of ASSETS) {
    for (const dist of DISTS) {
      it(`${name} ${dist}: backcast, and likelihood and volatilities at fixed params`, () => {
        const { y, fit: referenceFit } = asset(name);
        const ref = referenceFit(dist);
        const b = engine.garchBackcast(y);
        expect(rel(b, ref.backcast)).toBeLessThan(1e-12);
        const p = params(ref.fixed_params);
        const ll = engine.garchLoglik(y, p, dist);
        expect(rel(ll, ref.fixed_params_loglik)).toBeLessThan(1e-9);
        // arch's model.fix(params) = the filter started from the backcast of y itself.
        const f = engine.garchFilter(y, p, { backcast: b, dist });
        expect(f.loglik).toBe(ll);
        expect(maxRel(f.conditionalVol.subarray(0, 10), ref.fixed_params_cond_vol_first10)).toBeLessThan(1e-12);
        expect(maxRel(last10(f.conditionalVol), ref.fixed_params_cond_vol_last10)).toBeLessThan(1e-12);
      });

      it(`${name} ${dist}: fit (loglik, params, vols, forecast, robust std errors)`, () => {
        const { y, fit: referenceFit } = asset(name);
        const ref = referenceFit(dist);
        const f = engine.garchFit(y, { dist });
        expect(f.convergence.converged, JSON.stringify(f.convergence)).toBe(true);
        expect(ref.convergence_flag).toBe(0);
        expect(f.nobs).toBe(y.length);
        expect(f.backcast).toBe(engine.garchBackcast(y));
        expect(maxRel(vec(f.startingValues), vec(params(ref.starting_values)))).toBeLessThan(1e-10);
        // At least as good as arch's SLSQP optimum (ours is in fact higher in every case).
        expect(f.loglik).toBeGreaterThanOrEqual(ref.loglik - 1e-5);
        expect(maxRel(vec(f.params), vec(params(ref.params)))).toBeLessThan(1e-3);
        expect(maxRel(f.conditionalVol.subarray(0, 10), ref.cond_vol_first10)).toBeLessThan(1e-3);
        expect(maxRel(last10(f.conditionalVol), ref.cond_vol_last10)).toBeLessThan(1e-3);
        expect(rel(sum(f.conditionalVol), ref.cond_vol_fingerprint.sum)).toBeLessThan(1e-3);
        expect(rel(f.forecastVariance, ref.forecast_h1_variance)).toBeLessThan(1e-3);
        // The forecast is the next step of the recursion, and the state continues it.
        const next = engine.garchFilter([], f.params, { state: f.state });
        expect(next.forecastVariance).toBe(f.forecastVariance);
        // Robust (sandwich) standard errors. For BTCUSDT t the fit is on the boundary α+β = 1
        // (below): the sandwich is still computed the same way (unconstrained numerical
        // derivatives at the estimate) by arch and by us, so the numbers agree, but they are
        // not valid inference there (the estimator is not asymptotically normal on a bound).
        expect(maxRel(vec(f.stdErrRobust), vec(params(ref.std_err_robust)))).toBeLessThan(1e-2);
        expect(f.covRobust.length).toBe(dist === 't' ? 5 : 4);
        expect(Math.sqrt(f.covRobust[1]![1]!)).toBe(f.stdErrRobust.omega);
      });
    }
  }

  it('BTCUSDT t ends exactly on the boundary α+β = 1, as arch does', () => {
    const { y, fit: referenceFit } = asset('BTCUSDT');
    expect(referenceFit("t").persistence_alpha_plus_beta).toBeCloseTo(1, 14);
    const f = engine.garchFit(y, { dist: 't' });
    const pers = f.params.alpha + f.params.beta;
    expect(pers).toBeLessThanOrEqual(1);
    expect(pers).toBeGreaterThanOrEqual(1 - 1e-15);
    // The other fits are interior.
    for (const name of ['ETHUSDT', 'BNBUSDT']) {
      const g = engine.garchFit(asset(name).y, { dist: 't' });
      expect(g.params.alpha + g.params.beta).toBeLessThan(0.99);
    }
  });

  it('garchFitMany equals one garchFit per series, at 1 and 2 threads', async () => {
    const ys = ASSETS.map((n) => asset(n).y);
    const before = engine.threads();
    try {
      engine.setThreads(1);
      const one = await engine.garchFitMany(ys, { dist: 't' });
      engine.setThreads(2);
      const two = await engine.garchFitMany(ys, { dist: 't' });
      expect(two).toEqual(one);
      ys.forEach((y, i) => expect(one[i]).toEqual(engine.garchFit(y, { dist: 't' })));
    } finally {
      engine.setThreads(before);
    }
  });
});

describe('GARCH(1,1) on synthetic data', () => {
  const truth: GarchParams = { mu: 0.05, omega: 0.1, alpha: 0.1, beta: 0.85 };

  it('recovers simulated parameters (T = 5000) within 4 robust standard errors (seed 7)', () => {
    const y = simulate(5000, truth, 7);
    const f = engine.garchFit(y);
    expect(f.convergence.converged).toBe(true);
    expect(f.dist).toBe('normal');
    expect(f.params.nu).toBeUndefined();
    for (const k of ['mu', 'omega', 'alpha', 'beta'] as const) {
      expect(Math.abs(f.params[k] - truth[k]), `seed 7, ${k}`).toBeLessThan(4 * f.stdErrRobust[k]);
    }
  });

  it('a filter from the training state continues the training sample exactly (no look-ahead)', () => {
    const y = simulate(1200, truth, 11);
    const train = y.subarray(0, 800);
    const test = y.subarray(800);
    const fit = engine.garchFit(train);
    const whole = engine.garchFilter(y, fit.params, { backcast: fit.backcast });
    const cont = engine.garchFilter(test, fit.params, { state: fit.state });
    expect(Array.from(cont.conditionalVol)).toEqual(Array.from(whole.conditionalVol.subarray(800)));
    expect(Array.from(whole.conditionalVol.subarray(0, 800))).toEqual(Array.from(fit.conditionalVol));
    expect(cont.conditionalVol[0]).toBe(Math.sqrt(fit.forecastVariance));
    // σ_t depends on y up to t−1 only: changing the test data from day 100 on leaves σ_0..σ_100.
    const shocked = Float64Array.from(test, (v, i) => (i >= 100 ? v * 5 : v));
    const cont2 = engine.garchFilter(shocked, fit.params, { state: fit.state });
    expect(Array.from(cont2.conditionalVol.subarray(0, 101))).toEqual(Array.from(cont.conditionalVol.subarray(0, 101)));
    expect(cont2.conditionalVol[101]).not.toBe(cont.conditionalVol[101]);
  });

  it('accepts plain arrays and names the argument in every error', () => {
    const y = simulate(300, truth, 3);
    expect(engine.garchFit(Array.from(y)).params).toEqual(engine.garchFit(y).params);
    const bad = Float64Array.from(y);
    bad[17] = NaN;
    expect(() => engine.garchFit(bad)).toThrow('Expected finite values for y but received NaN at index 17');
    expect(() => engine.garchFitMany([y, bad])).toThrow('Expected finite values for ys[1] but received NaN at index 17');
    expect(() => engine.garchFit(y.subarray(0, 5))).toThrow('Expected at least 10 for y.length but received 5');
    expect(() => engine.garchFit(y, { dist: 'skewt' as GarchDist })).toThrow(`Expected 'normal' or 't' for dist but received "skewt"`);
    expect(() => engine.garchFit(y, { maxIter: 0 })).toThrow('Expected positive integer for maxIter but received 0');
    expect(() => engine.garchLoglik(y, { ...truth, omega: 0 })).toThrow('Expected positive number for params.omega but received 0');
    expect(() => engine.garchLoglik(y, truth, 't')).toThrow("Expected number > 2 (dist 't') for params.nu but received undefined");
    expect(() => engine.garchLoglik(y, { ...truth, nu: 5 }, 'normal')).toThrow("Expected undefined for dist 'normal' for params.nu but received 5");
    expect(() => engine.garchFilter(y, truth, {} as never)).toThrow('Expected exactly one of backcast or state for options');
    expect(() => engine.garchFilter(y, truth, { backcast: -1 })).toThrow('Expected non-negative finite number for options.backcast but received -1');
    // A constant series is the caller's error (the binding's InvalidArg becomes a user error).
    try {
      engine.garchFit(new Float64Array(50).fill(1));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(engine.EngineError);
      expect((e as engine.EngineError).userError).toBe(true);
      expect((e as Error).message).toContain('positive variance');
    }
  });

  it('t likelihood approaches the normal one as ν grows; dist follows params.nu', () => {
    const y = simulate(500, truth, 5);
    const n = engine.garchLoglik(y, truth);
    const t = engine.garchLoglik(y, { ...truth, nu: 1e8 });
    expect(Math.abs(t - n)).toBeLessThan(1e-4);
    expect(engine.garchLoglik(y, { ...truth, nu: 5 })).toBe(engine.garchLoglik(y, { ...truth, nu: 5 }, 't'));
  });
});
