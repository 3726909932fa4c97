import { afterAll, describe, expect, it } from 'vitest';
import * as engine from '@regime/engine';
import { EngineError, GaussianMixture, type CovarianceType } from '@regime/engine';
import { raw } from '../src/raw.js';
import { describeShared, fixture } from '../../../tests/helpers/shared.js';

// ------------------------------------------------------------------------------------------------
// Helpers

/** Seeded PRNG (mulberry32). */
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

interface Component {
  weight: number;
  mean: number[];
  /** d × d, row-major. */
  cov: number[];
}

/** n points of a Gaussian mixture in d dimensions (Box–Muller, Cholesky); returns points and true components. */
function sampleMixture(comps: Component[], n: number, seed: number): { x: Float64Array; labels: number[] } {
  const u = rng(seed);
  const d = comps[0]!.mean.length;
  const chol = comps.map((c) => {
    const l = new Array<number>(d * d).fill(0);
    for (let j = 0; j < d; j++) {
      let s = c.cov[j * d + j]!;
      for (let p = 0; p < j; p++) s -= l[j * d + p]! ** 2;
      l[j * d + j] = Math.sqrt(s);
      for (let i = j + 1; i < d; i++) {
        let t = c.cov[i * d + j]!;
        for (let p = 0; p < j; p++) t -= l[i * d + p]! * l[j * d + p]!;
        l[i * d + j] = t / l[j * d + j]!;
      }
    }
    return l;
  });
  const x = new Float64Array(n * d);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    let r = u();
    let c = 0;
    while (c < comps.length - 1 && r >= comps[c]!.weight) r -= comps[c++]!.weight;
    labels.push(c);
    const z = Array.from({ length: d }, () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()));
    for (let a = 0; a < d; a++) {
      let v = comps[c]!.mean[a]!;
      for (let p = 0; p <= a; p++) v += chol[c]![a * d + p]! * z[p]!;
      x[i * d + a] = v;
    }
  }
  return { x, labels };
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

const sameBits = (a: Float64Array | Uint32Array, b: Float64Array | Uint32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/** Whether two labellings are the same partition (through a bijection of cluster ids). */
function samePartition(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  const ab = new Map<number, number>();
  const ba = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    if ((ab.get(a[i]!) ?? b[i]) !== b[i] || (ba.get(b[i]!) ?? a[i]) !== a[i]) return false;
    ab.set(a[i]!, b[i]!);
    ba.set(b[i]!, a[i]!);
  }
  return true;
}

/** Three components in 2-D, about 6 σ apart. */
const TRUTH: Component[] = [
  { weight: 0.5, mean: [0, 0], cov: [1, 0.6, 0.6, 2] },
  { weight: 0.3, mean: [6, 0.5], cov: [0.5, -0.2, -0.2, 0.3] },
  { weight: 0.2, mean: [0.5, 6], cov: [1.5, 0, 0, 1.5] },
];

// ------------------------------------------------------------------------------------------------
// scikit-learn fixture

interface KMeansFixture {
  input: { X: number[][]; true_labels: number[] };
  init: { centers: number[][] };
  labels: number[];
  n_iter: number;
  inertia: number;
  centers: number[][];
  silhouette_score: number;
  silhouette_samples: number[];
  silhouette_score_true_labels: number;
}

let cached: KMeansFixture | undefined;
const fx = () => (cached ??= fixture<KMeansFixture>('kmeans_silhouette.json'));

