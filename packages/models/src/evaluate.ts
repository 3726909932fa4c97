// Classification metrics and the baselines every model is read against (SPEC B5, B10.2–B10.4):
// majority class, persistence, and a threshold rule on an input. A model that does not beat
// persistence has no demonstrated skill, and the verdict says so.

export interface ClassStats {
  name: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Metrics {
  n: number;
  accuracy: number;
  balancedAccuracy: number;
  macroF1: number;
  perClass: ClassStats[];
  /** rows = true class, columns = predicted. */
  confusion: number[][];
}

/**
 * scikit-learn's definitions: macro-F1 averages over the classes present in y_true ∪ y_pred;
 * balanced accuracy is the mean recall over classes present in y_true.
 */
export function classificationMetrics(y: ArrayLike<number>, pred: ArrayLike<number>, names: string[]): Metrics {
  const K = names.length;
  const n = y.length;
  if (pred.length !== n) throw new Error(`metrics: ${n} labels but ${pred.length} predictions`);
  const confusion = names.map(() => new Array<number>(K).fill(0));
  let correct = 0;
  for (let i = 0; i < n; i++) {
    confusion[y[i]!]![pred[i]!]!++;
    if (y[i] === pred[i]) correct++;
  }
  const perClass: ClassStats[] = names.map((name, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { name, precision, recall, f1, support };
  });
  const present = perClass.filter((_, c) => perClass[c]!.support > 0 || confusion.some((row) => row[c]! > 0));
  const inTruth = perClass.filter((c) => c.support > 0);
  return {
    n,
    accuracy: n ? correct / n : Number.NaN,
    balancedAccuracy: inTruth.length ? inTruth.reduce((a, c) => a + c.recall, 0) / inTruth.length : Number.NaN,
    macroF1: present.length ? present.reduce((a, c) => a + c.f1, 0) / present.length : Number.NaN,
    perClass,
    confusion,
  };
}

export function argmaxRows(probs: ArrayLike<number>, k: number): Uint32Array {
  const n = probs.length / k;
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (probs[i * k + c]! > probs[i * k + best]!) best = c;
    out[i] = best;
  }
  return out;
}

export function majorityClass(y: ArrayLike<number>, k: number): number {
  const n = new Array<number>(k).fill(0);
  for (let i = 0; i < y.length; i++) n[y[i]!]!++;
  return n.indexOf(Math.max(...n));
}

/** Persistence: the label `max(1, horizon)` days before the target; the train majority where unknown. */
export function persistencePredictions(persist: ArrayLike<number>, fallback: number): Uint32Array {
  return Uint32Array.from({ length: persist.length }, (_, i) => (persist[i]! >= 0 ? persist[i]! : fallback));
}

/**
 * A threshold rule on one input: cut points at the train quantiles that reproduce the train
 * class shares, classes assumed ordered along the feature (true of vol by level, trend by
 * momentum, cross by correlation).
 */
export function fitThresholds(values: ArrayLike<number>, y: ArrayLike<number>, k: number): number[] {
  const v = Array.from(values).filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return [];
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < y.length; i++) if (Number.isFinite(values[i]!)) counts[y[i]!]!++;
  const cuts: number[] = [];
  let cum = 0;
  for (let c = 0; c < k - 1; c++) {
    cum += counts[c]!;
    cuts.push(v[Math.min(v.length - 1, Math.max(0, Math.round(cum) - 1))]!);
  }
  return cuts;
}

export function thresholdPredictions(values: ArrayLike<number>, cuts: number[], fallback: number): Uint32Array {
  return Uint32Array.from({ length: values.length }, (_, i) => {
    const v = values[i]!;
    if (!Number.isFinite(v) || !cuts.length) return fallback;
    let c = 0;
    while (c < cuts.length && v > cuts[c]!) c++;
    return c;
  });
}

export interface Verdict {
  skill: boolean;
  text: string;
}

/** Skill means beating the best of the baselines on macro-F1 (accuracy rewards the majority class). */
export function verdict(model: Metrics, baselines: Record<string, Metrics>): Verdict {
  const entries = Object.entries(baselines).filter(([, m]) => Number.isFinite(m.macroF1));
  if (!entries.length || !Number.isFinite(model.macroF1)) return { skill: false, text: 'no samples to judge' };
  const [bestName, best] = entries.reduce((a, b) => (b[1].macroF1 > a[1].macroF1 ? b : a));
  const d = model.macroF1 - best.macroF1;
  return d > 0
    ? { skill: true, text: `beats the best baseline (${bestName}) by ${(100 * d).toFixed(1)} macro-F1 points` }
    : { skill: false, text: `NO SKILL: does not beat the ${bestName} baseline (macro-F1 ${(100 * model.macroF1).toFixed(1)} vs ${(100 * best.macroF1).toFixed(1)})` };
}

/** Accuracy per asset (symbol → {n, accuracy}) for per-asset samples. */
export function perAssetAccuracy(y: ArrayLike<number>, pred: ArrayLike<number>, asset: ArrayLike<number>, symbols: string[]): Record<string, { n: number; accuracy: number }> {
  const out: Record<string, { n: number; accuracy: number }> = {};
  const hit = new Map<number, [number, number]>();
  for (let i = 0; i < y.length; i++) {
    const a = asset[i]!;
    if (a < 0) continue;
    const h = hit.get(a) ?? [0, 0];
    h[0]++;
    if (y[i] === pred[i]) h[1]++;
    hit.set(a, h);
  }
  for (const [a, [n, c]] of [...hit].sort((p, q) => p[0] - q[0])) out[symbols[a]!] = { n, accuracy: c / n };
  return out;
}
