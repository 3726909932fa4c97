// Turns the daily feature table and the stored labels into training samples for one model spec:
// scaled float32 inputs, integer targets, and per sample what the baselines need. Everything
// fitted here (the scaler, the baseline's cut points) sees train rows only.
import { validMask, UserError, type BarSet } from '@regime/data';
import { rollingCorrMatrixSync } from '@regime/engine';
import { fitScaler, applyScaler, makeWindows, selectFeatures, splitStarts, splitOf, SPLIT_NAMES, type FeatureTable, type SelectionResult, type Split, type Splits, type ScalerManifest } from '@regime/features';
import type { GraphModelSpec, LstmModelSpec, ModelSpec } from './specs.js';
import type { TaskTargets } from './labels.js';

export interface SplitSamples {
  n: number;
  /** lstm: [n, window, F]; graph: [n, N, F]. */
  x: Float32Array;
  /** graph only: [n, N, N], [n, N], [n, G]. */
  adj?: Float32Array;
  mask?: Float32Array;
  market?: Float32Array;
  y: Uint32Array;
  /** The sample's asset (−1 for graph samples: one per day) and its last input row. */
  asset: Int32Array;
  row: Int32Array;
  /** The persistence baseline's guess: the label `max(1, horizon)` days before the target (−1 unknown). */
  persist: Int32Array;
  /** The baseline feature's raw value on the last input day (NaN if none). */
  baselineValue: Float64Array;
}

export interface Dataset {
  spec: ModelSpec;
  classNames: string[];
  /** Input names in model order; graph: node inputs (market inputs in `marketNames`). */
  featureNames: string[];
  marketNames: string[];
  symbols: string[];
  scaler: { mean: number[]; std: number[] };
  marketScaler?: { mean: number[]; std: number[] };
  /** Present when the spec asks for selection: what was kept and dropped, on train rows only. */
  selection?: SelectionResult;
  splits: Record<Split, SplitSamples>;
  /** Unix ms of the grid's first row and its step: row → time. */
  start: number;
  step: number;
}

const DAY = 86_400_000;

/** A table whose columns are the spec's inputs after their ln transform. */
function transformed(table: FeatureTable, names: string[], logs: string[]): FeatureTable {
  const values: Record<string, Float64Array[]> = {};
  for (const n of names) {
    const v = table.values[n];
    if (!v) throw new UserError(`model input '${n}' is not in the '${table.set}' feature table (features: ${table.names.join(', ')})`);
    values[n] = logs.includes(n) ? v.map((a) => a.map((x) => (x > 0 ? Math.log(x) : Number.NaN))) : v;
  }
  return { ...table, names, values };
}

/** Name the inputs with no value on any training day (e.g. GARCH skipped for a short train split). */
function requireTrainValues(t: FeatureTable, names: string[], starts: Record<Split, number>): void {
  const empty = names.filter((n) => !t.values[n]!.some((v, k) => {
    for (let r = starts.train; r < starts.validation; r++) if (t.listed[k]![r] && Number.isFinite(v[r]!)) return true;
    return false;
  }));
  if (!empty.length) return;
  const garch = empty.includes('GARCH_sigma') ? ` (GARCH_sigma: ${JSON.stringify(Object.values(t.meta.garch)[0] ?? {}).slice(0, 160)})` : '';
  throw new UserError(`input${empty.length > 1 ? 's' : ''} ${empty.join(', ')} ha${empty.length > 1 ? 've' : 's'} no value on any training day (rows ${starts.train}..${starts.validation - 1})${garch}`);
}

function scaled(table: FeatureTable, s: ScalerManifest): Float64Array[][] {
  const c = applyScaler(table, s);
  return s.columns.map((n) => c[n]!);
}

/** A model's inputs as recorded (names, ln transform, scaler), applied to a table: [feature][asset][row]. */
export function scaledColumns(table: FeatureTable, names: string[], logs: string[], scaler: { mean: number[]; std: number[] }): Float64Array[][] {
  const t = transformed(table, names, logs);
  return scaled(t, { kind: 'standard', mode: 'pooled', columns: names, mean: { '*': scaler.mean }, std: { '*': scaler.std }, fittedOn: { rowsBefore: 0, rows: {} } });
}

