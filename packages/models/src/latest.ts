// The newest input a trained model can be run on, built from the stored features with the
// model's own recorded transform and scaler (never refitted): for an LSTM, one asset's last
// complete window; for the graph network, the last day with a complete graph.
import type { BarSet } from '@regime/data';
import { UserError } from '@regime/data';
import { rollingCorrMatrixSync } from '@regime/engine';
import type { FeatureTable } from '@regime/features';
import { edgeWeights, logReturns } from './dataset.js';
import type { ModelMetadata } from './onnx/index.js';

export interface LatestInput {
  inputs: Record<string, Float32Array>;
  /** Row of the last input day and its open time (ms). */
  row: number;
  time: number;
}

interface Recorded {
  log: string[];
  window: number;
  marketScaler?: { mean: number[]; std: number[] };
  edgeWindow: number;
}

function recorded(meta: ModelMetadata): Recorded {
  const spec = meta.spec as { model?: { log_inputs?: string[]; window?: number; edge_window?: number }; marketScaler?: { mean: number[]; std: number[] } };
  const m = spec.model ?? {};
  return { log: m.log_inputs ?? [], window: m.window ?? 1, edgeWindow: m.edge_window ?? 30, ...(spec.marketScaler ? { marketScaler: spec.marketScaler } : {}) };
}

function column(table: FeatureTable, name: string, k: number): Float64Array {
  const v = table.values[name]?.[k];
  if (!v) throw new UserError(`the model needs feature '${name}', which the feature table lacks; re-run \`regime features\` or retrain`);
  return v;
}

/** Scaled value of input j at (k, t), NaN where undefined. */
function scaledAt(table: FeatureTable, names: string[], log: string[], scaler: { mean: number[]; std: number[] }, j: number, k: number, t: number): number {
  let x = column(table, names[j]!, k)[t]!;
  if (log.includes(names[j]!)) x = x > 0 ? Math.log(x) : Number.NaN;
  return (x - scaler.mean[j]!) / scaler.std[j]!;
}

export function latestLstmInput(table: FeatureTable, meta: ModelMetadata, symbol: string): LatestInput | undefined {
  const k = table.symbols.indexOf(symbol);
  if (k < 0) throw new UserError(`unknown asset '${symbol}' (assets: ${table.symbols.join(', ')})`);
  const r = recorded(meta);
  const F = meta.featureNames.length;
  const L = r.window;
  let run = 0;
  let end = -1;
  for (let t = 0; t < table.length; t++) {
    let ok = table.listed[k]![t] === 1;
    for (let j = 0; j < F && ok; j++) ok = Number.isFinite(scaledAt(table, meta.featureNames, r.log, meta.scaler, j, k, t));
    run = ok ? run + 1 : 0;
    if (run >= L) end = t;
  }
  if (end < 0) return undefined;
  const x = new Float32Array(L * F);
  for (let l = 0; l < L; l++) for (let j = 0; j < F; j++) x[l * F + j] = scaledAt(table, meta.featureNames, r.log, meta.scaler, j, k, end - L + 1 + l);
  return { inputs: { x }, row: end, time: table.start + end * 86_400_000 };
}

export function latestGraphInput(table: FeatureTable, bars: BarSet, meta: ModelMetadata): LatestInput | undefined {
  const nodes = meta.nodeNames ?? [];
  if (nodes.length !== table.symbols.length || nodes.some((s, i) => s !== table.symbols[i])) {
    throw new UserError(`the graph model was trained on assets [${nodes.join(', ')}] but the data has [${table.symbols.join(', ')}]; retrain with \`regime train\``);
  }
  const r = recorded(meta);
  const N = nodes.length;
  const F = meta.featureNames.length;
  const market = meta.marketFeatureNames ?? [];
  const G = market.length;
  const corr = rollingCorrMatrixSync(logReturns(bars), N, r.edgeWindow);
  for (let t = table.length - 1; t >= 0; t--) {
    const x = new Float32Array(N * F);
    const mask = new Float32Array(N);
    let present = 0;
    for (let k = 0; k < N; k++) {
      let ok = table.listed[k]![t] === 1;
      const row = new Float32Array(F);
      for (let j = 0; j < F && ok; j++) {
        row[j] = scaledAt(table, meta.featureNames, r.log, meta.scaler, j, k, t);
        ok = Number.isFinite(row[j]!);
      }
      if (!ok) continue;
      x.set(row, k * F);
      mask[k] = 1;
      present++;
    }
    if (present < 2) continue;
    const m = new Float32Array(G);
    let ok = true;
    for (let g = 0; g < G && ok; g++) {
      let v = Number.NaN;
      for (let k = 0; k < N && !Number.isFinite(v); k++) v = column(table, market[g]!, k)[t]!;
      const s = r.marketScaler;
      m[g] = s ? (v - s.mean[g]!) / s.std[g]! : v;
      ok = Number.isFinite(m[g]!);
    }
    if (!ok) continue;
    const adj = new Float32Array(N * N);
    edgeWeights(corr, N, t, adj, 0);
    return { inputs: { x, adj, mask, market: m }, row: t, time: table.start + t * 86_400_000 };
  }
  return undefined;
}