describeShared('k-means and silhouette against scikit-learn 1.2.1 (kmeans_silhouette.json)', () => {
  const x = () => Float64Array.from(fx().input.X.flat());
  const init = () => Float64Array.from(fx().init.centers.flat());

  it('Lloyd from the 10 given centers: labels and n_iter identical, centers 1e-12 abs, inertia 1e-10 rel', () => {
    const f = fx();
    const km = engine.kmeansSync(x(), 8, { init: init(), maxIter: 300 });
    expect(km.k).toBe(10);
    expect(Array.from(km.labels)).toEqual(f.labels);
    expect(km.nIter).toBe(17);
    expect(km.converged).toBe(true);
    expect(maxAbs(km.centers, f.centers.flat())).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(km.inertia - f.inertia) / f.inertia).toBeLessThanOrEqual(1e-10);
  });

  it('the async kmeans gives the same bits', async () => {
    const a = engine.kmeansSync(x(), 8, { init: init() });
    const b = await engine.kmeans(x(), 8, { init: Array.from(init()) });
    expect(sameBits(a.labels, b.labels) && sameBits(a.centers, b.centers) && Object.is(a.inertia, b.inertia)).toBe(true);
  });

  it('silhouette score and every sample within 1e-12 abs', async () => {
    const f = fx();
    const s = engine.silhouetteSync(x(), 8, f.labels);
    expect(s.indices).toBeNull();
    expect(Math.abs(s.score - f.silhouette_score)).toBeLessThanOrEqual(1e-12);
    expect(maxAbs(s.samples, f.silhouette_samples)).toBeLessThanOrEqual(1e-12);
    const a = await engine.silhouette(x(), 8, Uint32Array.from(f.labels));
    expect(sameBits(a.samples, s.samples)).toBe(true);
  });

  it('silhouette of the true labels within 1e-12 abs', () => {
    const f = fx();
    const s = engine.silhouetteSync(x(), 8, Int32Array.from(f.input.true_labels));
    expect(Math.abs(s.score - f.silhouette_score_true_labels)).toBeLessThanOrEqual(1e-12);
  });
});

// ------------------------------------------------------------------------------------------------
// k-means

describe('kmeans', () => {
  const blobs = sampleMixture(
    [0, 1, 2, 3, 4].map((c) => ({ weight: 0.2, mean: [20 * Math.cos(c), 20 * Math.sin(c), 10 * c], cov: [1, 0, 0, 0, 1, 0, 0, 0, 1] })),
    1500,
    7,
  );

  it('recovers well separated blobs, deterministically per seed', async () => {
    const a = engine.kmeansSync(blobs.x, 3, { k: 5, seed: 3 });
    expect(a.converged).toBe(true);
    expect(samePartition(a.labels, blobs.labels)).toBe(true);
    expect(a.centers.length).toBe(15);
    const b = await engine.kmeans(Array.from(blobs.x), 3, { k: 5, seed: 3 });
    expect(sameBits(a.centers, b.centers) && sameBits(a.labels, b.labels)).toBe(true);
    // k-means++ alone (one restart, one iteration) differs between seeds.
    const s1 = engine.kmeansSync(blobs.x, 3, { k: 8, nInit: 1, maxIter: 1, seed: 1 });
    const s2 = engine.kmeansSync(blobs.x, 3, { k: 8, nInit: 1, maxIter: 1, seed: 2 });
    expect(sameBits(s1.centers, s2.centers)).toBe(false);
    expect(s1.converged).toBe(false);
  });
});

// ------------------------------------------------------------------------------------------------
// Gaussian mixtures

