// Feature selection on training rows only (SPEC B3): rank candidates by importance for a task's
// labels, then walk the pairs with |Spearman ρ| above a threshold and drop the less important
// member of each. SPEC's importance is LightGBM mean |SHAP|; with no tree library in the project
// yet, importance here is the univariate ANOVA F statistic of the feature across the classes —
// a stand-in that ranks the same way for the monotone, level-like features of the vol and trend
// groups, and is named as such wherever it is reported.

export interface SelectionInput {
  names: string[];
  /** Per candidate, its values on the training rows (same rows for all; finite). */
  columns: Float64Array[];
  /** Class of each training row. */
  labels: ArrayLike<number>;
  classes: number;
  /** Drop one of each pair with |ρ_Spearman| above this (SPEC: 0.85). */
  maxAbsSpearman: number;
}

export interface SelectionResult {
  kept: string[];
  dropped: Array<{ name: string; for: string; rho: number }>;
  importance: Record<string, number>;
  importanceKind: 'anova_f';
  rows: number;
}

/** Ranks 1..n with ties given their average rank (as scipy.stats.rankdata). */
export function ranks(v: Float64Array): Float64Array {
  const idx = Array.from(v.keys()).sort((a, b) => v[a]! - v[b]!);
  const r = new Float64Array(v.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]!] === v[idx[i]!]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]!] = avg;
    i = j + 1;
  }
  return r;
}

export function pearson(x: Float64Array, y: Float64Array): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const a = x[i]! - mx;
    const b = y[i]! - my;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : Number.NaN;
}

export function spearman(x: Float64Array, y: Float64Array): number {
  return pearson(ranks(x), ranks(y));
}

/** One-way ANOVA F = (between-class variance / (K−1)) / (within-class variance / (n−K)). */
export function anovaF(x: Float64Array, labels: ArrayLike<number>, classes: number): number {
  const n = x.length;
  const sum = new Float64Array(classes);
  const cnt = new Float64Array(classes);
  let total = 0;
  for (let i = 0; i < n; i++) {
    sum[labels[i]!]! += x[i]!;
    cnt[labels[i]!]! += 1;
    total += x[i]!;
  }
  const mean = total / n;
  let between = 0;
  let within = 0;
  const present = Array.from(cnt).filter((c) => c > 0).length;
  for (let c = 0; c < classes; c++) if (cnt[c]! > 0) between += cnt[c]! * (sum[c]! / cnt[c]! - mean) ** 2;
  for (let i = 0; i < n; i++) within += (x[i]! - sum[labels[i]!]! / cnt[labels[i]!]!) ** 2;
  if (present < 2 || n <= present) return Number.NaN;
  return within > 0 ? between / (present - 1) / (within / (n - present)) : Number.POSITIVE_INFINITY;
}

/**
 * Greedy pruning: candidates in decreasing importance; a candidate is dropped when its |ρ| with
 * an already kept, more important feature exceeds the threshold.
 */
export function selectFeatures(s: SelectionInput): SelectionResult {
  const n = s.labels.length;
  if (s.columns.length !== s.names.length) throw new Error(`selection: ${s.names.length} names but ${s.columns.length} columns`);
  for (const c of s.columns) if (c.length !== n) throw new Error(`selection: every column needs ${n} rows`);
  const importance: Record<string, number> = {};
  s.names.forEach((name, j) => (importance[name] = anovaF(s.columns[j]!, s.labels, s.classes)));
  const order = s.names.map((_, j) => j).sort((a, b) => (importance[s.names[b]!]! || 0) - (importance[s.names[a]!]! || 0) || a - b);
  const rk = s.columns.map(ranks);
  const kept: number[] = [];
  const dropped: SelectionResult['dropped'] = [];
  for (const j of order) {
    let worst: { k: number; rho: number } | undefined;
    for (const k of kept) {
      const rho = pearson(rk[j]!, rk[k]!);
      if (Math.abs(rho) > s.maxAbsSpearman && (!worst || Math.abs(rho) > Math.abs(worst.rho))) worst = { k, rho };
    }
    if (worst) dropped.push({ name: s.names[j]!, for: s.names[worst.k]!, rho: worst.rho });
    else kept.push(j);
  }
  // Kept features stay in the order the spec lists them (the model's input order).
  return { kept: s.names.filter((_, j) => kept.includes(j)), dropped, importance, importanceKind: 'anova_f', rows: n };
}
