import { describe, expect, it } from 'vitest';
import * as engine from '@regime/engine';
import type { HmmCovariance, HmmModel } from '@regime/engine';
import { describeShared, fixture } from '../../../tests/helpers/shared.js';

type Mat = number[][];
interface Params {
  startprob: number[];
  transmat: Mat;
  means: Mat;
  covars: Mat | Mat[];
}
interface SyntheticCase {
  K: number;
  covariance_type: HmmCovariance;
  init: Params;
  n_iter_done: number;
  loglik_history: number[];
  final: Params;
  final_score: number;
  viterbi_logprob: number;
  viterbi_path: number[];
  posterior_first20: Mat;
  posterior_last20: Mat;
  filtered_first20: Mat;
  filtered_last20: Mat;
}
interface Synthetic {
  input: { X: Mat };
  params: { n_iter: number; tol: number };
  cases: SyntheticCase[];
}
interface RealSeq {
  asset: string;
  length: number;
  row_offset_in_X: number;
  score: number;
  viterbi_logprob: number;
  viterbi_path: number[];
  filtered_first10: Mat;
  filtered_last10: Mat;
  posterior_first10: Mat;
  posterior_last10: Mat;
}
interface Real extends Params {
  X: Mat;
  lengths: number[];
  init: Params;
  params: { n_iter: number; tol: number };
  n_iter_done: number;
  loglik_history: number[];
  final: Params;
  final_score: number;
  viterbi_logprob_all_sequences: number;
  sequences: RealSeq[];
}

const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap((x) => flat(x)) : [v as number]);
const f64 = (v: unknown) => Float64Array.from(flat(v));

