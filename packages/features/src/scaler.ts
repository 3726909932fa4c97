// A standard scaler fitted on training rows only (pooled over assets, or per asset), stored with
// the column order it was fitted on. Applying it to a table with other columns, or the same
// columns in another order, is an error: the seed's misordered-columns bug cannot happen here.
import type { FeatureTable } from './compute.js';
import { FeatureError } from './errors.js';

export interface ScalerManifest {
  kind: 'standard';
  mode: 'pooled' | 'per_asset';
  columns: string[];
  /** pooled: one vector; per_asset: symbol → vector. */
  mean: Record<string, number[]>;
  std: Record<string, number[]>;
  fittedOn: { rowsBefore: number; rows: Record<string, number> };
}

const POOLED = '*';

/**
 * Fit on rows trainFrom ≤ t < trainRows where the asset is listed and every column is finite. std is the
 * population std (ddof 0, as scikit-learn); a constant column gets std 1 so it maps to 0.
 */
export function fitScaler(table: FeatureTable, o: { trainRows: number; trainFrom?: number; columns?: string[]; mode?: 'pooled' | 'per_asset' }): ScalerManifest {
  const columns = o.columns ?? table.names;
  for (const c of columns) if (!table.values[c]) throw new FeatureError(`scaler: no feature '${c}' in the table`);
  const mode = o.mode ?? 'pooled';
  const groups = mode === 'pooled' ? [[POOLED, table.symbols.map((_, k) => k)] as const] : table.symbols.map((s, k) => [s, [k]] as const);
  const mean: Record<string, number[]> = {};
  const std: Record<string, number[]> = {};
  const rows: Record<string, number> = {};
  for (const [key, assets] of groups) {
    const D = columns.length;
    const n = new Float64Array(1);
    const m = new Float64Array(D);
    const m2 = new Float64Array(D);
    for (const k of assets) {
      for (let t = o.trainFrom ?? 0; t < Math.min(o.trainRows, table.length); t++) {
        if (!table.listed[k]![t]) continue;
        let ok = true;
        for (const c of columns) if (!Number.isFinite(table.values[c]![k]![t]!)) ok = false;
        if (!ok) continue;
        n[0]! += 1;
        // Welford: stable for features with large means.
        columns.forEach((c, j) => {
          const v = table.values[c]![k]![t]!;
          const d = v - m[j]!;
          m[j]! += d / n[0]!;
          m2[j]! += d * (v - m[j]!);
        });
      }
    }
    if (n[0] === 0) throw new FeatureError(`scaler: no complete training rows${key === POOLED ? '' : ` for ${key}`} before row ${o.trainRows}; is the train split inside the data?`);
    mean[key] = Array.from(m);
    std[key] = Array.from(m2, (s) => {
      const sd = Math.sqrt(s / n[0]!);
      return sd > 0 ? sd : 1;
    });
    rows[key] = n[0]!;
  }
  return { kind: 'standard', mode, columns, mean, std, fittedOn: { rowsBefore: o.trainRows, rows } };
}

/** Scaled copies of the manifest's columns, in the manifest's order. */
export function applyScaler(table: FeatureTable, s: ScalerManifest, columns: string[] = s.columns): Record<string, Float64Array[]> {
  if (columns.length !== s.columns.length || columns.some((c, j) => c !== s.columns[j])) {
    throw new FeatureError(`scaler: column order mismatch: fitted on [${s.columns.join(', ')}] but given [${columns.join(', ')}]`);
  }
  const out: Record<string, Float64Array[]> = {};
  s.columns.forEach((c, j) => {
    const v = table.values[c];
    if (!v) throw new FeatureError(`scaler: the table has no column '${c}' the scaler was fitted on`);
    out[c] = v.map((arr, k) => {
      const key = s.mode === 'pooled' ? POOLED : table.symbols[k]!;
      const mu = s.mean[key]?.[j];
      const sd = s.std[key]?.[j];
      if (mu === undefined || sd === undefined) throw new FeatureError(`scaler: no statistics for ${key}`);
      return arr.map((x) => (x - mu) / sd);
    });
  });
  return out;
}