function emptySplit(): SplitSamples {
  return { n: 0, x: new Float32Array(0), y: new Uint32Array(0), asset: new Int32Array(0), row: new Int32Array(0), persist: new Int32Array(0), baselineValue: new Float64Array(0) };
}

/** The target row for input row t, or −1 when it has no label or lies in another split. */
function targetRow(t: number, horizon: number, length: number, starts: Record<Split, number>): number {
  const r = t + horizon;
  if (r >= length) return -1;
  return splitOf(r, starts) === splitOf(t, starts) ? r : -1;
}

function checkTargets(table: FeatureTable, targets: TaskTargets): void {
  if (targets.labels.length !== table.symbols.length) throw new UserError(`labels for task '${targets.task}' cover ${targets.labels.length} assets, features ${table.symbols.length}`);
}

/**
 * SPEC B3 selection on the train split: the candidates' (transformed) values on train days with
 * every candidate defined and a target label, pooled over assets.
 */
function selectOnTrain(tt: FeatureTable, targets: TaskTargets, spec: LstmModelSpec, starts: Record<Split, number>): SelectionResult {
  const names = spec.inputs;
  const cols: number[][] = names.map(() => []);
  const labels: number[] = [];
  for (let k = 0; k < tt.symbols.length; k++) {
    for (let t = starts.train; t < starts.validation; t++) {
      const r = targetRow(t, spec.horizon, tt.length, starts);
      if (!tt.listed[k]![t] || r < 0 || targets.labels[k]![r]! < 0) continue;
      if (!names.every((n) => Number.isFinite(tt.values[n]![k]![t]!))) continue;
      names.forEach((n, j) => cols[j]!.push(tt.values[n]![k]![t]!));
      labels.push(targets.labels[k]![r]!);
    }
  }
  if (labels.length < 10) throw new UserError(`${spec.name}: feature selection needs training rows with every candidate input; found ${labels.length}`);
  return selectFeatures({ names, columns: cols.map((c) => Float64Array.from(c)), labels, classes: targets.names.length, maxAbsSpearman: spec.selection!.max_abs_spearman });
}

export function buildLstmDataset(table: FeatureTable, targets: TaskTargets, spec: LstmModelSpec, splits: Splits): Dataset {
  checkTargets(table, targets);
  const L = spec.window;
  const starts = splitStarts(table, splits);
  const candidates = transformed(table, spec.inputs, spec.log_inputs);
  requireTrainValues(candidates, spec.inputs, starts);
  const selection = spec.selection ? selectOnTrain(candidates, targets, spec, starts) : undefined;
  const inputs = selection ? selection.kept : spec.inputs;
  const F = inputs.length;
  const tt = { ...candidates, names: inputs };
  const scaler = fitScaler(tt, { trainRows: starts.validation, trainFrom: starts.train, columns: inputs });
  const cols = scaled(tt, scaler);
  const raw = spec.baseline_feature ? table.values[spec.baseline_feature] : undefined;
  const windows = makeWindows(tt, splits, { length: L, embargo: spec.embargo, crossBoundary: true, columns: inputs });
  const by = new Map<Split, Array<{ k: number; t: number; r: number }>>(SPLIT_NAMES.map((s) => [s, []]));
  for (const w of windows) {
    const r = targetRow(w.end, spec.horizon, table.length, starts);
    if (r < 0 || targets.labels[w.asset]![r]! < 0) continue;
    by.get(w.split)!.push({ k: w.asset, t: w.end, r });
  }
  const out = {} as Record<Split, SplitSamples>;
  for (const split of SPLIT_NAMES) {
    const list = by.get(split)!;
    const n = list.length;
    if (!n) {
      out[split] = emptySplit();
      continue;
    }
    const s: SplitSamples = { n, x: new Float32Array(n * L * F), y: new Uint32Array(n), asset: new Int32Array(n), row: new Int32Array(n), persist: new Int32Array(n), baselineValue: new Float64Array(n) };
    list.forEach(({ k, t, r }, i) => {
      for (let l = 0; l < L; l++) for (let f = 0; f < F; f++) s.x[(i * L + l) * F + f] = cols[f]![k]![t - L + 1 + l]!;
      s.y[i] = targets.labels[k]![r]!;
      s.asset[i] = k;
      s.row[i] = t;
      const p = r - Math.max(1, spec.horizon);
      s.persist[i] = p >= 0 ? targets.labels[k]![p]! : -1;
      s.baselineValue[i] = raw ? raw[k]![t]! : Number.NaN;
    });
    out[split] = s;
  }
  return {
    spec,
    classNames: targets.names,
    featureNames: inputs,
    marketNames: [],
    symbols: table.symbols,
    scaler: { mean: scaler.mean['*']!, std: scaler.std['*']! },
    ...(selection ? { selection } : {}),
    splits: out,
    start: table.start,
    step: DAY,
  };
}

