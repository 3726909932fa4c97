#!/usr/bin/env node
// Writes the small golden ONNX fixtures of onnx/ (used by packages/models/test/parity-native.test.ts):
// per model type a tiny network with seeded parameters, its exported graph, and a JSON with the
// parameters, a batch of inputs and the native forward's probabilities. Re-run only when the
// export format changes on purpose: `node tools/golden-onnx.mjs` (after `npm run build`).
import * as engine from '@regime/engine';
import { exportGraphOnnx, exportLstmOnnx, metadataToProps, mulberry32 } from '@regime/models';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'onnx');

const rng = (seed) => {
  const u = mulberry32(seed);
  return () => u() - 0.5;
};

const meta = (kind, featureNames, classNames, extra = {}) =>
  metadataToProps({
    task: 'golden',
    kind,
    featureNames,
    classNames,
    scaler: { mean: featureNames.map(() => 0), std: featureNames.map(() => 1) },
    splits: {},
    dataHash: 'golden',
    seed: 11,
    metrics: {},
    createdAt: '2026-01-01T00:00:00.000Z',
    spec: {},
    ...extra,
  });

const b64 = (f32) => Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength).toString('base64');

function write(name, net, exportSpec, inputs, bytes) {
  const params = engine.nnInit(net, 11);
  const onnx = bytes(params);
  const probs = engine.nnForwardSync(net, params, inputs);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, `${name}.onnx`), onnx);
  const json = { net, exportSpec, params: b64(params), inputs: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, b64(v)])), probs: Array.from(probs) };
  writeFileSync(join(OUT, `${name}.json`), JSON.stringify(json, null, 1) + '\n');
  process.stderr.write(`written ${name}.onnx (${onnx.length} bytes) and ${name}.json\n`);
}

const r = rng(3);
const lstm = { kind: 'lstm', features: 3, window: 6, hidden1: 5, hidden2: 4, classes: 3, dropout: 0.3 };
const lspec = { features: 3, window: 6, hidden1: 5, hidden2: 4, classes: 3 };
write('lstm-tiny', lstm, lspec, { x: new Float32Array(4 * 6 * 3).map(() => 3 * r()) }, (p) =>
  exportLstmOnnx({ spec: lspec, layout: engine.nnLayout(lstm), params: p, metadata: meta('lstm', ['f0', 'f1', 'f2'], ['a', 'b', 'c']) }),
);

const graph = { kind: 'graph', nodes: 4, features: 3, market: 2, hidden: 5, readout: 4, classes: 3, dropout: 0.3 };
const gspec = { nodes: 4, features: 3, market: 2, hidden: 5, readout: 4, classes: 3 };
const B = 3;
const adj = new Float32Array(B * 16).map((_, i) => (Math.floor(i / 4) % 4 === i % 4 ? 0 : Math.max(0, r() + 0.2)));
const mask = Float32Array.from({ length: B * 4 }, (_, i) => (i === 3 || i === 9 ? 0 : 1));
write('graph-tiny', graph, gspec, { x: new Float32Array(B * 12).map(() => 3 * r()), adj, mask, market: new Float32Array(B * 2).map(() => 2 * r()) }, (p) =>
  exportGraphOnnx({ spec: gspec, layout: engine.nnLayout(graph), params: p, metadata: meta('graph', ['f0', 'f1', 'f2'], ['a', 'b', 'c'], { marketFeatureNames: ['m0', 'm1'], nodeNames: ['A', 'B', 'C', 'D'] }) }),
);
