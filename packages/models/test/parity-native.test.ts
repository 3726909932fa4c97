// Native forward (the Rust kernels that trained the weights) against ONNX Runtime on the exported
// graph: equal within 1e-5 for every model type, at the real sizes, with seeded and trained
// parameters; plus the golden fixtures of onnx/ (export bytes stable, outputs unchanged).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as engine from '@regime/engine';
import type { GraphNetSpec, LstmNetSpec, NetInputs } from '@regime/engine';
import { exportGraphOnnx, exportLstmOnnx, metadataToProps, mulberry32, OnnxModel } from '../src/index.js';
import { REPO } from '../../../tests/helpers/shared.js';

const rng = (seed: number) => {
  const u = mulberry32(seed);
  return () => u() - 0.5;
};

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const lstmExport = (n: LstmNetSpec) => ({ features: n.features, window: n.window, hidden1: n.hidden1, hidden2: n.hidden2, classes: n.classes });
const graphExport = (n: GraphNetSpec) => ({ nodes: n.nodes, features: n.features, market: n.market, hidden: n.hidden, readout: n.readout, classes: n.classes });

function metaFor(net: LstmNetSpec | GraphNetSpec): Record<string, string> {
  const names = (n: number, p: string) => Array.from({ length: n }, (_, i) => `${p}${i}`);
  return metadataToProps({
    task: 'parity',
    kind: net.kind,
    featureNames: names(net.features, 'f'),
    classNames: names(net.classes, 'c'),
    scaler: { mean: new Array<number>(net.features).fill(0), std: new Array<number>(net.features).fill(1) },
    splits: {},
    dataHash: 'parity',
    seed: 0,
    metrics: {},
    createdAt: '2026-01-01T00:00:00.000Z',
    spec: {},
    ...(net.kind === 'graph' ? { marketFeatureNames: names(net.market, 'm'), nodeNames: names(net.nodes, 'n') } : {}),
  });
}

async function ort(bytes: Uint8Array, inputs: NetInputs): Promise<Record<string, Float32Array>> {
  const m = await OnnxModel.load(bytes);
  try {
    const feeds: Record<string, Float32Array> = { x: inputs.x };
    if (inputs.adj) Object.assign(feeds, { adj: inputs.adj, mask: inputs.mask!, market: inputs.market! });
    const out = await m.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data]));
  } finally {
    await m.dispose();
  }
}

function lstmInputs(n: LstmNetSpec, batch: number, seed: number): NetInputs {
  const r = rng(seed);
  return { x: new Float32Array(batch * n.window * n.features).map(() => 3 * r()) };
}

function graphInputs(n: GraphNetSpec, batch: number, seed: number): NetInputs {
  const r = rng(seed);
  const N = n.nodes;
  return {
    x: new Float32Array(batch * N * n.features).map(() => 3 * r()),
    adj: new Float32Array(batch * N * N).map((_, i) => (Math.floor(i / N) % N === i % N ? 0 : Math.max(0, r() + 0.1))),
    // Some assets not yet listed on some days, one day with a single node.
    mask: Float32Array.from({ length: batch * N }, (_, i) => (i % 7 === 3 || (Math.floor(i / N) === 1 && i % N > 0) ? 0 : 1)),
    market: new Float32Array(batch * n.market).map(() => 2 * r()),
  };
}

const MODELS: Array<[string, LstmNetSpec | GraphNetSpec]> = [
  ['vol LSTM', { kind: 'lstm', features: 5, window: 30, hidden1: 64, hidden2: 32, classes: 4, dropout: 0.3 }],
  ['trend LSTM', { kind: 'lstm', features: 6, window: 30, hidden1: 64, hidden2: 32, classes: 5, dropout: 0.3 }],
  ['cross graph network', { kind: 'graph', nodes: 13, features: 14, market: 4, hidden: 64, readout: 64, classes: 3, dropout: 0.3 }],
];

describe('native forward = ONNX Runtime (≤ 1e-5)', () => {
  for (const [name, net] of MODELS) {
    it(`${name}: seeded and trained parameters, batches 1 and 97`, async () => {
      const layout = engine.nnLayout(net);
      const metadata = metaFor(net);
      const exportOf = (p: Float32Array) =>
        net.kind === 'lstm' ? exportLstmOnnx({ spec: lstmExport(net), layout, params: p, metadata }) : exportGraphOnnx({ spec: graphExport(net), layout, params: p, metadata });
      const inputsOf = (b: number, s: number) => (net.kind === 'lstm' ? lstmInputs(net, b, s) : graphInputs(net, b, s));
      // A few epochs of training move the weights away from the init's ranges.
      const tr = inputsOf(256, 1);
      const labels = Uint32Array.from({ length: 256 }, (_, i) => i % net.classes);
      const trained = await engine.nnTrain(net, engine.nnInit(net, 1), { inputs: tr, labels }, { inputs: inputsOf(64, 2), labels: labels.subarray(0, 64) }, { maxEpochs: 3, patience: 5, lr: 0.01, seed: 1 });
      for (const params of [engine.nnInit(net, 4), trained.params]) {
        const bytes = exportOf(params);
        for (const b of [1, 97]) {
          const inputs = inputsOf(b, 10 + b);
          const native = engine.nnForwardSync(net, params, inputs);
          const out = await ort(bytes, inputs);
          expect(maxAbsDiff(native, out.probs!)).toBeLessThanOrEqual(1e-5);
          if (net.kind === 'lstm') expect(maxAbsDiff(engine.nnAttentionSync(net, params, inputs), out.attention!)).toBeLessThanOrEqual(1e-5);
        }
      }
    });
  }
});

describe('golden ONNX fixtures (onnx/)', () => {
  for (const name of ['lstm-tiny', 'graph-tiny']) {
    it(`${name}: the exporter reproduces the file byte for byte; ORT and native give the stored probabilities`, async () => {
      const j = JSON.parse(readFileSync(join(REPO, 'onnx', `${name}.json`), 'utf8'));
      const golden = new Uint8Array(readFileSync(join(REPO, 'onnx', `${name}.onnx`)));
      const f32 = (s: string) => {
        const b = Buffer.from(s, 'base64');
        return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      };
      const params = f32(j.params);
      const inputs = Object.fromEntries(Object.entries(j.inputs as Record<string, string>).map(([k, v]) => [k, f32(v)])) as unknown as NetInputs;
      const m = await OnnxModel.load(golden);
      const props = m.metadataProps;
      await m.dispose();
      const layout = engine.nnLayout(j.net);
      const again = j.net.kind === 'lstm' ? exportLstmOnnx({ spec: j.exportSpec, layout, params, metadata: props }) : exportGraphOnnx({ spec: j.exportSpec, layout, params, metadata: props });
      expect(Buffer.from(again).equals(Buffer.from(golden))).toBe(true);
      const native = engine.nnForwardSync(j.net, params, inputs);
      const out = await ort(golden, inputs);
      expect(maxAbsDiff(native, out.probs!)).toBeLessThanOrEqual(1e-5);
      expect(maxAbsDiff(native, j.probs)).toBeLessThanOrEqual(1e-6);
    });
  }
});