/** Daily log returns of every asset, time-major [T, N], NaN where a day is invalid or unlisted. */
export function logReturns(bars: BarSet): Float64Array {
  const N = bars.assets.length;
  const T = bars.length;
  const out = new Float64Array(T * N).fill(Number.NaN);
  bars.assets.forEach((a, k) => {
    const ok = validMask(a, bars.minCoverage);
    const c = a.bars.close;
    for (let t = 1; t < T; t++) if (ok[t] && ok[t - 1]) out[t * N + k] = Math.log(c[t]! / c[t - 1]!);
  });
  return out;
}

/** Edge weights a_ij = max(0, ρ_ij) from the correlation matrices [T, N, N]; NaN → 0, diagonal 0. */
export function edgeWeights(corr: Float64Array, N: number, t: number, out: Float32Array, offset: number): void {
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      const v = corr[t * N * N + i * N + j]!;
      out[offset + i * N + j] = i !== j && v > 0 ? v : 0;
    }
  }
}

/**
 * Writes graph `i` of `into` from day t of the scaled columns; false (nothing usable) when fewer
 * than two nodes are complete or the market row is not. Shared by training and inference.
 */
export function graphDay(
  t: number,
  node: Float64Array[][],
  market: Float64Array[][],
  listed: Uint8Array[],
  corr: Float64Array,
  N: number,
  into: { x: Float32Array; adj: Float32Array; mask: Float32Array; market: Float32Array },
  i: number,
): boolean {
  const F = node.length;
  const G = market.length;
  let present = 0;
  for (let k = 0; k < N; k++) {
    let ok = listed[k]![t] === 1;
    for (let f = 0; f < F && ok; f++) if (!Number.isFinite(node[f]![k]![t]!)) ok = false;
    into.mask[i * N + k] = ok ? 1 : 0;
    if (ok) present++;
    for (let f = 0; f < F; f++) into.x[(i * N + k) * F + f] = ok ? node[f]![k]![t]! : 0;
  }
  if (present < 2) return false;
  // Market features repeat on every asset's row; take them from any asset that has them.
  for (let g = 0; g < G; g++) {
    let v = Number.NaN;
    for (let k = 0; k < N && !Number.isFinite(v); k++) v = market[g]![k]![t]!;
    if (!Number.isFinite(v)) return false;
    into.market[i * G + g] = v;
  }
  edgeWeights(corr, N, t, into.adj, i * N * N);
  return true;
}

