// Training of one model spec: a run per seed on the native engine (early stopping on validation
// macro-F1), the best seed kept, then evaluation on every split with the baselines beside it,
// the LSTM's attention profile with a shuffled-time control, and the ONNX export.
import { nnAttentionSync, nnForwardSync, nnInit, nnLayout, nnTrain, type EpochReport, type NetInputs, type NetSpec } from '@regime/engine';
import { SPLIT_NAMES, type Split } from '@regime/features';
import { UserError } from '@regime/data';
import type { Dataset, SplitSamples } from './dataset.js';
import { classWeights } from './dataset.js';
import {
  argmaxRows,
  classificationMetrics,
  fitThresholds,
  majorityClass,
  perAssetAccuracy,
  persistencePredictions,
  thresholdPredictions,
  verdict,
  type Metrics,
  type Verdict,
} from './evaluate.js';
import { mulberry32 } from './random.js';
import { exportGraphOnnx, exportLstmOnnx, metadataToProps, type JsonValue, type ModelMetadata } from './onnx/index.js';

export interface SeedRun {
  seed: number;
  bestEpoch: number;
  bestValMacroF1: number;
  epochs: number;
  stoppedEarly: boolean;
  seconds: number;
  history: EpochReport[];
}

export interface SplitEvaluation {
  n: number;
  model: Metrics;
  baselines: { majority: Metrics; persistence: Metrics; threshold?: Metrics };
  verdict: Verdict;
  perAsset?: Record<string, { n: number; accuracy: number }>;
}

export interface AttentionProfile {
  /** Mean α by lag (index 0 = the window's last day, window−1 = its first), on `split`. */
  split: Split;
  byLag: number[];
  /** The same after shuffling each window's time order (a positional artefact survives this). */
  shuffledByLag: number[];
  /** Macro-F1 with time shuffled: how much the model relies on temporal order. */
  shuffledMacroF1: number;
  peakLag: number;
  shuffledPeakLag: number;
}

export interface TrainedModel {
  name: string;
  net: NetSpec;
  params: Float32Array;
  seed: number;
  seeds: SeedRun[];
  classNames: string[];
  evaluation: Partial<Record<Split, SplitEvaluation>>;
  attention?: AttentionProfile;
  selection?: Dataset['selection'];
  thresholds: number[];
  onnx: Uint8Array;
  metadata: ModelMetadata;
}

export interface TrainModelOptions {
  /** Override the spec's seeds / max epochs (e.g. a quick run). */
  seeds?: number[];
  maxEpochs?: number;
  /** Hash of the inputs (features + labels), stored in the model. */
  dataHash: string;
  splits: Record<string, JsonValue>;
  onEpoch?: (seed: number, r: EpochReport) => void;
}

export function netSpecOf(d: Dataset): NetSpec {
  const s = d.spec;
  const K = d.classNames.length;
  if (s.kind === 'lstm') {
    return { kind: 'lstm', features: d.featureNames.length, window: s.window, hidden1: s.network.hidden1, hidden2: s.network.hidden2, classes: K, dropout: s.network.dropout };
  }
  return { kind: 'graph', nodes: d.symbols.length, features: s.inputs.length, market: s.market_inputs.length, hidden: s.network.hidden, readout: s.network.readout, classes: K, dropout: s.network.dropout };
}

export function inputsOf(s: SplitSamples): NetInputs {
  return s.adj ? { x: s.x, adj: s.adj, mask: s.mask!, market: s.market! } : { x: s.x };
}

function evaluateSplit(d: Dataset, net: NetSpec, params: Float32Array, s: SplitSamples, fallback: number, cuts: number[]): SplitEvaluation {
  const probs = nnForwardSync(net, params, inputsOf(s));
  const pred = argmaxRows(probs, d.classNames.length);
  const model = classificationMetrics(s.y, pred, d.classNames);
  const baselines: SplitEvaluation['baselines'] = {
    majority: classificationMetrics(s.y, new Uint32Array(s.n).fill(fallback), d.classNames),
    persistence: classificationMetrics(s.y, persistencePredictions(s.persist, fallback), d.classNames),
  };
  if (cuts.length) baselines.threshold = classificationMetrics(s.y, thresholdPredictions(s.baselineValue, cuts, fallback), d.classNames);
  const out: SplitEvaluation = { n: s.n, model, baselines, verdict: verdict(model, baselines) };
  if (d.spec.kind === 'lstm') out.perAsset = perAssetAccuracy(s.y, pred, s.asset, d.symbols);
  return out;
}

function meanByLag(alpha: Float32Array, n: number, T: number): number[] {
  const out = new Array<number>(T).fill(0);
  for (let i = 0; i < n; i++) for (let t = 0; t < T; t++) out[T - 1 - t]! += alpha[i * T + t]! / n;
  return out;
}

