// GARCH(1,1) with a constant mean and normal or standardised Student-t innovations, in the
// conventions of arch 7.2 (backcast, σ²_0 = ω + (α+β)·backcast, likelihoods), fitted by maximum
// likelihood under ω > 0, α, β ≥ 0, α+β ≤ 1, ν ∈ [2.05, 500]. Works on y = 100·log returns.
// Formulas, optimiser, standard errors and measured accuracy: docs/volatility-models.md.
import { raw, type Raw } from './raw.js';
import { callAsync, callSync } from './errors.js';
import { describe, invalid, positiveInt } from './validate.js';

export type GarchDist = 'normal' | 't';

/** θ = (μ, ω, α, β[, ν]); `nu` is present exactly for dist 't'. */
export interface GarchParams {
  mu: number;
  omega: number;
  alpha: number;
  beta: number;
  /** Degrees of freedom of the standardised Student t (dist 't' only). */
  nu?: number;
}

export interface GarchFitOptions {
  /** Innovation distribution (default 'normal'). */
  dist?: GarchDist;
  /** Iteration cap of the optimiser (default 500). */
  maxIter?: number;
  /** Projected-gradient tolerance of the optimiser (default 1e-8). */
  tol?: number;
}

/**
 * Why the optimiser stopped. 'gradient' and 'decrease' are convergence ('decrease': with a fresh
 * finite-difference Hessian, a full Newton step would gain ≤ 1e-12 of the mean log-likelihood);
 * 'line-search' and 'max-iterations' are not.
 */
export type GarchStopReason = 'gradient' | 'decrease' | 'line-search' | 'max-iterations';

export interface GarchConvergence {
  converged: boolean;
  iterations: number;
  /** Likelihood-and-gradient evaluations, including the finite-difference Hessians. */
  evaluations: number;
  reason: GarchStopReason;
  /** Final projected-gradient sup norm (mean log-likelihood, optimiser coordinates). */
  gradNorm: number;
}

/** The last squared residual and variance of a sample; a filter continues from it exactly. */
export interface GarchState {
  resid2: number;
  sigma2: number;
}

export interface GarchFit {
  dist: GarchDist;
  params: GarchParams;
  /**
   * Bollerslev–Wooldridge robust standard errors (NaN if the Hessian is singular). Not valid
   * inference for a parameter on its bound (e.g. α+β = 1).
   */
  stdErrRobust: GarchParams;
  /** Robust covariance in θ order (μ, ω, α, β[, ν]). */
  covRobust: number[][];
  loglik: number;
  nobs: number;
  /** The backcast of the sample (pass it to garchFilter to apply the fit to later data). */
  backcast: number;
  startingValues: GarchParams;
  /** σ_t: the forecast for observation t from data up to t−1. */
  conditionalVol: Float64Array;
  /** e_t = y_t − μ. */
  resid: Float64Array;
  /** ω + α e²_T + β σ²_T: the variance forecast for the observation after the sample. */
  forecastVariance: number;
  /** State at the end of the sample: garchFilter(next, params, { state }) continues exactly. */
  state: GarchState;
  convergence: GarchConvergence;
}

export interface GarchFilterResult {
  conditionalVol: Float64Array;
  resid: Float64Array;
  loglik: number;
  forecastVariance: number;
  state: GarchState;
}

/**
 * How the variance recursion starts for data after a training sample: the training backcast
 * (σ²_0 = ω + (α+β)·backcast) or the training state (σ²_0 = ω + α·resid2 + β·sigma2, i.e. the
 * fit's forecastVariance). `dist` defaults to 't' when params.nu is set, else 'normal'.
 */
export type GarchFilterOptions = { dist?: GarchDist } & ({ backcast: number; state?: undefined } | { state: GarchState; backcast?: undefined });

const PARAM_KEYS = ['mu', 'omega', 'alpha', 'beta', 'nu'] as const;

function series(name: string, v: unknown, minLength: number): Float64Array {
  let a: Float64Array;
  if (v instanceof Float64Array) a = v;
  else if (Array.isArray(v) && v.every((x) => typeof x === 'number')) a = Float64Array.from(v as number[]);
  else throw invalid(name, 'Float64Array or array of numbers', v);
  if (a.length < minLength) throw invalid(`${name}.length`, `at least ${minLength}`, a.length);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new TypeError(`Expected finite values for ${name} but received ${describe(a[i])} at index ${i}`);
  }
  return a;
}

function distArg(v: unknown): GarchDist {
  if (v !== 'normal' && v !== 't') throw invalid('dist', "'normal' or 't'", v);
  return v;
}

function theta(params: GarchParams, dist: GarchDist | undefined): number[] {
  if (typeof params !== 'object' || params === null) throw invalid('params', 'an object { mu, omega, alpha, beta[, nu] }', params);
  const d = dist === undefined ? (params.nu === undefined ? 'normal' : 't') : distArg(dist);
  const num = (k: string, v: unknown, ok: (x: number) => boolean, what: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw invalid(`params.${k}`, what, v);
    return v;
  };
  const th = [
    num('mu', params.mu, () => true, 'finite number'),
    num('omega', params.omega, (x) => x > 0, 'positive number'),
    num('alpha', params.alpha, (x) => x >= 0, 'non-negative number'),
    num('beta', params.beta, (x) => x >= 0, 'non-negative number'),
  ];
  if (d === 't') th.push(num('nu', params.nu, (x) => x > 2, "number > 2 (dist 't')"));
  else if (params.nu !== undefined) throw invalid('params.nu', "undefined for dist 'normal'", params.nu);
  return th;
}

function toParams(v: number[]): GarchParams {
  const p: GarchParams = { mu: v[0]!, omega: v[1]!, alpha: v[2]!, beta: v[3]! };
  if (v.length === 5) p.nu = v[4]!;
  return p;
}

