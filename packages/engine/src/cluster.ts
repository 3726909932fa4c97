// Clustering: k-means (k-means++ seeding, Lloyd iterations, seeded restarts), Gaussian mixtures
// fitted by EM in the semantics of scikit-learn's GaussianMixture (full, diag, tied, spherical
// covariance; reg_covar; k-means initialisation), and the silhouette. Points are n × d row-major:
// x[i * d + j] is value j of point i. Results do not depend on the thread count.
// Algorithms, conventions, determinism and measured accuracy: docs/clustering.md.
import { raw, type Raw } from './raw.js';
import { callAsync, callSync } from './errors.js';
import { describe, invalid, nonNegativeInt, positiveInt } from './validate.js';

/** n points of d values, row-major (x[i * d + j]); every value finite. Arrays are copied, typed arrays read in place. */
export type Points = Float64Array | readonly number[];

/** One cluster label per point (non-negative integers). */
export type Labels = Uint32Array | Int32Array | readonly number[];

interface Checked {
  x: Float64Array;
  n: number;
  d: number;
}

function points(x: unknown, d: unknown, name = 'x'): Checked {
  positiveInt('d', d);
  const dd = d as number;
  let a: Float64Array;
  if (x instanceof Float64Array) a = x;
  else if (Array.isArray(x)) {
    a = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const v: unknown = x[i];
      if (typeof v !== 'number') throw invalid(`${name}[${i}]`, 'number', v);
      a[i] = v;
    }
  } else throw invalid(name, 'Float64Array or array of numbers (n × d values, row-major)', x);
  if (a.length === 0 || a.length % dd !== 0) throw invalid(`${name}.length`, `a positive multiple of d (${dd})`, a.length);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) {
      throw new TypeError(`Expected finite values for ${name} but received ${describe(a[i])} at row ${Math.floor(i / dd)}, column ${i % dd}`);
    }
  }
  return { x: a, n: a.length / dd, d: dd };
}

function options<T>(o: unknown): T {
  if (o === null || typeof o !== 'object') throw invalid('options', 'an object', o);
  return o as T;
}

function seedArg(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid('seed', 'integer between 0 and 2^53 - 1', v);
  return v;
}

function kArg(k: unknown, n: number, min = 1): number {
  positiveInt('k', k);
  if ((k as number) > n) throw invalid('k', `integer between 1 and the number of points (${n})`, k);
  if (n < min) throw invalid('x (points)', `at least ${min} points`, n);
  return k as number;
}

// ------------------------------------------------------------------------------------------------
// k-means

export interface KMeansOptions {
  /** Number of clusters. May be omitted when `init` gives the centers (k = init.length / d). */
  k?: number;
  /** 'k-means++' (default; greedy, scikit-learn's variant) or the k × d initial centers, row-major (one Lloyd run). */
  init?: 'k-means++' | Float64Array | readonly number[];
  /** k-means++ restarts; the lowest inertia is kept. Default 10; must be 1 with given centers. */
  nInit?: number;
  /** Most Lloyd iterations per run; default 300. */
  maxIter?: number;
  /** Seed of k-means++ (restart r draws from ChaCha8 stream r of it); default 0. */
  seed?: number;
}

export interface KMeansResult {
  k: number;
  d: number;
  /** k × d, row-major. */
  centers: Float64Array;
  /** Cluster of every point (0..k−1). */
  labels: Uint32Array;
  /** Σ ‖x_i − center of i‖². */
  inertia: number;
  /** Lloyd iterations, including the last one, whose assignment repeated the previous one. */
  nIter: number;
  /** Whether an assignment repeated the previous one within maxIter iterations. */
  converged: boolean;
}

interface KMeansCall {
  x: Float64Array;
  d: number;
  k: number;
  init: Float64Array | null;
  nInit: number;
  maxIter: number;
  seed: number;
}

function kmeansCall(x: Points, d: number, opts: KMeansOptions): KMeansCall {
  const p = points(x, d);
  const o = options<KMeansOptions>(opts);
  const { init = 'k-means++', maxIter = 300, seed = 0 } = o;
  positiveInt('maxIter', maxIter);
  seedArg(seed);
  if (init === 'k-means++') {
    if (o.k === undefined) throw invalid('k', 'positive integer (required with k-means++)', o.k);
    const k = kArg(o.k, p.n);
    const nInit = positiveInt('nInit', o.nInit ?? 10);
    return { x: p.x, d: p.d, k, init: null, nInit, maxIter, seed };
  }
  if (!(init instanceof Float64Array) && !Array.isArray(init)) throw invalid('init', "'k-means++' or the k × d initial centers", init);
  const c = points(init, p.d, 'init');
  if (o.k !== undefined && o.k !== c.n) throw invalid('k', `${c.n} (the number of centers in init)`, o.k);
  kArg(c.n, p.n);
  if (o.nInit !== undefined && o.nInit !== 1) throw invalid('nInit', '1 (or nothing) with given initial centers', o.nInit);
  return { x: p.x, d: p.d, k: c.n, init: c.x, nInit: 1, maxIter, seed };
}

