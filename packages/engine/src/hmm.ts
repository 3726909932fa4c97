// Gaussian hidden Markov models in hmmlearn 0.3.3's conventions (GaussianHMM): Baum-Welch with
// its M-step, default priors and stopping rule, in a scaled or a log-space implementation;
// k-means++ / Gaussian-mixture / given initialisation with seeded restarts; Viterbi, smoothed and
// filtered (causal) posteriors, a streaming filter, sampling, score, AIC/BIC; forward-backward and
// Viterbi on any emission log-likelihood matrix.
// Layout: X is a row-major Float64Array (T × nFeatures), `lengths` splits it into sequences (one
// per asset; no transition crosses a boundary). Formulas, errors and accuracy: docs/hmm.md.
import { raw, type Raw } from './raw.js';
import { callAsync, callSync } from './errors.js';
import { describe, invalid, positiveInt } from './validate.js';

export type HmmCovariance = 'full' | 'diag' | 'tied' | 'spherical';

/** Every `HmmCovariance`, in a fixed order. */
export const HMM_COVARIANCE_TYPES: readonly HmmCovariance[] = Object.freeze(['full', 'diag', 'tied', 'spherical']);

/**
 * A Gaussian HMM with K = nStates states over D = nFeatures features. startprob: K; transmat:
 * K×K row-major (row i: from state i); means: K×D; covars: full K×D×D, diag K×D (variances),
 * tied D×D (shared), spherical K (one variance per state).
 */
export interface HmmModel {
  nStates: number;
  nFeatures: number;
  covarianceType: HmmCovariance;
  startprob: Float64Array;
  transmat: Float64Array;
  means: Float64Array;
  covars: Float64Array;
}

/** One EM iteration: `iteration` counts from 1; `loglik` = log p(X | parameters before its M-step). */
export interface HmmProgress {
  restart: number;
  iteration: number;
  loglik: number;
}

export interface HmmFitOptions {
  nStates: number;
  /** Default 'full'. */
  covarianceType?: HmmCovariance;
  /** EM iteration cap, default 100. */
  nIter?: number;
  /** Stop after iteration i when history[i] − history[i−1] < tol (a decrease also stops); default 1e-2 as hmmlearn. */
  tol?: number;
  /** Floor on every covariance eigenvalue after each M-step, default 1e-3; 0 reproduces hmmlearn's unfloored M-step. */
  minCovar?: number;
  /** hmmlearn's covars_prior, added to every covariance element before dividing by Σγ; default 1e-2. */
  covarsPrior?: number;
  /** 'kmeans++' (default), 'gmm', or a model to start from exactly (then nRestarts must be 1). */
  init?: 'kmeans++' | 'gmm' | HmmModel;
  /** Seeded restarts run in parallel (restart r uses seed + r); the best final log-likelihood is kept. Default 1. */
  nRestarts?: number;
  /** Non-negative integer, default 0. */
  seed?: number;
  /** Default 'scaled' (falls back to log space if it would lose precision). */
  implementation?: 'scaled' | 'log';
  /** Which parameters EM learns: letters of 'stmc' (startprob, transmat, means, covars); default 'stmc'. */
  params?: string;
  /** Sequence lengths summing to T; default one sequence. */
  lengths?: number[];
  /** Called on the JS thread after every E-step of every restart. If it throws, the fit is cancelled and rejects with that error. */
  onProgress?: (p: HmmProgress) => void;
}

export type HmmStopReason = 'tol' | 'decrease' | 'max-iter';

export interface HmmFitResult {
  model: HmmModel;
  /** log p(X | θ_i) for i = 0..nIter−1 (θ_0 = the initial parameters), of the kept restart. */
  loglikHistory: number[];
  nIter: number;
  /** True when stopped by tol ('tol' or 'decrease', as hmmlearn's monitor); false at 'max-iter'. */
  converged: boolean;
  reason: HmmStopReason;
  /** log p(X | final parameters): not part of the history. */
  finalScore: number;
  /** Every restart: its seed, final log-likelihood and iterations. */
  restarts: Array<{ seed: number; loglik: number; nIter: number }>;
  /** Index into `restarts` of the kept one (highest final log-likelihood; ties: the first). */
  bestRestart: number;
}