function model(p: Params, covarianceType: HmmCovariance, nFeatures: number): HmmModel {
  return {
    nStates: p.startprob.length,
    nFeatures,
    covarianceType,
    startprob: f64(p.startprob),
    transmat: f64(p.transmat),
    means: f64(p.means),
    covars: f64(p.covars),
  };
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Rows [from, to) of a T×K matrix. */
const rows = (m: Float64Array, k: number, from: number, to: number) => m.subarray(from * k, to * k);

function expectParams(got: HmmModel, want: Params, tol: number) {
  expect(maxAbs(got.startprob, flat(want.startprob))).toBeLessThan(tol);
  expect(maxAbs(got.transmat, flat(want.transmat))).toBeLessThan(tol);
  expect(maxAbs(got.means, flat(want.means))).toBeLessThan(tol);
  expect(maxAbs(got.covars, flat(want.covars))).toBeLessThan(tol);
}

const IMPLEMENTATIONS = ['scaled', 'log'] as const;

describe('hmm: forward-backward on the Wikipedia umbrella example', () => {
  const f = fixture<any>('hmm_wikipedia_umbrella.json');
  const E: Mat = f.model.emission;
  const A = f64(f.model.transition);
  const obs: number[] = f.model.observation_codes;
  // Day 0 has no observation: an uninformative row (log b = 0) with the prior as its start.
  const logB = Float64Array.from([0, 0, ...obs.flatMap((o) => [Math.log(E[0]![o]!), Math.log(E[1]![o]!)])]);
  for (const imp of IMPLEMENTATIONS) {
    it(`messages, posteriors and likelihood to 1e-12 (${imp})`, () => {
      const r = engine.hmmForwardBackward(f.model.prior_day0, A, logB, undefined, imp);
      expect(maxAbs(r.forward, flat(f['forward_normalized_t0..5']))).toBeLessThan(1e-12);
      expect(maxAbs(r.backward, flat(f['backward_normalized_t0..5']))).toBeLessThan(1e-12);
      expect(maxAbs(r.posteriors, flat(f['smoothed_t0..5']))).toBeLessThan(1e-12);
      expect(Math.abs(r.logLikelihood - f.loglik_observations)).toBeLessThan(1e-12);
      expect(Math.abs(Math.exp(r.logLikelihood) - f.likelihood_observations)).toBeLessThan(1e-12);
      // The article's 4-decimal values round from these.
      expect(maxAbs(r.posteriors, flat(f.published['smoothed_t0..5']))).toBeLessThan(5e-5);
    });
  }
  it('Viterbi path and log-probability', () => {
    const start = [0.5, 0.5]; // prior_day0 @ transition
    const v = engine.hmmViterbiLogB(start, A, logB.subarray(2));
    expect(Array.from(v.path).map((s) => f.model.states[s])).toEqual(f['viterbi_path_t1..5']);
    expect(Math.abs(v.logprob - f.viterbi_logprob)).toBeLessThan(1e-12);
  });
});

describeShared('hmm: hmmlearn GaussianHMM on the synthetic daily features', () => {
  const f = fixture<Synthetic>('hmm_synthetic_daily.json');
  const X = f64(f.input.X);
  const D = 5;
  const T = X.length / D;
  for (const c of f.cases) {
    for (const imp of IMPLEMENTATIONS) {
      it(`K=${c.K} ${c.covariance_type} from the fixed init (${imp})`, async () => {
        const init = model(c.init, c.covariance_type, D);
        const r = await engine.hmmFit(X, D, {
          nStates: c.K,
          covarianceType: c.covariance_type,
          nIter: f.params.n_iter,
          tol: f.params.tol,
          init,
          implementation: imp,
          minCovar: 0, // hmmlearn has no floor in its M-step
        });
        expect(r.nIter).toBe(c.n_iter_done);
        expect(maxAbs(r.loglikHistory, c.loglik_history)).toBeLessThan(1e-6);
        expect(r.converged).toBe(true);
        const last = c.loglik_history.at(-1)! - c.loglik_history.at(-2)!;
        expect(r.reason).toBe(last < 0 ? 'decrease' : 'tol');
        expectParams(r.model, c.final, 1e-8);
        expect(Math.abs(r.finalScore - c.final_score)).toBeLessThan(1e-6);
        const v = engine.hmmViterbi(r.model, X);
        expect(Array.from(v.path)).toEqual(c.viterbi_path);
        expect(Math.abs(v.logprob - c.viterbi_logprob)).toBeLessThan(1e-6);
        const post = engine.hmmPosteriors(r.model, X);
        expect(maxAbs(rows(post, c.K, 0, 20), flat(c.posterior_first20))).toBeLessThan(1e-8);
        expect(maxAbs(rows(post, c.K, T - 20, T), flat(c.posterior_last20))).toBeLessThan(1e-8);
        const filt = engine.hmmFiltered(r.model, X);
        expect(maxAbs(rows(filt, c.K, 0, 20), flat(c.filtered_first20))).toBeLessThan(1e-8);
        expect(maxAbs(rows(filt, c.K, T - 20, T), flat(c.filtered_last20))).toBeLessThan(1e-8);
        expect(Math.abs(engine.hmmScore(r.model, X) - c.final_score)).toBeLessThan(1e-6);
      });
    }
  }

  it('decodes the fixture final parameters directly', () => {
    for (const c of f.cases) {
      const m = model(c.final, c.covariance_type, D);
      expect(Math.abs(engine.hmmScore(m, X) - c.final_score)).toBeLessThan(1e-8);
      const v = engine.hmmViterbi(m, X);
      expect(Array.from(v.path)).toEqual(c.viterbi_path);
      expect(Math.abs(v.logprob - c.viterbi_logprob)).toBeLessThan(1e-8);
      const post = engine.hmmPosteriors(m, X);
      expect(maxAbs(rows(post, c.K, T - 20, T), flat(c.posterior_last20))).toBeLessThan(1e-10);
    }
  });

  it('the default covariance floor keeps every eigenvalue at or above minCovar', () => {
    const c = f.cases.find((x) => x.K === 4 && x.covariance_type === 'full')!;
    const r = engine.hmmFitSync(X, D, { nStates: 4, tol: 1e-4, init: model(c.init, 'full', D) });
    // hmmlearn's fit has eigenvalues down to 4.6e-4 here; the floor lifts them to 1e-3.
    for (let s = 0; s < 4; s++) {
      const m = r.model.covars.subarray(s * 25, (s + 1) * 25);
      expect(minEigen(m, 5)).toBeGreaterThanOrEqual(1e-3 * (1 - 1e-9));
    }
  });
});

/** Smallest eigenvalue of a symmetric matrix by cyclic Jacobi. */
function minEigen(m: Float64Array, d: number): number {
  const a = Array.from({ length: d }, (_, i) => Array.from(m.subarray(i * d, (i + 1) * d)));
  for (let sweep = 0; sweep < 50; sweep++) {
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        if (Math.abs(a[p]![q]!) < 1e-300) continue;
        const th = (a[q]![q]! - a[p]![p]!) / (2 * a[p]![q]!);
        const t = Math.sign(th || 1) / (Math.abs(th) + Math.sqrt(th * th + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const [x, y] = [a[k]![p]!, a[k]![q]!];
          a[k]![p] = c * x - s * y;
          a[k]![q] = s * x + c * y;
        }
        for (let k = 0; k < d; k++) {
          const [x, y] = [a[p]![k]!, a[q]![k]!];
          a[p]![k] = c * x - s * y;
          a[q]![k] = s * x + c * y;
        }
      }
    }
  }
  return Math.min(...a.map((r, i) => r[i]!));
}