function kmeansResult(r: Raw.JsKMeans, c: KMeansCall): KMeansResult {
  return { k: c.k, d: c.d, centers: r.centers, labels: r.labels, inertia: r.inertia, nIter: r.nIter, converged: r.converged };
}

/**
 * k-means of n × d points: Lloyd iterations (nearest center, ties to the lowest index; centers
 * to the means; stop when an assignment repeats) from k-means++ seedings (best of `nInit`
 * restarts, run in parallel) or from given centers. Off the JS thread; `x` is copied first.
 */
export function kmeans(x: Points, d: number, opts: KMeansOptions): Promise<KMeansResult> {
  const c = kmeansCall(x, d, opts);
  return callAsync(() => raw.kmeans(c.x, c.d, c.k, c.init, c.nInit, c.maxIter, c.seed)).then((r) => kmeansResult(r, c));
}

/** `kmeans`, blocking the JS thread (the points are read in place). */
export function kmeansSync(x: Points, d: number, opts: KMeansOptions): KMeansResult {
  const c = kmeansCall(x, d, opts);
  return kmeansResult(callSync(() => raw.kmeansSync(c.x, c.d, c.k, c.init, c.nInit, c.maxIter, c.seed)), c);
}

// ------------------------------------------------------------------------------------------------
// Gaussian mixtures

/** scikit-learn's covariance_type: one matrix per component, a diagonal per component, one shared matrix, one variance per component. */
export type CovarianceType = 'full' | 'diag' | 'tied' | 'spherical';

export const COVARIANCE_TYPES: readonly CovarianceType[] = Object.freeze(['full', 'diag', 'tied', 'spherical']);

export interface GmmOptions {
  /** Number of components. */
  k: number;
  /** Default 'full'. */
  covarianceType?: CovarianceType;
  /** EM iterations per restart (0 returns the k-means initialisation); default 100. */
  maxIter?: number;
  /** Stop when the mean log-likelihood changes by less than this; default 1e-3. */
  tol?: number;
  /** Added to the diagonal of every covariance; default 1e-6. */
  regCovar?: number;
  /** Restarts (each from its own k-means), run in parallel; the highest lower bound is kept. Default 1. */
  nInit?: number;
  /** Seed of the k-means initialisations; default 0. */
  seed?: number;
}

/** The parameters of a mixture; everything `GaussianMixture` needs (e.g. saved from an earlier fit). */
export interface GaussianMixtureParams {
  covarianceType: CovarianceType;
  /** Values per point. */
  d: number;
  /** k weights summing to 1. */
  weights: Float64Array;
  /** k × d, row-major. */
  means: Float64Array;
  /** full: k × d × d; diag: k × d variances; tied: d × d; spherical: k variances. */
  covariances: Float64Array;
}

/** How EM went (scikit-learn's attributes of the kept restart). */
export interface GmmFitInfo {
  /** Σ ln p(x_i) over the training points at the returned parameters. */
  loglik: number;
  /** scikit-learn's lower_bound_: the mean log-likelihood of the last E-step, before its M-step (−Infinity if maxIter = 0). */
  lowerBound: number;
  /** scikit-learn's lower_bounds_: the mean log-likelihood of every E-step. */
  lowerBounds: Float64Array;
  nIter: number;
  /** Whether EM stopped on tol rather than on maxIter. */
  converged: boolean;
}

function covLength(t: CovarianceType, k: number, d: number): number {
  return t === 'full' ? k * d * d : t === 'diag' ? k * d : t === 'tied' ? d * d : k;
}

function floats(name: string, v: unknown): Float64Array {
  if (v instanceof Float64Array) return v.slice();
  if (Array.isArray(v) && v.every((e) => typeof e === 'number')) return Float64Array.from(v as number[]);
  throw invalid(name, 'Float64Array or array of numbers', v);
}

/**
 * A Gaussian mixture: its parameters and, when it comes from `gmmFit`, how EM went. Construct one
 * from saved parameters with `new GaussianMixture(params)`; the arrays are copied and checked
 * (shapes, weights summing to 1, symmetric positive definite covariances).
 */