describe('gmmFit', () => {
  const n = 6000;
  const { x } = sampleMixture(TRUTH, n, 11);

  /** Fitted component nearest each true mean, checked to be one to one. */
  function matching(g: GaussianMixture): number[] {
    const m = TRUTH.map((t) => {
      let best = 0;
      let bd = Infinity;
      for (let c = 0; c < g.k; c++) {
        const dd = (g.means[2 * c]! - t.mean[0]!) ** 2 + (g.means[2 * c + 1]! - t.mean[1]!) ** 2;
        if (dd < bd) [best, bd] = [c, dd];
      }
      return best;
    });
    expect(new Set(m).size).toBe(TRUTH.length);
    return m;
  }

  it('recovers known weights, means and covariances (full)', async () => {
    // Standard errors: means ≤ √(2/1200) ≈ 0.04, weights ≈ 0.006, covariances ≤ 0.08.
    // Tolerances: weights 0.02, means 0.15, covariance entries 0.2 (≈ 4 SE).
    const g = await engine.gmmFit(x, 2, { k: 3, nInit: 2, tol: 1e-8, maxIter: 500 });
    expect(g.covarianceType).toBe('full');
    expect(g.fitInfo?.converged).toBe(true);
    matching(g).forEach((c, t) => {
      const want = TRUTH[t]!;
      expect(Math.abs(g.weights[c]! - want.weight)).toBeLessThan(0.02);
      expect(maxAbs(g.means.subarray(2 * c, 2 * c + 2), want.mean)).toBeLessThan(0.15);
      expect(maxAbs(g.covariances.subarray(4 * c, 4 * c + 4), want.cov)).toBeLessThan(0.2);
    });
  });

  it('predict, predictProba, score, BIC and AIC agree with each other', () => {
    const g = engine.gmmFitSync(x, 2, { k: 3 });
    const info = g.fitInfo!;
    expect(info.lowerBounds.length).toBe(info.nIter);
    expect(info.lowerBound).toBe(info.lowerBounds[info.nIter - 1]);
    const p = g.predictProba(x);
    const labels = g.predict(x);
    expect(p.length).toBe(3 * n);
    for (let i = 0; i < n; i++) {
      const r = p.subarray(3 * i, 3 * i + 3);
      expect(Math.abs(r[0]! + r[1]! + r[2]! - 1)).toBeLessThan(1e-12);
      expect(labels[i]).toBe(r.indexOf(Math.max(...r)));
    }
    const ss = g.scoreSamples(x);
    const score = g.score(x);
    expect(Math.abs(ss.reduce((a, b) => a + b, 0) / n - score)).toBeLessThan(1e-12);
    expect(Math.abs(info.loglik - n * score)).toBeLessThan(1e-9 * Math.abs(info.loglik));
    expect(g.nParameters).toBe(17); // 3·3 covariance + 3·2 means + 2 weights
    expect(g.bic(x)).toBe(-2 * score * n + 17 * Math.log(n));
    expect(g.aic(x)).toBe(-2 * score * n + 2 * 17);
    // A model rebuilt from saved parameters gives the same numbers.
    const h = new GaussianMixture(g.params());
    expect(h.fitInfo).toBeNull();
    expect(sameBits(h.scoreSamples(x), ss)).toBe(true);
  });

  it.each(['diag', 'tied', 'spherical'] as CovarianceType[])('fits %s covariances with their own shapes and parameter counts', (t) => {
    const g = engine.gmmFitSync(x, 2, { k: 3, covarianceType: t });
    const shape = { diag: [6, 14], tied: [4, 11], spherical: [3, 11] }[t as 'diag' | 'tied' | 'spherical'];
    expect([g.covariances.length, g.nParameters]).toEqual(shape);
    matching(g);
  });

  it('gives the same bits async and sync', async () => {
    const a = engine.gmmFitSync(x, 2, { k: 3, nInit: 3, seed: 5 });
    const b = await engine.gmmFit(x, 2, { k: 3, nInit: 3, seed: 5 });
    expect(sameBits(a.means, b.means) && sameBits(a.covariances, b.covariances) && sameBits(a.weights, b.weights)).toBe(true);
  });

  it('rejects a singular covariance with a user error', async () => {
    const zeros = new Float64Array(12);
    await expect(engine.gmmFit(zeros, 2, { k: 2, regCovar: 0 })).rejects.toSatisfy(
      (e: unknown) => e instanceof EngineError && e.userError && /ill-defined covariance/.test(e.message),
    );
    expect(engine.gmmFitSync(zeros, 2, { k: 2 }).covariances[0]).toBeCloseTo(1e-6, 15);
  });
});

// ------------------------------------------------------------------------------------------------
// Silhouette sampling and threads