describeShared('hmm: hmmlearn GaussianHMM on real vol features (3 sequences)', () => {
  const f = fixture<Real>('hmm_real_vol_k4.json');
  const X = f64(f.X);
  const D = 2;
  const K = 4;
  for (const imp of IMPLEMENTATIONS) {
    it(`K=4 full from the GMM init, lengths ${f.lengths.join('/')} (${imp})`, async () => {
      const r = await engine.hmmFit(X, D, {
        nStates: K,
        nIter: f.params.n_iter,
        tol: f.params.tol,
        init: model(f.init, 'full', D),
        lengths: f.lengths,
        implementation: imp,
        minCovar: 0,
      });
      expect(r.nIter).toBe(f.n_iter_done);
      expect(maxAbs(r.loglikHistory, f.loglik_history)).toBeLessThan(1e-6);
      expect(r.reason).toBe('tol');
      expectParams(r.model, f.final, 1e-8);
      expect(r.model.startprob[0]).toBeGreaterThanOrEqual(0); // ~1e-119: no NaN
      expect(Math.abs(r.finalScore - f.final_score)).toBeLessThan(1e-6);
      const v = engine.hmmViterbi(r.model, X, f.lengths);
      expect(Math.abs(v.logprob - f.viterbi_logprob_all_sequences)).toBeLessThan(1e-6);
      const post = engine.hmmPosteriors(r.model, X, f.lengths);
      const filt = engine.hmmFiltered(r.model, X, f.lengths);
      for (const s of f.sequences) {
        const o = s.row_offset_in_X;
        const x = X.subarray(o * D, (o + s.length) * D);
        expect(Array.from(v.path.subarray(o, o + s.length))).toEqual(s.viterbi_path);
        const vs = engine.hmmViterbi(r.model, x);
        expect(Math.abs(vs.logprob - s.viterbi_logprob)).toBeLessThan(1e-6);
        expect(Math.abs(engine.hmmScore(r.model, x) - s.score)).toBeLessThan(1e-6);
        const e = o + s.length;
        expect(maxAbs(rows(post, K, o, o + 10), flat(s.posterior_first10))).toBeLessThan(1e-8);
        expect(maxAbs(rows(post, K, e - 10, e), flat(s.posterior_last10))).toBeLessThan(1e-8);
        expect(maxAbs(rows(filt, K, o, o + 10), flat(s.filtered_first10))).toBeLessThan(1e-8);
        expect(maxAbs(rows(filt, K, e - 10, e), flat(s.filtered_last10))).toBeLessThan(1e-8);
      }
    });
  }

  it('the streaming filter equals the batch filtered probabilities bit for bit', () => {
    const m = model(f.final, 'full', D);
    const batch = engine.hmmFiltered(m, X, f.lengths);
    const filter = new engine.HmmFilter(m);
    for (const s of f.sequences) {
      filter.reset();
      for (let t = s.row_offset_in_X; t < s.row_offset_in_X + s.length; t++) {
        const p = filter.update(X.subarray(t * D, (t + 1) * D));
        expect(Array.from(p)).toEqual(Array.from(batch.subarray(t * K, (t + 1) * K)));
      }
      expect(filter.steps).toBe(s.length);
      expect(Math.abs(filter.logLikelihood - s.score)).toBeLessThan(1e-8);
    }
  });

  it('filtered row t does not change when later data change', () => {
    const m = model(f.final, 'full', D);
    const a = engine.hmmFiltered(m, X, f.lengths);
    const Y = X.slice();
    for (let i = 500 * D; i < 1096 * D; i++) Y[i] = -Y[i]!;
    const b = engine.hmmFiltered(m, Y, f.lengths);
    expect(Array.from(b.subarray(0, 500 * K))).toEqual(Array.from(a.subarray(0, 500 * K)));
    expect(Array.from(b.subarray(1096 * K))).toEqual(Array.from(a.subarray(1096 * K))); // other assets
  });

  it('information criteria use hmmlearn’s parameter count', () => {
    const m = model(f.final, 'full', D);
    const ic = engine.hmmInformationCriteria(m, X, f.lengths);
    expect(ic.nParameters).toBe(3 + 12 + 8 + 12);
    expect(Math.abs(ic.logLikelihood - f.final_score)).toBeLessThan(1e-8);
    expect(ic.aic).toBe(-2 * ic.logLikelihood + 2 * ic.nParameters);
    expect(ic.bic).toBeCloseTo(-2 * ic.logLikelihood + ic.nParameters * Math.log(X.length / D), 9);
  });
});