export class GaussianMixture {
  readonly covarianceType: CovarianceType;
  readonly k: number;
  readonly d: number;
  readonly weights: Float64Array;
  readonly means: Float64Array;
  readonly covariances: Float64Array;
  /** How EM went; null for a mixture built from parameters. */
  readonly fitInfo: GmmFitInfo | null;
  /** Free parameters (scikit-learn's _n_parameters): covariance entries + k·d means + k − 1 weights. */
  readonly nParameters: number;
  readonly #raw: Raw.JsGmmParams;

  constructor(params: GaussianMixtureParams, fitInfo: GmmFitInfo | null = null) {
    const p = options<GaussianMixtureParams>(params);
    if (!(COVARIANCE_TYPES as readonly unknown[]).includes(p.covarianceType)) {
      throw invalid('covarianceType', COVARIANCE_TYPES.map((t) => `'${t}'`).join(', '), p.covarianceType);
    }
    this.covarianceType = p.covarianceType;
    this.d = positiveInt('d', p.d);
    this.weights = floats('weights', p.weights);
    this.k = this.weights.length;
    if (this.k === 0) throw invalid('weights', 'at least one weight', p.weights);
    this.means = floats('means', p.means);
    if (this.means.length !== this.k * this.d) throw invalid('means.length', `k × d = ${this.k} × ${this.d}`, this.means.length);
    this.covariances = floats('covariances', p.covariances);
    const want = covLength(this.covarianceType, this.k, this.d);
    if (this.covariances.length !== want) {
      throw invalid('covariances.length', `${want} (${this.covarianceType}, k = ${this.k}, d = ${this.d})`, this.covariances.length);
    }
    this.#raw = { covarianceType: this.covarianceType, d: this.d, weights: this.weights, means: this.means, covariances: this.covariances };
    this.nParameters = callSync(() => raw.gmmNParameters(this.#raw)); // also checks the values
    this.fitInfo = fitInfo;
  }

  #x(x: Points): Float64Array {
    return points(x, this.d).x;
  }

  /** Most probable component of every point (ties to the lowest index). */
  predict(x: Points): Uint32Array {
    const xs = this.#x(x);
    return callSync(() => raw.gmmPredictSync(this.#raw, xs));
  }

  /** Posterior probability of every component for every point: n × k, row-major. */
  predictProba(x: Points): Float64Array {
    const xs = this.#x(x);
    return callSync(() => raw.gmmPredictProbaSync(this.#raw, xs));
  }

  /** ln p(x_i) of every point under the mixture. */
  scoreSamples(x: Points): Float64Array {
    const xs = this.#x(x);
    return callSync(() => raw.gmmScoreSamplesSync(this.#raw, xs));
  }

  /** Mean log-likelihood per point (scikit-learn's score). */
  score(x: Points): number {
    return this.#score(x).score;
  }

  /** Bayesian information criterion −2·n·score + nParameters·ln n; lower is better. */
  bic(x: Points): number {
    return this.#score(x).bic;
  }

  /** Akaike information criterion −2·n·score + 2·nParameters; lower is better. */
  aic(x: Points): number {
    return this.#score(x).aic;
  }

  #score(x: Points): Raw.JsGmmScore {
    const xs = this.#x(x);
    return callSync(() => raw.gmmScoreSync(this.#raw, xs));
  }

  /** The parameters (copies), e.g. to save the model. */
  params(): GaussianMixtureParams {
    return {
      covarianceType: this.covarianceType,
      d: this.d,
      weights: this.weights.slice(),
      means: this.means.slice(),
      covariances: this.covariances.slice(),
    };
  }
}

function gmmCall(x: Points, d: number, opts: GmmOptions): { x: Float64Array; d: number; o: Raw.JsGmmOptions } {
  const p = points(x, d);
  const o = options<GmmOptions>(opts);
  const { covarianceType = 'full', maxIter = 100, tol = 1e-3, regCovar = 1e-6, nInit = 1, seed = 0 } = o;
  const k = kArg(o.k, p.n, 2);
  if (!(COVARIANCE_TYPES as readonly unknown[]).includes(covarianceType)) {
    throw invalid('covarianceType', COVARIANCE_TYPES.map((t) => `'${t}'`).join(', '), covarianceType);
  }
  nonNegativeInt('maxIter', maxIter);
  if (typeof tol !== 'number' || !Number.isFinite(tol) || tol < 0) throw invalid('tol', 'finite number >= 0', tol);
  if (typeof regCovar !== 'number' || !Number.isFinite(regCovar) || regCovar < 0) throw invalid('regCovar', 'finite number >= 0', regCovar);
  positiveInt('nInit', nInit);
  seedArg(seed);
  return { x: p.x, d: p.d, o: { k, covarianceType, maxIter, tol, regCovar, nInit, seed } };
}

function mixture(r: Raw.JsGmmFit): GaussianMixture {
  const p = r.params;
  return new GaussianMixture(
    { covarianceType: p.covarianceType as CovarianceType, d: p.d, weights: p.weights, means: p.means, covariances: p.covariances },
    { loglik: r.loglik, lowerBound: r.lowerBound, lowerBounds: r.lowerBounds, nIter: r.nIter, converged: r.converged },
  );
}

/**
 * Fit a Gaussian mixture to n × d points by EM, as scikit-learn's GaussianMixture with
 * init_params='kmeans' (responsibilities start from a k-means labelling). Off the JS thread; `x`
 * is copied first. Rejects with an EngineError (userError) when a covariance becomes singular
 * (raise regCovar) or the data cannot be fitted.
 */
export function gmmFit(x: Points, d: number, opts: GmmOptions): Promise<GaussianMixture> {
  const c = gmmCall(x, d, opts);
  return callAsync(() => raw.gmmFit(c.x, c.d, c.o)).then(mixture);
}

/** `gmmFit`, blocking the JS thread (the points are read in place). */
export function gmmFitSync(x: Points, d: number, opts: GmmOptions): GaussianMixture {
  const c = gmmCall(x, d, opts);
  return mixture(callSync(() => raw.gmmFitSync(c.x, c.d, c.o)));
}

// ------------------------------------------------------------------------------------------------
// Silhouette

export interface SilhouetteOptions {
  /** Compute the silhouette of a random subset of this many points (within the subset), as scikit-learn's sample_size. At least 2; ≥ n uses every point. */
  sampleSize?: number;
  /** Seed of the subset; default 0. */
  seed?: number;
}

export interface SilhouetteResult {
  /** Mean of `samples`. */
  score: number;
  /** s_i = (b_i − a_i)/max(a_i, b_i) of every point (or of the sampled points), 0 in a singleton cluster. */
  samples: Float64Array;
  /** Indices (increasing) of the sampled points; null when every point was used. */
  indices: Uint32Array | null;
}

function labelsArg(labels: unknown, n: number): Uint32Array {
  let out: Uint32Array;
  if (labels instanceof Uint32Array) out = labels;
  else if (labels instanceof Int32Array || Array.isArray(labels)) {
    const src = labels as ArrayLike<unknown>;
    out = new Uint32Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const v = src[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw invalid(`labels[${i}]`, 'integer between 0 and 2^32 - 1', v);
      out[i] = v;
    }
  } else throw invalid('labels', 'Uint32Array, Int32Array or array of non-negative integers', labels);
  if (out.length !== n) throw invalid('labels.length', `${n} (one label per point)`, out.length);
  return out;
}

function silhouetteCall(x: Points, d: number, labels: Labels, opts: SilhouetteOptions) {
  const p = points(x, d);
  const l = labelsArg(labels, p.n);
  const o = options<SilhouetteOptions>(opts);
  let sampleSize: number | undefined;
  if (o.sampleSize !== undefined) {
    positiveInt('sampleSize', o.sampleSize);
    if (o.sampleSize < 2) throw invalid('sampleSize', 'integer >= 2', o.sampleSize);
    sampleSize = o.sampleSize;
  }
  const seed = seedArg(o.seed ?? 0);
  if (sampleSize === undefined || sampleSize >= p.n) {
    const distinct = new Set(l).size;
    if (distinct < 2 || distinct > p.n - 1) {
      throw new TypeError(`Expected between 2 and n − 1 = ${p.n - 1} distinct labels for labels but received ${distinct}`);
    }
  }
  return { x: p.x, d: p.d, labels: l, sampleSize, seed };
}

const silhouetteResult = (r: Raw.JsSilhouette): SilhouetteResult => ({ score: r.score, samples: r.samples, indices: r.indices ?? null });

/**
 * Silhouette of labelled points (Euclidean), O(n²·d) on the kernels' threads, off the JS thread;
 * `x` and `labels` are copied first. With `sampleSize` < n, the silhouette of a seeded random
 * subset of the points (rejects if the subset has fewer than 2 or more than size − 1 clusters).
 */
export function silhouette(x: Points, d: number, labels: Labels, opts: SilhouetteOptions = {}): Promise<SilhouetteResult> {
  const c = silhouetteCall(x, d, labels, opts);
  return callAsync(() => raw.silhouette(c.x, c.d, c.labels, c.sampleSize, c.seed)).then(silhouetteResult);
}

/** `silhouette`, blocking the JS thread (the inputs are read in place). */
export function silhouetteSync(x: Points, d: number, labels: Labels, opts: SilhouetteOptions = {}): SilhouetteResult {
  const c = silhouetteCall(x, d, labels, opts);
  return silhouetteResult(callSync(() => raw.silhouetteSync(c.x, c.d, c.labels, c.sampleSize, c.seed)));
}