describe('silhouette sampling', () => {
  const { x, labels } = sampleMixture(TRUTH, 3000, 12);

  it('is deterministic per seed and close to the full score', () => {
    const full = engine.silhouetteSync(x, 2, labels);
    const a = engine.silhouetteSync(x, 2, labels, { sampleSize: 800, seed: 4 });
    const b = engine.silhouetteSync(x, 2, labels, { sampleSize: 800, seed: 4 });
    const c = engine.silhouetteSync(x, 2, labels, { sampleSize: 800, seed: 5 });
    expect(a.indices!.length).toBe(800);
    expect(a.samples.length).toBe(800);
    expect(a.indices!.every((v, i, s) => i === 0 || s[i - 1]! < v)).toBe(true);
    expect(sameBits(a.samples, b.samples)).toBe(true);
    expect(sameBits(a.indices!, c.indices!)).toBe(false);
    expect(Math.abs(a.score - full.score)).toBeLessThan(0.03);
    expect(engine.silhouetteSync(x, 2, labels, { sampleSize: 3000 }).indices).toBeNull();
  });
});

describe('thread count', () => {
  const before = engine.threads();
  afterAll(() => engine.setThreads(before));
  const { x, labels } = sampleMixture(TRUTH, 3001, 13);

  it('does not change k-means, mixtures or silhouettes (1 vs 3 threads)', () => {
    const run = (t: number) => {
      engine.setThreads(t);
      return {
        km: engine.kmeansSync(x, 2, { k: 4, nInit: 4, seed: 2 }),
        gm: engine.gmmFitSync(x, 2, { k: 3, nInit: 2, seed: 2 }),
        si: engine.silhouetteSync(x, 2, labels),
      };
    };
    const a = run(1);
    const b = run(3);
    expect(sameBits(a.km.centers, b.km.centers) && sameBits(a.km.labels, b.km.labels)).toBe(true);
    expect(sameBits(a.gm.means, b.gm.means) && sameBits(a.gm.covariances, b.gm.covariances)).toBe(true);
    expect(sameBits(a.gm.fitInfo!.lowerBounds, b.gm.fitInfo!.lowerBounds)).toBe(true);
    expect(sameBits(a.si.samples, b.si.samples) && Object.is(a.si.score, b.si.score)).toBe(true);
  });
});

// ------------------------------------------------------------------------------------------------
// Argument errors