export interface HmmForwardBackwardResult {
  logLikelihood: number;
  /** T×K normalised forward messages: P(z_t | x_≤t). */
  forward: Float64Array;
  /** T×K backward messages p(x_>t | z_t), each row normalised to sum 1. */
  backward: Float64Array;
  /** T×K smoothed posteriors P(z_t | x). */
  posteriors: Float64Array;
}

/** Number of covariance values for a type: full K·D·D, diag K·D, tied D·D, spherical K. */
export function hmmCovarsLength(covarianceType: HmmCovariance, nStates: number, nFeatures: number): number {
  const k = positiveInt('nStates', nStates);
  const d = positiveInt('nFeatures', nFeatures);
  switch (covType('covarianceType', covarianceType)) {
    case 'full':
      return k * d * d;
    case 'diag':
      return k * d;
    case 'tied':
      return d * d;
    case 'spherical':
      return k;
  }
}

function covType(name: string, v: unknown): HmmCovariance {
  if (typeof v !== 'string' || !(HMM_COVARIANCE_TYPES as readonly string[]).includes(v)) {
    throw invalid(name, `one of ${HMM_COVARIANCE_TYPES.map((s) => `'${s}'`).join(', ')}`, v);
  }
  return v as HmmCovariance;
}

function f64(name: string, v: unknown, length?: number): Float64Array {
  if (!(v instanceof Float64Array)) throw invalid(name, 'Float64Array', v);
  if (length !== undefined && v.length !== length) throw invalid(`${name}.length`, String(length), v.length);
  return v;
}

function nonNegative(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw invalid(name, 'non-negative finite number', v);
  return v;
}

function checkModel(name: string, m: unknown): Raw.JsHmmModel {
  if (m === null || typeof m !== 'object') throw invalid(name, 'an HmmModel object', m);
  const o = m as HmmModel;
  const k = positiveInt(`${name}.nStates`, o.nStates);
  const d = positiveInt(`${name}.nFeatures`, o.nFeatures);
  const c = covType(`${name}.covarianceType`, o.covarianceType);
  return {
    nStates: k,
    nFeatures: d,
    covarianceType: c,
    startprob: f64(`${name}.startprob`, o.startprob, k),
    transmat: f64(`${name}.transmat`, o.transmat, k * k),
    means: f64(`${name}.means`, o.means, k * d),
    covars: f64(`${name}.covars`, o.covars, hmmCovarsLength(c, k, d)),
  };
}

function toModel(m: Raw.JsHmmModel): HmmModel {
  return {
    nStates: m.nStates,
    nFeatures: m.nFeatures,
    covarianceType: m.covarianceType as HmmCovariance,
    startprob: m.startprob,
    transmat: m.transmat,
    means: m.means,
    covars: m.covars,
  };
}

/** X as T × nFeatures rows; returns T. */
function observations(X: unknown, nFeatures: number): number {
  const x = f64('X', X);
  if (x.length === 0 || x.length % nFeatures !== 0) {
    throw invalid('X.length', `a positive multiple of nFeatures (${nFeatures})`, x.length);
  }
  return x.length / nFeatures;
}

function lengthsArg(v: unknown, t: number): number[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length === 0) throw invalid('lengths', 'non-empty array of positive integers', v);
  let sum = 0;
  v.forEach((n, i) => {
    positiveInt(`lengths[${i}]`, n);
    sum += n as number;
  });
  if (sum !== t) throw invalid('lengths', `sequence lengths summing to the ${t} rows of X`, `lengths summing to ${sum}`);
  return v as number[];
}

function paramsArg(v: unknown): string {
  if (typeof v !== 'string' || !/^[stmc]*$/.test(v) || new Set(v).size !== v.length) {
    throw invalid('params', "a string of distinct letters from 'stmc'", v);
  }
  return v;
}

