// Label statistics: class counts, persistence, expected durations, and the adjusted Rand index.

/** Share of consecutive defined labels equal to the previous one (the persistence baseline every classifier must beat). */
export function persistence(labels: ArrayLike<number>): { rate: number; pairs: number } {
  let same = 0;
  let pairs = 0;
  for (let t = 1; t < labels.length; t++) {
    const a = labels[t - 1]!;
    const b = labels[t]!;
    if (a < 0 || b < 0) continue;
    pairs++;
    if (a === b) same++;
  }
  return { rate: pairs ? same / pairs : NaN, pairs };
}

export function counts(labels: ArrayLike<number>, k: number): number[] {
  const c = new Array<number>(k).fill(0);
  for (let t = 0; t < labels.length; t++) if (labels[t]! >= 0) c[labels[t]!]!++;
  return c;
}

/** Expected duration of each state from a transition matrix: 1 / (1 − p_ii). */
export function expectedDurations(transmat: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: k }, (_, i) => 1 / (1 - transmat[i * k + i]!));
}

/** Adjusted Rand index (Hubert & Arabie) between two labelings of the same items (negatives skipped). */
export function adjustedRandIndex(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const table = new Map<string, number>();
  const ra = new Map<number, number>();
  const rb = new Map<number, number>();
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x < 0 || y < 0) continue;
    n++;
    const key = `${x},${y}`;
    table.set(key, (table.get(key) ?? 0) + 1);
    ra.set(x, (ra.get(x) ?? 0) + 1);
    rb.set(y, (rb.get(y) ?? 0) + 1);
  }
  const c2 = (m: number) => (m * (m - 1)) / 2;
  let sumIj = 0;
  for (const v of table.values()) sumIj += c2(v);
  let sumA = 0;
  for (const v of ra.values()) sumA += c2(v);
  let sumB = 0;
  for (const v of rb.values()) sumB += c2(v);
  const expected = (sumA * sumB) / c2(n);
  const max = (sumA + sumB) / 2;
  return max === expected ? 1 : (sumIj - expected) / (max - expected);
}