describe('argument errors', () => {
  const x = Float64Array.from([0, 0, 1, 1, 5, 5, 6, 6]); // 4 points, d = 2

  it('name the argument, the expectation and the value', () => {
    expect(() => engine.kmeansSync(x, 0, { k: 2 })).toThrow('Expected positive integer for d but received 0');
    expect(() => engine.kmeansSync(x.subarray(0, 5), 2, { k: 2 })).toThrow('Expected a positive multiple of d (2) for x.length but received 5');
    expect(() => engine.kmeansSync([0, 0, NaN, 1], 2, { k: 1 })).toThrow('Expected finite values for x but received NaN at row 1, column 0');
    expect(() => engine.kmeansSync([0, '1'] as unknown as number[], 1, { k: 1 })).toThrow('Expected number for x[1] but received "1"');
    expect(() => engine.kmeansSync(x, 2, { k: 5 })).toThrow('Expected integer between 1 and the number of points (4) for k but received 5');
    expect(() => engine.kmeansSync(x, 2, {})).toThrow('Expected positive integer (required with k-means++) for k but received undefined');
    expect(() => engine.kmeansSync(x, 2, { k: 2, seed: -1 })).toThrow('Expected integer between 0 and 2^53 - 1 for seed but received -1');
    expect(() => engine.kmeansSync(x, 2, { k: 2, maxIter: 0 })).toThrow('Expected positive integer for maxIter but received 0');
    expect(() => engine.kmeansSync(x, 2, { init: [0, 0, 1] })).toThrow('Expected a positive multiple of d (2) for init.length but received 3');
    expect(() => engine.kmeansSync(x, 2, { init: [0, 0, 1, 1], nInit: 3 })).toThrow('Expected 1 (or nothing) with given initial centers for nInit but received 3');
    expect(() => engine.kmeansSync(x, 2, { init: [0, 0, 1, 1], k: 3 })).toThrow('Expected 2 (the number of centers in init) for k but received 3');
    expect(() => engine.kmeansSync(x, 2, { init: 'random' as 'k-means++' })).toThrow(`Expected 'k-means++' or the k × d initial centers for init but received "random"`);

    expect(() => engine.gmmFitSync(x, 2, { k: 2, covarianceType: 'ful' as CovarianceType })).toThrow(
      `Expected 'full', 'diag', 'tied', 'spherical' for covarianceType but received "ful"`,
    );
    expect(() => engine.gmmFitSync(x, 2, { k: 2, tol: -1 })).toThrow('Expected finite number >= 0 for tol but received -1');
    expect(() => engine.gmmFitSync(x, 2, { k: 2, regCovar: NaN })).toThrow('Expected finite number >= 0 for regCovar but received NaN');
    expect(() => engine.gmmFitSync(x, 2, { k: 2, nInit: 0 })).toThrow('Expected positive integer for nInit but received 0');
    expect(() => engine.gmmFitSync([1, 2], 2, { k: 1 })).toThrow('Expected at least 2 points for x (points) but received 1');

    expect(() => engine.silhouetteSync(x, 2, [0, 0, 0, 0])).toThrow('Expected between 2 and n − 1 = 3 distinct labels for labels but received 1');
    expect(() => engine.silhouetteSync(x, 2, [0, 1, 2])).toThrow('Expected 4 (one label per point) for labels.length but received 3');
    expect(() => engine.silhouetteSync(x, 2, [0, 1, -1, 1])).toThrow('Expected integer between 0 and 2^32 - 1 for labels[2] but received -1');
    expect(() => engine.silhouetteSync(x, 2, [0, 0, 1, 1], { sampleSize: 1 })).toThrow('Expected integer >= 2 for sampleSize but received 1');
  });

  it('become user errors when only the kernel can tell', () => {
    const bad = { covarianceType: 'full' as const, d: 1, weights: Float64Array.of(0.5, 0.6), means: Float64Array.of(0, 1), covariances: Float64Array.of(1, 1) };
    expect(() => new GaussianMixture(bad)).toThrow(expect.objectContaining({ name: 'EngineError', userError: true }));
    expect(() => new GaussianMixture(bad)).toThrow('Expected mixture weights summing to 1 but received a sum of 1.1');
    const notPd = { ...bad, weights: Float64Array.of(1), means: Float64Array.of(0, 0), d: 2, covariances: Float64Array.of(1, 2, 2, 1) };
    expect(() => new GaussianMixture(notPd)).toThrow('Expected positive definite covariances but the covariance of component 0 is not');
    const g = new GaussianMixture({ ...notPd, covariances: Float64Array.of(1, 0, 0, 1) });
    expect(() => g.predict([1, 2, 3])).toThrow('Expected a positive multiple of d (2) for x.length but received 3');
    // A sample of points holding a single cluster.
    const one = Float64Array.from({ length: 100 }, (_, i) => i);
    const labels = Array.from({ length: 100 }, (_, i) => (i === 0 ? 1 : 0));
    expect(() => engine.silhouetteSync(one, 1, labels, { sampleSize: 5, seed: 1 })).toThrow(/in the sample of 5 points/);
  });

  it('are checked again by the binding', () => {
    expect(() => raw.kmeansSync(x, 2.5, 2, null, 1, 10, 0)).toThrow(expect.objectContaining({ code: 'InvalidArg', message: 'Expected integer >= 1 for d but received 2.5' }));
    expect(() => raw.kmeansSync(x, 2, 2, Float64Array.of(0, 0, 1, 1), 2, 10, 0)).toThrow('Expected nInit 1 with given initial centers but received 2');
    expect(() => raw.silhouetteSync(x, 2, Uint32Array.of(0, 1), null, null)).toThrow('Expected 4 labels (one per point) but received 2');
    expect(() =>
      raw.gmmFitSync(x, 2, { k: 2, covarianceType: 'full', maxIter: 10, tol: 1e-3, regCovar: -1, nInit: 1, seed: 0 }),
    ).toThrow('Expected finite number >= 0 for regCovar but received -1');
  });
});