/** A K=3, D=2 model with well separated states. */
function truth(covarianceType: HmmCovariance = 'full'): HmmModel {
  const covars: Record<HmmCovariance, number[]> = {
    full: [0.5, 0.1, 0.1, 0.3, 0.4, -0.1, -0.1, 0.6, 0.3, 0, 0, 0.3],
    diag: [0.5, 0.3, 0.4, 0.6, 0.3, 0.3],
    tied: [0.4, 0.05, 0.05, 0.3],
    spherical: [0.5, 0.4, 0.3],
  };
  return {
    nStates: 3,
    nFeatures: 2,
    covarianceType,
    startprob: Float64Array.from([0.5, 0.3, 0.2]),
    transmat: Float64Array.from([0.9, 0.05, 0.05, 0.1, 0.85, 0.05, 0.05, 0.1, 0.85]),
    means: Float64Array.from([0, 0, 3, 1, -1, 3]),
    covars: Float64Array.from(covars[covarianceType]),
  };
}

describe('hmm: fitting through the TS API', () => {
  const m = truth();
  const { X, states } = engine.hmmSample(m, 3000, 11);

  it('samples deterministically per seed', () => {
    const again = engine.hmmSample(m, 3000, 11);
    expect(Array.from(again.X)).toEqual(Array.from(X));
    expect(Array.from(again.states)).toEqual(Array.from(states));
    expect(X.length).toBe(6000);
    expect(Array.from(engine.hmmSample(m, 10, 12).X)).not.toEqual(Array.from(X.subarray(0, 20)));
  });

  for (const init of ['kmeans++', 'gmm'] as const) {
    it(`recovers the means with ${init} init and parallel restarts`, async () => {
      const r = await engine.hmmFit(X, 2, { nStates: 3, init, nRestarts: 3, seed: 5, tol: 1e-4 });
      expect(r.restarts.map((s) => s.seed)).toEqual([5, 6, 7]);
      expect(r.finalScore).toBe(r.restarts[r.bestRestart]!.loglik);
      for (let s = 0; s < 3; s++) {
        const mx = m.means[2 * s]!;
        const my = m.means[2 * s + 1]!;
        let best = Infinity;
        for (let j = 0; j < 3; j++) best = Math.min(best, Math.hypot(r.model.means[2 * j]! - mx, r.model.means[2 * j + 1]! - my));
        expect(best).toBeLessThan(0.1);
      }
    });
  }

  it('delivers every progress report before resolving, and sync = async', async () => {
    const seen: engine.HmmProgress[] = [];
    const opts = { nStates: 3, init: 'kmeans++' as const, nRestarts: 2, seed: 3, tol: 1e-4 };
    const r = await engine.hmmFit(X, 2, { ...opts, onProgress: (p) => seen.push(p) });
    expect(seen.length).toBe(r.restarts.reduce((s, x) => s + x.nIter, 0));
    const mine = seen.filter((p) => p.restart === r.bestRestart);
    expect(mine.map((p) => p.iteration)).toEqual(r.loglikHistory.map((_, i) => i + 1));
    expect(mine.map((p) => p.loglik)).toEqual(r.loglikHistory);
    const s = engine.hmmFitSync(X, 2, opts);
    expect(Array.from(s.model.means)).toEqual(Array.from(r.model.means));
    expect(s.loglikHistory).toEqual(r.loglikHistory);
  });

  it('a throwing progress callback cancels the fit and rejects with its error', async () => {
    const boom = new Error('stop here');
    let calls = 0;
    const p = engine.hmmFit(X, 2, {
      nStates: 3,
      nIter: 1000,
      tol: 0,
      onProgress: () => {
        calls++;
        if (calls === 2) throw boom;
      },
    });
    await expect(p).rejects.toBe(boom);
  });

  it('gives bit-identical fits at 1 and 2 threads', () => {
    const before = engine.threads();
    try {
      const run = () => engine.hmmFitSync(X, 2, { nStates: 3, covarianceType: 'diag', nRestarts: 2, seed: 9, lengths: [1000, 2000] });
      engine.setThreads(1);
      const a = run();
      engine.setThreads(2);
      const b = run();
      expect(Array.from(b.model.means)).toEqual(Array.from(a.model.means));
      expect(Array.from(b.model.covars)).toEqual(Array.from(a.model.covars));
      expect(b.loglikHistory).toEqual(a.loglikHistory);
    } finally {
      engine.setThreads(before);
    }
  });

  it('gives bit-identical results with and without the AVX2 kernels', () => {
    const was = engine.hmmSimd();
    try {
      engine.hmmSimd(false);
      expect(engine.hmmSimd()).toBe(false);
      const a = engine.hmmFitSync(X, 2, { nStates: 3, nIter: 5, tol: 0, seed: 2 });
      const pa = engine.hmmPosteriors(a.model, X);
      engine.hmmSimd(true);
      const b = engine.hmmFitSync(X, 2, { nStates: 3, nIter: 5, tol: 0, seed: 2 });
      expect(b.loglikHistory).toEqual(a.loglikHistory);
      expect(Array.from(b.model.covars)).toEqual(Array.from(a.model.covars));
      expect(Array.from(engine.hmmPosteriors(b.model, X))).toEqual(Array.from(pa));
    } finally {
      engine.hmmSimd(was);
    }
  });

  it('learns only the parameters named in params', () => {
    const init = truth();
    const r = engine.hmmFitSync(X, 2, { nStates: 3, init, params: 'mc', nIter: 5 });
    expect(Array.from(r.model.startprob)).toEqual(Array.from(init.startprob));
    expect(Array.from(r.model.transmat)).toEqual(Array.from(init.transmat));
    expect(Array.from(r.model.means)).not.toEqual(Array.from(init.means));
  });

  it('supports tied and spherical covariances', () => {
    for (const c of ['tied', 'spherical'] as const) {
      const t = truth(c);
      const s = engine.hmmSample(t, 2000, 4);
      const r = engine.hmmFitSync(s.X, 2, { nStates: 3, covarianceType: c, init: t, tol: 1e-4 });
      expect(r.model.covars.length).toBe(engine.hmmCovarsLength(c, 3, 2));
      expect(r.finalScore).toBeGreaterThan(engine.hmmScore(t, s.X) - 1e-9);
    }
  });
});

