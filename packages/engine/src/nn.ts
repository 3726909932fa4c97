// The neural kernels: parameter layouts, seeded init, inference forward, attention weights and
// training off the JS thread with per-epoch progress. Layout and equations: docs/neural.md.
import { raw, type Raw } from './raw.js';
import { callAsync, callSync } from './errors.js';
import { invalid, positiveInt, nonNegativeInt, finiteNumber } from './validate.js';

export interface LstmNetSpec {
  kind: 'lstm';
  features: number;
  window: number;
  hidden1: number;
  hidden2: number;
  classes: number;
  dropout: number;
}

export interface GraphNetSpec {
  kind: 'graph';
  nodes: number;
  features: number;
  market: number;
  hidden: number;
  readout: number;
  classes: number;
  dropout: number;
}

export type NetSpec = LstmNetSpec | GraphNetSpec;

/** lstm: x [n, window, features]. graph: x [n, nodes, features], adj [n, nodes, nodes], mask [n, nodes], market [n, market]. */
export interface NetInputs {
  x: Float32Array;
  adj?: Float32Array;
  mask?: Float32Array;
  market?: Float32Array;
}

export interface ParamTensor {
  name: string;
  shape: number[];
  offset: number;
}

export interface TrainOptions {
  lr?: number;
  weightDecay?: number;
  batchSize?: number;
  maxEpochs?: number;
  patience?: number;
  clipNorm?: number;
  seed?: number;
  /** Per-class loss weights (length = classes); default all 1. */
  classWeights?: number[];
  /** Samples per deterministic gradient chunk (does not depend on threads). */
  chunk?: number;
  /** Each epoch's report; return false to stop training (the best parameters so far are kept). */
  onEpoch?: (r: EpochReport) => boolean | void;
}

export type EpochReport = Raw.JsEpochReport;

export interface TrainResult {
  params: Float32Array;
  bestEpoch: number;
  bestValMacroF1: number;
  history: EpochReport[];
  stoppedEarly: boolean;
  cancelled: boolean;
}

function rawSpec(s: NetSpec): Raw.JsNetSpec {
  if (s === null || typeof s !== 'object') throw invalid('spec', 'a network spec object', s);
  const common = { features: positiveInt('spec.features', s.features), classes: positiveInt('spec.classes', s.classes), dropout: finiteNumber('spec.dropout', s.dropout) };
  if (s.kind === 'lstm') return { kind: 'lstm', ...common, window: positiveInt('spec.window', s.window), hidden1: positiveInt('spec.hidden1', s.hidden1), hidden2: positiveInt('spec.hidden2', s.hidden2) };
  if (s.kind === 'graph') {
    return {
      kind: 'graph',
      ...common,
      nodes: positiveInt('spec.nodes', s.nodes),
      market: nonNegativeInt('spec.market', s.market),
      hidden: positiveInt('spec.hidden', s.hidden),
      readout: positiveInt('spec.readout', s.readout),
    };
  }
  throw invalid('spec.kind', "'lstm' or 'graph'", (s as { kind?: unknown }).kind);
}

function rawInputs(name: string, i: NetInputs): Raw.JsNetInputs {
  if (i === null || typeof i !== 'object' || !(i.x instanceof Float32Array)) throw invalid(`${name}.x`, 'a Float32Array', i?.x);
  const out: Raw.JsNetInputs = { x: i.x };
  for (const k of ['adj', 'mask', 'market'] as const) {
    const v = i[k];
    if (v === undefined) continue;
    if (!(v instanceof Float32Array)) throw invalid(`${name}.${k}`, 'a Float32Array', v);
    out[k] = v;
  }
  return out;
}

function params(p: Float32Array): Float32Array {
  if (!(p instanceof Float32Array)) throw invalid('params', 'a Float32Array', p);
  return p;
}