function fitArgs(X: unknown, nFeatures: number, options: HmmFitOptions): { lengths: number[] | undefined; opts: Raw.JsHmmFitOptions } {
  const d = positiveInt('nFeatures', nFeatures);
  const t = observations(X, d);
  if (options === null || typeof options !== 'object') throw invalid('options', 'an HmmFitOptions object', options);
  const o = options;
  const k = positiveInt('nStates', o.nStates);
  if (t < k) throw invalid('nStates', `at most the number of observations (${t})`, k);
  const opts: Raw.JsHmmFitOptions = { nStates: k };
  const c = covType('covarianceType', o.covarianceType ?? 'full');
  opts.covarianceType = c;
  if (o.nIter !== undefined) opts.nIter = positiveInt('nIter', o.nIter);
  if (o.tol !== undefined) opts.tol = nonNegative('tol', o.tol);
  if (o.minCovar !== undefined) opts.minCovar = nonNegative('minCovar', o.minCovar);
  if (o.covarsPrior !== undefined) opts.covarsPrior = nonNegative('covarsPrior', o.covarsPrior);
  if (o.nRestarts !== undefined) opts.nRestarts = positiveInt('nRestarts', o.nRestarts);
  if (o.seed !== undefined) {
    if (!Number.isSafeInteger(o.seed) || o.seed < 0) throw invalid('seed', 'non-negative safe integer', o.seed);
    opts.seed = o.seed;
  }
  if (o.implementation !== undefined) {
    if (o.implementation !== 'scaled' && o.implementation !== 'log') throw invalid('implementation', "'scaled' or 'log'", o.implementation);
    opts.implementation = o.implementation;
  }
  if (o.params !== undefined) opts.params = paramsArg(o.params);
  const init = o.init ?? 'kmeans++';
  if (init === 'kmeans++' || init === 'gmm') {
    opts.init = init;
  } else if (typeof init === 'object' && init !== null) {
    const m = checkModel('init', init);
    if (m.nStates !== k || m.nFeatures !== d || m.covarianceType !== c) {
      throw invalid('init', `a model with ${k} states, ${d} features and '${c}' covariance (as the fit)`, `${m.nStates} states, ${m.nFeatures} features, '${m.covarianceType}'`);
    }
    if ((o.nRestarts ?? 1) !== 1) throw invalid('nRestarts', "1 with an explicit init model (use 'kmeans++' or 'gmm' for restarts)", o.nRestarts);
    opts.initModel = m;
  } else {
    throw invalid('init', "'kmeans++', 'gmm' or an HmmModel", init);
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw invalid('onProgress', 'function', o.onProgress);
  return { lengths: lengthsArg(o.lengths, t), opts };
}

function fromRaw(r: Raw.JsHmmFitResult): HmmFitResult {
  return {
    model: toModel(r.model),
    loglikHistory: r.loglikHistory,
    nIter: r.nIter,
    converged: r.converged,
    reason: r.reason as HmmStopReason,
    finalScore: r.finalScore,
    restarts: r.restarts.map((s) => ({ seed: s.seed, loglik: s.loglik, nIter: s.nIter })),
    bestRestart: r.bestRestart,
  };
}

/**
 * Fit a Gaussian HMM by Baum-Welch off the JS thread (X is copied first, so it may be reused at
 * once). Argument errors throw synchronously; data errors (non-finite X, a constant column with
 * minCovar 0, a covariance that is not positive definite) reject with an EngineError. Every
 * progress report is delivered before the Promise resolves.
 */
export function hmmFit(X: Float64Array, nFeatures: number, options: HmmFitOptions): Promise<HmmFitResult> {
  const { lengths, opts } = fitArgs(X, nFeatures, options);
  const user = options.onProgress;
  let received = 0;
  let expected = Infinity;
  let allDelivered: (() => void) | undefined;
  let thrown: { error: unknown } | undefined;
  const onProgress = user
    ? (p: Raw.JsHmmProgress): boolean => {
        received++;
        try {
          if (thrown === undefined) user({ restart: p.restart, iteration: p.iteration, loglik: p.loglik });
        } catch (e) {
          thrown = { error: e };
        }
        if (received >= expected) allDelivered?.();
        return thrown === undefined;
      }
    : undefined;
  return callAsync(() => raw.hmmFit(X, nFeatures, lengths, opts, onProgress)).then(
    async (r) => {
      if (onProgress) {
        // Progress is queued from the pool; the Promise may settle before the last reports run.
        expected = r.restarts.reduce((s, x) => s + x.nIter, 0);
        if (received < expected) await new Promise<void>((res) => (allDelivered = res));
      }
      if (thrown !== undefined) throw thrown.error;
      return fromRaw(r);
    },
    (e: unknown) => {
      throw thrown !== undefined ? thrown.error : e;
    },
  );
}

/** hmmFit blocking the JS thread (the work still runs on the engine's threads). */
export function hmmFitSync(X: Float64Array, nFeatures: number, options: Omit<HmmFitOptions, 'onProgress'>): HmmFitResult {
  if (options !== null && typeof options === 'object' && 'onProgress' in options && options.onProgress !== undefined) {
    throw invalid('onProgress', 'undefined in hmmFitSync (use hmmFit for progress)', options.onProgress);
  }
  const { lengths, opts } = fitArgs(X, nFeatures, options);
  return fromRaw(callSync(() => raw.hmmFitSync(X, nFeatures, lengths, opts)));
}

function decodeArgs(model: HmmModel, X: Float64Array, lengths: number[] | undefined): { m: Raw.JsHmmModel; lengths: number[] | undefined } {
  const m = checkModel('model', model);
  const t = observations(X, m.nFeatures);
  return { m, lengths: lengthsArg(lengths, t) };
}

/** log p(X | model), summed over sequences (hmmlearn's `score`). */
export function hmmScore(model: HmmModel, X: Float64Array, lengths?: number[]): number {
  const a = decodeArgs(model, X, lengths);
  return callSync(() => raw.hmmScoreSync(a.m, X, a.lengths));
}

/** The most likely state path (concatenated over sequences) and log p(X, path) summed over sequences. */
export function hmmViterbi(model: HmmModel, X: Float64Array, lengths?: number[]): { path: Int32Array; logprob: number } {
  const a = decodeArgs(model, X, lengths);
  const v = callSync(() => raw.hmmViterbiSync(a.m, X, a.lengths));
  return { path: v.path, logprob: v.logprob };
}

/** Smoothed posteriors P(z_t | the whole sequence), T×K row-major (hmmlearn's `predict_proba`). Uses future data: not for live signals. */
export function hmmPosteriors(model: HmmModel, X: Float64Array, lengths?: number[]): Float64Array {
  const a = decodeArgs(model, X, lengths);
  return callSync(() => raw.hmmPosteriorsSync(a.m, X, a.lengths));
}

/** Filtered posteriors P(z_t | x_1..x_t) within each sequence, T×K row-major: causal, row t never depends on later rows. */
export function hmmFiltered(model: HmmModel, X: Float64Array, lengths?: number[]): Float64Array {
  const a = decodeArgs(model, X, lengths);
  return callSync(() => raw.hmmFilteredSync(a.m, X, a.lengths));
}

/** `n` observations (n × nFeatures) and their states, from a seeded ChaCha8 stream (the same on every machine). */
export function hmmSample(model: HmmModel, n: number, seed: number): { X: Float64Array; states: Int32Array } {
  const m = checkModel('model', model);
  positiveInt('n', n);
  if (!Number.isSafeInteger(seed) || seed < 0) throw invalid('seed', 'non-negative safe integer', seed);
  const s = callSync(() => raw.hmmSampleSync(m, n, seed));
  return { X: s.x, states: s.states };
}

/**
 * AIC = −2 log L + 2p and BIC = −2 log L + p ln T with hmmlearn's count of free parameters p:
 * (K−1) + K(K−1) + K·D + {full K·D(D+1)/2, diag K·D, tied D(D+1)/2, spherical K}.
 */
export function hmmInformationCriteria(model: HmmModel, X: Float64Array, lengths?: number[]): { logLikelihood: number; nParameters: number; aic: number; bic: number } {
  const a = decodeArgs(model, X, lengths);
  const ic = callSync(() => raw.hmmInformationCriteriaSync(a.m, X, a.lengths));
  return { logLikelihood: ic.logLikelihood, nParameters: ic.nParameters, aic: ic.aic, bic: ic.bic };
}

function probs(name: string, v: unknown, length?: number): Float64Array {
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return f64(name, Float64Array.from(v as number[]), length);
  return f64(name, v, length);
}

function chainArgs(startprob: unknown, transmat: unknown, logB: unknown, lengths: unknown) {
  const s = probs('startprob', startprob);
  const k = s.length;
  if (k === 0) throw invalid('startprob.length', 'at least 1', 0);
  const a = probs('transmat', transmat, k * k);
  const b = f64('logB', logB);
  if (b.length === 0 || b.length % k !== 0) throw invalid('logB.length', `a positive multiple of K (${k})`, b.length);
  return { s, a, b, lengths: lengthsArg(lengths, b.length / k) };
}

/**
 * Forward-backward on an emission log-likelihood matrix logB (T×K, row-major; −Infinity for an
 * impossible emission), e.g. of categorical or any other emissions. K = startprob.length.
 */
export function hmmForwardBackward(
  startprob: Float64Array | readonly number[],
  transmat: Float64Array | readonly number[],
  logB: Float64Array,
  lengths?: number[],
  implementation: 'scaled' | 'log' = 'scaled',
): HmmForwardBackwardResult {
  const c = chainArgs(startprob, transmat, logB, lengths);
  if (implementation !== 'scaled' && implementation !== 'log') throw invalid('implementation', "'scaled' or 'log'", implementation);
  const r = callSync(() => raw.hmmForwardBackwardSync(c.s, c.a, c.b, c.lengths, implementation));
  return { logLikelihood: r.logLikelihood, forward: r.forward, backward: r.backward, posteriors: r.posteriors };
}

/** Viterbi on an emission log-likelihood matrix logB (T×K, row-major). */
export function hmmViterbiLogB(
  startprob: Float64Array | readonly number[],
  transmat: Float64Array | readonly number[],
  logB: Float64Array,
  lengths?: number[],
): { path: Int32Array; logprob: number } {
  const c = chainArgs(startprob, transmat, logB, lengths);
  const v = callSync(() => raw.hmmViterbiLogBSync(c.s, c.a, c.b, c.lengths));
  return { path: v.path, logprob: v.logprob };
}

/**
 * The causal filter for live use: feed one observation at a time and get P(z_t | x_1..x_t). It
 * gives the same values, bit for bit, as `hmmFiltered` on the whole sequence.
 */
export class HmmFilter {
  readonly nStates: number;
  readonly nFeatures: number;
  readonly #inner: Raw.HmmFilter;

  constructor(model: HmmModel) {
    const m = checkModel('model', model);
    this.nStates = m.nStates;
    this.nFeatures = m.nFeatures;
    this.#inner = callSync(() => new raw.HmmFilter(m));
  }

  /** Add the next observation (nFeatures values); returns the K filtered state probabilities. */
  update(x: Float64Array | number[]): Float64Array {
    let v: Float64Array;
    if (x instanceof Float64Array) v = x;
    else if (Array.isArray(x) && x.every((e) => typeof e === 'number')) v = Float64Array.from(x);
    else throw invalid('x', 'Float64Array or number[]', x);
    if (v.length !== this.nFeatures) throw new TypeError(`Expected ${this.nFeatures} values for x but received ${describe(x)}`);
    return callSync(() => this.#inner.update(v));
  }

  /** Observations seen since construction or the last reset. */
  get steps(): number {
    return this.#inner.steps;
  }

  /** log p(x_1..x_t) of the observations seen. */
  get logLikelihood(): number {
    return this.#inner.logLikelihood;
  }

  /** Forget every observation (start a new sequence). */
  reset(): void {
    callSync(() => this.#inner.reset());
  }
}

/**
 * Allow (true, the default) or forbid (false) the AVX2 copies of the HMM kernels, or query them
 * (no argument). Returns whether they run (false on CPUs without AVX2). Results are bit-identical
 * either way; this exists so tests and benchmarks can force the baseline path.
 */
export function hmmSimd(enabled?: boolean): boolean {
  if (enabled !== undefined && typeof enabled !== 'boolean') throw invalid('enabled', 'boolean or undefined', enabled);
  return raw.hmmSimd(enabled);
}
