// An HMM labelling task (SPEC B4): fitted on training days only, pooled over assets as separate
// sequences, GMM-initialised; states named by their emission means so refits give the same names;
// Viterbi paths per asset and split as TARGETS, and forward-filtered probabilities as the only
// signal later models or live decisions may use.
import * as E from '@regime/engine';
import type { FeatureTable } from '@regime/features';
import { splitOf, splitStarts, type Split, type Splits } from '@regime/features';
import { UserError } from '@regime/data';

export interface HmmTaskSpec {
  task: 'vol' | 'trend';
  /** Observation columns of the observation table, in order. */
  columns: string[];
  /** Names from the lowest to the highest mean of `orderBy`. */
  names: string[];
  /** Column index whose state mean orders the states. */
  orderBy: number;
  seed: number;
  nIter?: number;
  tol?: number;
}

export interface TaskLabels {
  task: string;
  names: string[];
  /** Per asset: label index per row (−1 where undefined). Viterbi within each split: targets only. */
  labels: Int32Array[];
  /** Per asset: T × K forward-filtered probabilities P(z_t | x_1..x_t) (NaN where undefined). */
  filtered: Float64Array[];
  /** Per asset: split per row. */
  splitOfRow: (t: number) => Split | 'warmup';
  model?: FittedTask;
  thresholds?: { q33: number; q67: number; trainDays: number };
  notes: string[];
}

export interface FittedTask {
  hmm: E.HmmModel;
  /** state index → name (states are stored sorted by the ordering mean, so this is the names in order). */
  mapping: string[];
  columns: string[];
  trainRows: number;
  /** The training days, e.g. "2020-01-01..2022-12-31". */
  trainWindow: string;
  sequences: number;
  observations: number;
  fit: { loglikHistory: number[]; nIter: number; converged: boolean; reason: string; finalScore: number };
  init: 'gmm';
}

interface Runs {
  /** [asset, start, end) contiguous runs of complete observations. */
  runs: Array<[number, number, number]>;
}

/** Contiguous runs of rows where the asset is listed and every column is finite, within [lo, hi). */
function completeRuns(t: FeatureTable, columns: string[], lo: number, hi: number): Runs {
  const runs: Array<[number, number, number]> = [];
  t.symbols.forEach((_, k) => {
    let s = -1;
    for (let i = lo; i <= hi; i++) {
      const ok = i < hi && t.listed[k]![i] && columns.every((c) => Number.isFinite(t.values[c]![k]![i]!));
      if (ok && s < 0) s = i;
      if (!ok && s >= 0) {
        runs.push([k, s, i]);
        s = -1;
      }
    }
  });
  return { runs };
}

function gather(t: FeatureTable, columns: string[], runs: Array<[number, number, number]>): { X: Float64Array; lengths: number[] } {
  const D = columns.length;
  const n = runs.reduce((s, [, a, b]) => s + (b - a), 0);
  const X = new Float64Array(n * D);
  let row = 0;
  for (const [k, a, b] of runs) for (let i = a; i < b; i++, row++) columns.forEach((c, j) => (X[row * D + j] = t.values[c]![k]![i]!));
  return { X, lengths: runs.map(([, a, b]) => b - a) };
}

/** The same model with states permuted so state i is the i-th in `order`. */
export function permuteStates(m: E.HmmModel, order: number[]): E.HmmModel {
  const K = m.nStates;
  const D = m.nFeatures;
  const per = m.covarianceType === 'full' ? D * D : m.covarianceType === 'diag' ? D : m.covarianceType === 'spherical' ? 1 : 0;
  const covars = per ? new Float64Array(m.covars.length) : m.covars.slice();
  const means = new Float64Array(K * D);
  const startprob = new Float64Array(K);
  const transmat = new Float64Array(K * K);
  order.forEach((old, i) => {
    startprob[i] = m.startprob[old]!;
    means.set(m.means.subarray(old * D, old * D + D), i * D);
    if (per) covars.set(m.covars.subarray(old * per, old * per + per), i * per);
    order.forEach((old2, j) => (transmat[i * K + j] = m.transmat[old * K + old2]!));
  });
  return { ...m, startprob, transmat, means, covars };
}