/** The parameter tensors of a network, in order, with their offsets in the flat array. */
export function nnLayout(spec: NetSpec): ParamTensor[] {
  return callSync(() => raw.nnLayout(rawSpec(spec)));
}

export function nnParamCount(spec: NetSpec): number {
  return nnLayout(spec).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
}

/** Seeded initial parameters (PyTorch-like uniform ranges). */
export function nnInit(spec: NetSpec, seed: number): Float32Array {
  return callSync(() => raw.nnInit(rawSpec(spec), nonNegativeInt('seed', seed)));
}

/** Class probabilities [n, classes], dropout off. Blocks the JS thread while the pool works. */
export function nnForwardSync(spec: NetSpec, p: Float32Array, inputs: NetInputs): Float32Array {
  return callSync(() => raw.nnForwardSync(rawSpec(spec), params(p), rawInputs('inputs', inputs)));
}

/** The LSTM's attention weights α [n, window] (each row sums to 1). */
export function nnAttentionSync(spec: LstmNetSpec, p: Float32Array, inputs: NetInputs): Float32Array {
  return callSync(() => raw.nnAttentionSync(rawSpec(spec), params(p), rawInputs('inputs', inputs)));
}

/**
 * Train from `init` on the engine's threads; resolves with the parameters of the best epoch by
 * validation macro-F1 (early stopping with `patience`). Same seed → same weights at any thread count.
 */
export function nnTrain(
  spec: NetSpec,
  init: Float32Array,
  train: { inputs: NetInputs; labels: Uint32Array },
  validation: { inputs: NetInputs; labels: Uint32Array },
  o: TrainOptions = {},
): Promise<TrainResult> {
  const cfg: Raw.JsTrainConfig = {
    lr: finiteNumber('lr', o.lr ?? 1e-3),
    weightDecay: finiteNumber('weightDecay', o.weightDecay ?? 1e-5),
    batchSize: positiveInt('batchSize', o.batchSize ?? 64),
    maxEpochs: positiveInt('maxEpochs', o.maxEpochs ?? 100),
    patience: positiveInt('patience', o.patience ?? 10),
    clipNorm: finiteNumber('clipNorm', o.clipNorm ?? 1),
    seed: nonNegativeInt('seed', o.seed ?? 0),
    classWeights: o.classWeights ?? [],
  };
  if (o.chunk !== undefined) cfg.chunk = positiveInt('chunk', o.chunk);
  for (const [n, l] of [['train.labels', train.labels], ['validation.labels', validation.labels]] as const) {
    if (!(l instanceof Uint32Array)) throw invalid(n, 'a Uint32Array', l);
  }
  const user = o.onEpoch;
  let received = 0;
  let allDelivered: (() => void) | undefined;
  let expected = Infinity;
  let thrown: { error: unknown } | undefined;
  const onEpoch = user
    ? (r: Raw.JsEpochReport): boolean => {
        received++;
        let go = true;
        try {
          if (thrown === undefined) go = user(r) !== false;
        } catch (e) {
          thrown = { error: e };
        }
        if (received >= expected) allDelivered?.();
        return go && thrown === undefined;
      }
    : undefined;
  return callAsync(() =>
    raw.nnTrain(rawSpec(spec), params(init), rawInputs('train.inputs', train.inputs), train.labels, rawInputs('validation.inputs', validation.inputs), validation.labels, cfg, onEpoch),
  ).then(
    async (r) => {
      if (onEpoch) {
        // Reports are queued from the pool; the Promise may settle before the last one runs.
        expected = r.history.length;
        if (received < expected) await new Promise<void>((res) => (allDelivered = res));
      }
      if (thrown !== undefined) throw thrown.error;
      return { params: r.params, bestEpoch: r.bestEpoch, bestValMacroF1: r.bestValMacroF1, history: r.history, stoppedEarly: r.stoppedEarly, cancelled: r.cancelled };
    },
    (e: unknown) => {
      throw thrown !== undefined ? thrown.error : e;
    },
  );
}