export function buildGraphDataset(table: FeatureTable, bars: BarSet, targets: TaskTargets, spec: GraphModelSpec, splits: Splits): Dataset {
  checkTargets(table, targets);
  if (bars.start !== table.start || bars.length !== table.length) throw new UserError('daily bars and the daily feature table are on different grids; re-run `regime features`');
  const N = table.symbols.length;
  const F = spec.inputs.length;
  const G = spec.market_inputs.length;
  const tt = transformed(table, spec.inputs, spec.log_inputs);
  const mt = transformed(table, spec.market_inputs, []);
  const starts = splitStarts(table, splits);
  requireTrainValues(tt, spec.inputs, starts);
  requireTrainValues(mt, spec.market_inputs, starts);
  const scaler = fitScaler(tt, { trainRows: starts.validation, trainFrom: starts.train, columns: spec.inputs });
  const mscaler = G ? fitScaler(mt, { trainRows: starts.validation, trainFrom: starts.train, columns: spec.market_inputs }) : undefined;
  const node = scaled(tt, scaler);
  const market = mscaler ? scaled(mt, mscaler) : [];
  const corr = rollingCorrMatrixSync(logReturns(bars), N, spec.edge_window);
  const raw = spec.baseline_feature ? table.values[spec.baseline_feature] : undefined;
  // The day's label: the same for every asset (a market-level task); take any asset's.
  const labelAt = (r: number) => {
    for (let k = 0; k < N; k++) if (targets.labels[k]![r]! >= 0) return targets.labels[k]![r]!;
    return -1;
  };
  const by = new Map<Split, Array<{ t: number; r: number }>>(SPLIT_NAMES.map((s) => [s, []]));
  for (let t = 0; t < table.length; t++) {
    const split = splitOf(t, starts);
    if (split === 'warmup') continue;
    const i = SPLIT_NAMES.indexOf(split);
    const next = i + 1 < SPLIT_NAMES.length ? starts[SPLIT_NAMES[i + 1]!] : Number.MAX_SAFE_INTEGER;
    if (t >= next - spec.embargo) continue;
    const r = targetRow(t, spec.horizon, table.length, starts);
    if (r < 0 || labelAt(r) < 0) continue;
    by.get(split)!.push({ t, r });
  }
  const out = {} as Record<Split, SplitSamples>;
  for (const split of SPLIT_NAMES) {
    const list = by.get(split)!;
    const cap = list.length;
    const s = {
      x: new Float32Array(cap * N * F),
      adj: new Float32Array(cap * N * N),
      mask: new Float32Array(cap * N),
      market: new Float32Array(cap * G),
    };
    const kept: Array<{ t: number; r: number }> = [];
    for (const d of list) if (graphDay(d.t, node, market, table.listed, corr, N, s, kept.length)) kept.push(d);
    const n = kept.length;
    if (!n) {
      out[split] = emptySplit();
      continue;
    }
    const firstAsset = (t: number) => table.symbols.findIndex((_, k) => raw && Number.isFinite(raw[k]![t]!));
    out[split] = {
      n,
      x: s.x.slice(0, n * N * F),
      adj: s.adj.slice(0, n * N * N),
      mask: s.mask.slice(0, n * N),
      market: s.market.slice(0, n * G),
      y: Uint32Array.from(kept, (d) => labelAt(d.r)),
      asset: new Int32Array(n).fill(-1),
      row: Int32Array.from(kept, (d) => d.t),
      persist: Int32Array.from(kept, (d) => (d.r - Math.max(1, spec.horizon) >= 0 ? labelAt(d.r - Math.max(1, spec.horizon)) : -1)),
      baselineValue: Float64Array.from(kept, (d) => {
        const k = firstAsset(d.t);
        return k >= 0 && raw ? raw[k]![d.t]! : Number.NaN;
      }),
    };
  }
  return {
    spec,
    classNames: targets.names,
    featureNames: spec.inputs,
    marketNames: spec.market_inputs,
    symbols: table.symbols,
    scaler: { mean: scaler.mean['*']!, std: scaler.std['*']! },
    ...(mscaler ? { marketScaler: { mean: mscaler.mean['*']!, std: mscaler.std['*']! } } : {}),
    splits: out,
    start: table.start,
    step: DAY,
  };
}

/** Class weights w_c = N / (K · n_c) from the train labels (SPEC B5); 0 for a class absent from train. */
export function classWeights(y: Uint32Array, k: number): number[] {
  const n = new Array<number>(k).fill(0);
  for (const c of y) n[c]!++;
  return n.map((c) => (c > 0 ? y.length / (k * c) : 0));
}

export function describeDataset(d: Dataset): string {
  return SPLIT_NAMES.map((s) => `${s} ${d.splits[s].n}`).join(', ');
}
