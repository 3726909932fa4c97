// The newest input a trained model can be run on, built from the stored features with the
// model's own recorded transform and scaler (never refitted) and the same code that built its
// training samples: for an LSTM, one asset's last complete window; for the graph network, the
// last day with a complete graph.
import type { BarSet } from '@regime/data';
import { UserError } from '@regime/data';
import { rollingCorrMatrixSync } from '@regime/engine';
import type { FeatureTable } from '@regime/features';
import { graphDay, logReturns, scaledColumns } from './dataset.js';
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

function requireFeatures(table: FeatureTable, names: string[]): void {
  const missing = names.filter((n) => !table.values[n]);
  if (missing.length) throw new UserError(`the model needs feature${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which the feature table lacks; re-run \`regime features\` or retrain`);
}

const DAY = 86_400_000;

export function latestLstmInput(table: FeatureTable, meta: ModelMetadata, symbol: string): LatestInput | undefined {
  const k = table.symbols.indexOf(symbol);
  if (k < 0) throw new UserError(`unknown asset '${symbol}' (assets: ${table.symbols.join(', ')})`);
  requireFeatures(table, meta.featureNames);
  const r = recorded(meta);
  const cols = scaledColumns(table, meta.featureNames, r.log, meta.scaler);
  const F = cols.length;
  const L = r.window;
  let run = 0;
  let end = -1;
  for (let t = 0; t < table.length; t++) {
    run = table.listed[k]![t] && cols.every((c) => Number.isFinite(c[k]![t]!)) ? run + 1 : 0;
    if (run >= L) end = t;
  }
  if (end < 0) return undefined;
  const x = new Float32Array(L * F);
  for (let l = 0; l < L; l++) for (let j = 0; j < F; j++) x[l * F + j] = cols[j]![k]![end - L + 1 + l]!;
  return { inputs: { x }, row: end, time: table.start + end * DAY };
}

export function latestGraphInput(table: FeatureTable, bars: BarSet, meta: ModelMetadata): LatestInput | undefined {
  const nodes = meta.nodeNames ?? [];
  if (nodes.length !== table.symbols.length || nodes.some((s, i) => s !== table.symbols[i])) {
    throw new UserError(`the graph model was trained on assets [${nodes.join(', ')}] but the data has [${table.symbols.join(', ')}]; retrain with \`regime train\``);
  }
  const market = meta.marketFeatureNames ?? [];
  requireFeatures(table, [...meta.featureNames, ...market]);
  const r = recorded(meta);
  const N = nodes.length;
  const node = scaledColumns(table, meta.featureNames, r.log, meta.scaler);
  const mkt = market.length ? scaledColumns(table, market, [], r.marketScaler ?? { mean: market.map(() => 0), std: market.map(() => 1) }) : [];
  const corr = rollingCorrMatrixSync(logReturns(bars), N, r.edgeWindow);
  const into = { x: new Float32Array(N * node.length), adj: new Float32Array(N * N), mask: new Float32Array(N), market: new Float32Array(market.length) };
  for (let t = table.length - 1; t >= 0; t--) {
    if (graphDay(t, node, mkt, table.listed, corr, N, into, 0)) return { inputs: into, row: t, time: table.start + t * DAY };
  }
  return undefined;
}