/** SPEC B10.9: is the attention peak about content, or about position (initial state, first step)? */
export function attentionProfile(d: Dataset, net: NetSpec & { kind: 'lstm' }, params: Float32Array, split: Split, seed: number): AttentionProfile | undefined {
  const s = d.splits[split];
  if (!s.n) return undefined;
  const T = net.window;
  const F = net.features;
  const alpha = nnAttentionSync(net, params, { x: s.x });
  const shuffled = new Float32Array(s.x.length);
  const r = mulberry32(seed + 7919);
  const perm = Array.from({ length: T }, (_, t) => t);
  for (let i = 0; i < s.n; i++) {
    for (let t = T - 1; t > 0; t--) {
      const j = Math.floor(r() * (t + 1));
      [perm[t], perm[j]] = [perm[j]!, perm[t]!];
    }
    for (let t = 0; t < T; t++) shuffled.set(s.x.subarray((i * T + perm[t]!) * F, (i * T + perm[t]! + 1) * F), (i * T + t) * F);
  }
  const alphaShuffled = nnAttentionSync(net, params, { x: shuffled });
  const predShuffled = argmaxRows(nnForwardSync(net, params, { x: shuffled }), d.classNames.length);
  const byLag = meanByLag(alpha, s.n, T);
  const shuffledByLag = meanByLag(alphaShuffled, s.n, T);
  const peak = (v: number[]) => v.indexOf(Math.max(...v));
  return {
    split,
    byLag,
    shuffledByLag,
    shuffledMacroF1: classificationMetrics(s.y, predShuffled, d.classNames).macroF1,
    peakLag: peak(byLag),
    shuffledPeakLag: peak(shuffledByLag),
  };
}

export async function trainModel(d: Dataset, o: TrainModelOptions): Promise<TrainedModel> {
  const s = d.spec;
  const train = d.splits.train;
  const val = d.splits.validation;
  if (!train.n) throw new UserError(`${s.name}: no labelled training samples (check the splits against the data's dates)`);
  if (!val.n) throw new UserError(`${s.name}: no labelled validation samples; early stopping needs the validation split (check splits.trainEnd/validationEnd against the data)`);
  const net = netSpecOf(d);
  const K = d.classNames.length;
  const weights = classWeights(train.y, K);
  const seeds = o.seeds ?? s.training.seeds;
  const runs: Array<SeedRun & { params: Float32Array }> = [];
  for (const seed of seeds) {
    const t0 = performance.now();
    const r = await nnTrain(net, nnInit(net, seed), { inputs: inputsOf(train), labels: train.y }, { inputs: inputsOf(val), labels: val.y }, {
      lr: s.training.lr,
      weightDecay: s.training.weight_decay,
      batchSize: s.training.batch_size,
      maxEpochs: o.maxEpochs ?? s.training.max_epochs,
      patience: s.training.patience,
      clipNorm: s.training.clip_norm,
      seed,
      classWeights: weights,
      onEpoch: (rep) => {
        o.onEpoch?.(seed, rep);
      },
    });
    runs.push({ seed, params: r.params, bestEpoch: r.bestEpoch, bestValMacroF1: r.bestValMacroF1, epochs: r.history.length, stoppedEarly: r.stoppedEarly, seconds: (performance.now() - t0) / 1000, history: r.history });
  }
  // The seed is chosen on validation only; test and holdout are read once, after.
  const best = runs.reduce((a, b) => (b.bestValMacroF1 > a.bestValMacroF1 ? b : a));
  const fallback = majorityClass(train.y, K);
  const cuts = s.baseline_feature ? fitThresholds(train.baselineValue, train.y, K) : [];
  const evaluation: TrainedModel['evaluation'] = {};
  for (const split of SPLIT_NAMES) if (d.splits[split].n) evaluation[split] = evaluateSplit(d, net, best.params, d.splits[split], fallback, cuts);
  const attention = net.kind === 'lstm' ? attentionProfile(d, net, best.params, d.splits.test.n ? 'test' : 'validation', best.seed) : undefined;
  const metrics: Record<string, JsonValue> = {};
  for (const [split, e] of Object.entries(evaluation)) {
    metrics[split] = {
      n: e.n,
      accuracy: e.model.accuracy,
      balancedAccuracy: e.model.balancedAccuracy,
      macroF1: e.model.macroF1,
      persistenceMacroF1: e.baselines.persistence.macroF1,
      majorityMacroF1: e.baselines.majority.macroF1,
      ...(e.baselines.threshold ? { thresholdMacroF1: e.baselines.threshold.macroF1 } : {}),
      skill: e.verdict.skill,
    };
  }
  const metadata: ModelMetadata = {
    task: s.task,
    kind: s.kind,
    featureNames: d.featureNames,
    classNames: d.classNames,
    scaler: d.scaler,
    splits: o.splits,
    dataHash: o.dataHash,
    seed: best.seed,
    metrics,
    createdAt: new Date().toISOString(),
    spec: { model: s as unknown as JsonValue, net: net as unknown as JsonValue, ...(d.marketScaler ? { marketScaler: d.marketScaler } : {}), ...(d.selection ? { selection: d.selection as unknown as JsonValue } : {}) },
    ...(net.kind === 'graph' ? { marketFeatureNames: d.marketNames, nodeNames: d.symbols } : {}),
  };
  const layout = nnLayout(net);
  const props = metadataToProps(metadata);
  const onnx =
    net.kind === 'lstm'
      ? exportLstmOnnx({ spec: { features: net.features, window: net.window, hidden1: net.hidden1, hidden2: net.hidden2, classes: net.classes }, layout, params: best.params, metadata: props })
      : exportGraphOnnx({ spec: { nodes: net.nodes, features: net.features, market: net.market, hidden: net.hidden, readout: net.readout, classes: net.classes }, layout, params: best.params, metadata: props });
  return {
    name: s.name,
    net,
    params: best.params,
    seed: best.seed,
    seeds: runs.map(({ params: _p, ...r }) => r),
    classNames: d.classNames,
    evaluation,
    ...(attention ? { attention } : {}),
    ...(d.selection ? { selection: d.selection } : {}),
    thresholds: cuts,
    onnx,
    metadata,
  };
}