export async function fitHmmTask(t: FeatureTable, splits: Splits, spec: HmmTaskSpec, onProgress?: (iteration: number, loglik: number) => void): Promise<FittedTask> {
  const starts = splitStarts(t, splits);
  const { runs } = completeRuns(t, spec.columns, starts.train, starts.validation);
  const { X, lengths } = gather(t, spec.columns, runs);
  const K = spec.names.length;
  const D = spec.columns.length;
  if (lengths.reduce((a, b) => a + b, 0) < 10 * K) {
    throw new UserError(`${spec.task} labels: only ${X.length / D} complete training days in ${splits.trainStart ?? 'start'}..${splits.trainEnd}; the HMM needs the train split inside the data`);
  }
  // SPEC B4: GMM initialisation (full, n_init 10), uniform startprob, 0.95 on the transition diagonal.
  const gmm = await E.gmmFit(X, D, { k: K, covarianceType: 'full', nInit: 10, seed: spec.seed });
  const init: E.HmmModel = {
    nStates: K,
    nFeatures: D,
    covarianceType: 'full',
    startprob: new Float64Array(K).fill(1 / K),
    transmat: Float64Array.from({ length: K * K }, (_, i) => (Math.floor(i / K) === i % K ? 0.95 : 0.05 / (K - 1))),
    means: Float64Array.from(gmm.means),
    covars: Float64Array.from(gmm.covariances),
  };
  const fit = await E.hmmFit(X, D, {
    nStates: K,
    covarianceType: 'full',
    nIter: spec.nIter ?? 200,
    tol: spec.tol ?? 1e-4,
    init,
    params: 'stmc',
    lengths,
    seed: spec.seed,
    ...(onProgress ? { onProgress: (p: { iteration: number; loglik: number }) => onProgress(p.iteration, p.loglik) } : {}),
  });
  // Stable names: order states by the mean of the ordering column.
  const order = Array.from({ length: K }, (_, i) => i).sort((a, b) => fit.model.means[a * D + spec.orderBy]! - fit.model.means[b * D + spec.orderBy]!);
  return {
    hmm: permuteStates(fit.model, order),
    mapping: spec.names,
    columns: spec.columns,
    trainRows: starts.validation,
    trainWindow: `${splits.trainStart ?? new Date(t.start).toISOString().slice(0, 10)}..${splits.trainEnd}`,
    sequences: lengths.length,
    observations: X.length / D,
    fit: { loglikHistory: fit.loglikHistory, nIter: fit.nIter, converged: fit.converged, reason: fit.reason, finalScore: fit.finalScore },
    init: 'gmm',
  };
}

/** Apply a frozen model: Viterbi within each split and within the warm-up before it (targets), forward filter over each asset's history (signals). */
export function decodeHmmTask(t: FeatureTable, splits: Splits, task: string, m: FittedTask, notes: string[] = []): TaskLabels {
  const starts = splitStarts(t, splits);
  const K = m.hmm.nStates;
  const labels = t.symbols.map(() => new Int32Array(t.length).fill(-1));
  const filtered = t.symbols.map(() => new Float64Array(t.length * K).fill(NaN));
  const bounds: Array<[number, number]> = [
    [0, starts.train],
    [starts.train, starts.validation],
    [starts.validation, starts.test],
    [starts.test, starts.holdout],
    [starts.holdout, t.length],
  ];
  // Viterbi sees only its own split: a training label never depends on later days.
  for (const [lo, hi] of bounds) {
    if (hi <= lo) continue;
    for (const [k, a, b] of completeRuns(t, m.columns, lo, hi).runs) {
      const { X } = gather(t, m.columns, [[k, a, b]]);
      const v = E.hmmViterbi(m.hmm, X);
      labels[k]!.set(v.path, a);
    }
  }
  for (const [k, a, b] of completeRuns(t, m.columns, 0, t.length).runs) {
    const { X } = gather(t, m.columns, [[k, a, b]]);
    filtered[k]!.set(E.hmmFiltered(m.hmm, X), a * K);
  }
  return { task, names: m.mapping, labels, filtered, splitOfRow: (r) => splitOf(r, starts), model: m, notes };
}

/** numpy's default (linear) quantile of the finite values. */
export function quantile(values: number[], q: number): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const pos = (v.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return v[lo]! + (v[hi]! - v[lo]!) * (pos - lo);
}

/**
 * The cross-sectional task: tertiles of the market's average pairwise correlation on training
 * days only, frozen; divergent below q33, convergent above q67, normal between. Labels are
 * causal by construction (today's correlation, fixed thresholds).
 */
export function crossTask(t: FeatureTable, splits: Splits, column = 'avg_pairwise_corr'): TaskLabels {
  const starts = splitStarts(t, splits);
  const x = t.values[column]![0]!; // market level: the same series on every asset
  const train = Array.from(x.subarray(starts.train, starts.validation)).filter(Number.isFinite);
  if (train.length < 30) throw new UserError(`cross labels: only ${train.length} training days with ${column}; the train split must lie inside the data`);
  const q33 = quantile(train, 1 / 3);
  const q67 = quantile(train, 2 / 3);
  const names = ['divergent', 'normal', 'convergent'];
  const labels = t.symbols.map((_, k) =>
    Int32Array.from({ length: t.length }, (_, i) => {
      const v = x[i]!;
      if (!t.listed[k]![i] || !Number.isFinite(v)) return -1;
      return v < q33 ? 0 : v > q67 ? 2 : 1;
    }),
  );
  const filtered = labels.map((l) => {
    const p = new Float64Array(l.length * 3).fill(NaN);
    l.forEach((c, i) => {
      if (c >= 0) {
        p.fill(0, i * 3, i * 3 + 3);
        p[i * 3 + c] = 1;
      }
    });
    return p;
  });
  return {
    task: 'cross',
    names,
    labels,
    filtered,
    splitOfRow: (r) => splitOf(r, starts),
    thresholds: { q33, q67, trainDays: train.length },
    notes: ['threshold rule (no HMM): the label is observable, so its "probabilities" are one-hot'],
  };
}