describe('hmm: errors', () => {
  const m = truth('diag');
  const { X } = engine.hmmSample(m, 200, 1);

  it('argument errors are TypeErrors naming the argument', () => {
    expect(() => engine.hmmFitSync(X, 3, { nStates: 2 })).toThrow(/X.length/);
    expect(() => engine.hmmFitSync(X, 2, { nStates: 0 })).toThrow(/nStates/);
    expect(() => engine.hmmFitSync(X.subarray(0, 4), 2, { nStates: 3 })).toThrow(/at most the number of observations \(2\)/);
    expect(() => engine.hmmFitSync(X, 2, { nStates: 2, covarianceType: 'banded' as HmmCovariance })).toThrow(/covarianceType/);
    expect(() => engine.hmmFitSync(X, 2, { nStates: 2, params: 'stx' })).toThrow(/params/);
    expect(() => engine.hmmFitSync(X, 2, { nStates: 2, lengths: [100, 99] })).toThrow(/lengths/);
    expect(() => engine.hmmFitSync(X, 2, { nStates: 3, covarianceType: 'diag', init: m, nRestarts: 2 })).toThrow(/nRestarts/);
    expect(() => engine.hmmFitSync(X, 2, { nStates: 2, init: m })).toThrow(/init/);
    expect(() => engine.hmmScore({ ...m, means: new Float64Array(5) }, X)).toThrow(/model.means.length/);
    expect(() => engine.hmmFit(X, 2, { nStates: 2, seed: -1 })).toThrow(TypeError);
    expect(() => new engine.HmmFilter(m).update([1])).toThrow(/2 values/);
  });

  it('bad data are user errors from the engine', async () => {
    const bad = X.slice();
    bad[2 * 17 + 1] = NaN;
    expect(() => engine.hmmFitSync(bad, 2, { nStates: 3 })).toThrow(/non-finite value at row 17, column 1/);
    await expect(engine.hmmFit(bad, 2, { nStates: 3 })).rejects.toMatchObject({ name: 'EngineError', userError: true });
    const constant = X.slice();
    for (let t = 0; t < 200; t++) constant[2 * t] = 1.5;
    expect(() => engine.hmmFitSync(constant, 2, { nStates: 2, minCovar: 0 })).toThrow(/column 0 of X is constant/);
    const r = engine.hmmFitSync(constant, 2, { nStates: 2, covarianceType: 'diag' });
    expect(Math.min(...r.model.covars)).toBeGreaterThanOrEqual(1e-3);
    try {
      engine.hmmScore({ ...m, transmat: Float64Array.from([0.5, 0.4, 0.05, 0.1, 0.85, 0.05, 0.05, 0.1, 0.85]) }, X);
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ name: 'EngineError', userError: true });
      expect((e as Error).message).toMatch(/transmat row 0 must sum to 1/);
    }
    expect(() => engine.hmmForwardBackward([0.5, 0.5], [0.5, 0.5, 0.5, 0.5], Float64Array.from([NaN, 0]))).toThrow(/logB\[0\]\[0\]/);
  });

  it('log(0) in startprob and transmat gives no NaN', () => {
    const z = { ...m, startprob: Float64Array.from([1, 0, 0]), transmat: Float64Array.from([0.9, 0.1, 0, 0, 0.9, 0.1, 0.1, 0, 0.9]) };
    const post = engine.hmmPosteriors(z, X);
    expect(post.every((v) => Number.isFinite(v))).toBe(true);
    expect(Number.isFinite(engine.hmmScore(z, X))).toBe(true);
    expect(engine.hmmViterbi(z, X).path[0]).toBe(0);
  });
});