function fitOptions(o: GarchFitOptions): { dist: GarchDist; raw: Raw.JsGarchFitOptions } {
  if (typeof o !== 'object' || o === null) throw invalid('options', 'an object', o);
  const r: Raw.JsGarchFitOptions = {};
  if (o.maxIter !== undefined) r.maxIter = positiveInt('maxIter', o.maxIter);
  if (o.tol !== undefined && (typeof o.tol !== 'number' || !Number.isFinite(o.tol) || o.tol <= 0)) throw invalid('tol', 'positive number', o.tol);
  if (o.tol !== undefined) r.tol = o.tol;
  return { dist: distArg(o.dist ?? 'normal'), raw: r };
}

function fromRaw(f: Raw.JsGarchFit): GarchFit {
  const k = f.params.length;
  return {
    dist: f.dist as GarchDist,
    params: toParams(f.params),
    stdErrRobust: toParams(f.stdErrRobust),
    covRobust: Array.from({ length: k }, (_, i) => f.covRobust.slice(i * k, (i + 1) * k)),
    loglik: f.loglik,
    nobs: f.nobs,
    backcast: f.backcast,
    startingValues: toParams(f.startingValues),
    conditionalVol: f.conditionalVol,
    resid: f.resid,
    forecastVariance: f.forecastVariance,
    state: { resid2: f.stateResid2, sigma2: f.stateSigma2 },
    convergence: {
      converged: f.converged,
      iterations: f.iterations,
      evaluations: f.evaluations,
      reason: f.stopReason as GarchStopReason,
      gradNorm: f.gradNorm,
    },
  };
}

/** Shortest series garchFit accepts. */
export const GARCH_MIN_OBS = 10;

/**
 * Maximum-likelihood GARCH(1,1) with constant mean on y (percent log returns, y = 100·r).
 * Non-convergence is reported in `convergence`, not thrown.
 */
export function garchFit(y: Float64Array | readonly number[], options: GarchFitOptions = {}): GarchFit {
  const ys = series('y', y, GARCH_MIN_OBS);
  const o = fitOptions(options);
  return fromRaw(callSync(() => raw.garchFitSync(ys, o.dist, o.raw)));
}

/**
 * garchFit for many series in parallel on the engine's threads (one task per series), off the JS
 * thread. Results do not depend on the thread count. The series are copied before the work starts.
 * Argument errors throw synchronously; errors from the kernel reject.
 */
export function garchFitMany(ys: ReadonlyArray<Float64Array | readonly number[]>, options: GarchFitOptions = {}): Promise<GarchFit[]> {
  if (!Array.isArray(ys)) throw invalid('ys', 'an array of series', ys);
  const list = ys.map((y, i) => series(`ys[${i}]`, y, GARCH_MIN_OBS));
  const o = fitOptions(options);
  return callAsync(() => raw.garchFitMany(list, o.dist, o.raw)).then((out) => out.map(fromRaw));
}

/** arch's backcast of y: Σ_{i<τ} w_i (y_i − ȳ)², τ = min(75, T), w_i ∝ 0.94^i. */
export function garchBackcast(y: Float64Array | readonly number[]): number {
  const ys = series('y', y, 1);
  return callSync(() => raw.garchBackcastSync(ys));
}

/**
 * In-sample log-likelihood at fixed parameters, with the backcast of y itself (arch's
 * `model.fix(params).loglikelihood`). `dist` defaults to 't' when params.nu is set.
 * The backcast looks at y's first 75 observations: for out-of-sample use garchFilter.
 */
export function garchLoglik(y: Float64Array | readonly number[], params: GarchParams, dist?: GarchDist): number {
  const ys = series('y', y, 1);
  const th = theta(params, dist);
  return callSync(() => raw.garchFilterSync(ys, th, null)).loglik;
}

/**
 * Apply fixed (e.g. train-fitted) parameters to a series causally: σ_t uses only y_0..y_{t−1}
 * and the given start (the training backcast or state), never y's own future. Also returns the
 * log-likelihood of y and the variance forecast for the observation after it.
 */
export function garchFilter(y: Float64Array | readonly number[], params: GarchParams, options: GarchFilterOptions): GarchFilterResult {
  const ys = series('y', y, 0);
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object { backcast } or { state }', options);
  const th = theta(params, options.dist);
  let init: Raw.JsGarchInit;
  if (options.backcast !== undefined && options.state === undefined) {
    const b = options.backcast;
    if (typeof b !== 'number' || !Number.isFinite(b) || b < 0) throw invalid('options.backcast', 'non-negative finite number', b);
    init = { backcast: b };
  } else if (options.state !== undefined && options.backcast === undefined) {
    const s = options.state;
    const ok = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
    if (typeof s !== 'object' || s === null || !ok(s.resid2) || !ok(s.sigma2)) {
      throw invalid('options.state', 'an object { resid2, sigma2 } of non-negative finite numbers', s);
    }
    init = { resid2: s.resid2, sigma2: s.sigma2 };
  } else {
    throw invalid('options', 'exactly one of backcast or state', options);
  }
  const f = callSync(() => raw.garchFilterSync(ys, th, init));
  return {
    conditionalVol: f.conditionalVol,
    resid: f.resid,
    loglik: f.loglik,
    forecastVariance: f.forecastVariance,
    state: { resid2: f.stateResid2, sigma2: f.stateSigma2 },
  };
}

/** Parameter names in θ order for a distribution. */
export function garchParamNames(dist: GarchDist): readonly (keyof GarchParams)[] {
  return distArg(dist) === 't' ? PARAM_KEYS : PARAM_KEYS.slice(0, 4);
}
