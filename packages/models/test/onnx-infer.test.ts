// OnnxModel: feature checks, batched run() input handling, and the CUDA-unavailable path.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CUDA_UNAVAILABLE_MESSAGE,
  describeNameMismatch,
  exportGraphOnnx,
  exportLstmOnnx,
  FeatureMismatchError,
  metadataToProps,
  OnnxModel,
  type ModelMetadata,
} from '../src/index.js';
import { graphLayout, lstmLayout, mulberry32, randomGraphInputs, randomLstmInput, randomParams, sampleMetadata } from './helpers/reference-forward.js';

const LSTM_SPEC = { features: 6, window: 30, hidden1: 64, hidden2: 32, classes: 5 };
const GRAPH_SPEC = { nodes: 13, features: 14, market: 4, hidden: 64, readout: 64, classes: 3 };
const FEATURES = ['f0', 'f1', 'f2', 'f3', 'f4', 'f5'];

function lstmBytes(): Uint8Array {
  const { layout, size } = lstmLayout(LSTM_SPEC);
  const metadata = metadataToProps(sampleMetadata('lstm', 6, 5) as ModelMetadata);
  return exportLstmOnnx({ spec: LSTM_SPEC, layout, params: randomParams(layout, size, mulberry32(1)), metadata });
}

async function graphModel(): Promise<OnnxModel> {
  const { layout, size } = graphLayout(GRAPH_SPEC);
  const meta: ModelMetadata = { ...sampleMetadata('graph', 14, 3), marketFeatureNames: ['m0', 'm1', 'm2', 'm3'], nodeNames: ['BTC', 'ETH', 'SOL', ...Array.from({ length: 10 }, (_, i) => `A${i}`)] };
  return OnnxModel.load(exportGraphOnnx({ spec: GRAPH_SPEC, layout, params: randomParams(layout, size, mulberry32(2)), metadata: metadataToProps(meta) }));
}

describe('checkInputs', () => {
  it('accepts the exact names in order', async () => {
    const model = await OnnxModel.load(lstmBytes());
    expect(() => model.checkInputs(FEATURES)).not.toThrow();
  });

  it('names a reordering', async () => {
    const model = await OnnxModel.load(lstmBytes());
    const swapped = ['f0', 'f2', 'f1', 'f3', 'f4', 'f5'];
    expect(() => model.checkInputs(swapped)).toThrow(FeatureMismatchError);
    expect(() => model.checkInputs(swapped)).toThrow(/features: order differs at position 1: expected 'f1', got 'f2'/);
  });

  it('names missing and unexpected features', async () => {
    const model = await OnnxModel.load(lstmBytes());
    expect(() => model.checkInputs(['f0', 'f1', 'f2', 'f3', 'f4', 'rsi'])).toThrow(/missing: f5; unexpected: rsi \(model expects \[f0, f1, f2, f3, f4, f5\], got \[f0, f1, f2, f3, f4, rsi\]\)/);
    expect(() => model.checkInputs(FEATURES.slice(0, 5))).toThrow(/missing: f5/);
  });

  it('checks market features and node order of graph models', async () => {
    const model = await graphModel();
    const features = Array.from({ length: 14 }, (_, i) => `f${i}`);
    const nodes = ['BTC', 'ETH', 'SOL', ...Array.from({ length: 10 }, (_, i) => `A${i}`)];
    expect(() => model.checkInputs(features, { marketFeatureNames: ['m0', 'm1', 'm2', 'm3'], nodeNames: nodes })).not.toThrow();
    expect(() => model.checkInputs(features, { marketFeatureNames: ['m0', 'm1', 'm2', 'mX'] })).toThrow(/market features: missing: m3; unexpected: mX/);
    expect(() => model.checkInputs(features, { nodeNames: ['ETH', 'BTC', ...nodes.slice(2)] })).toThrow(/nodes: order differs at position 0: expected 'BTC', got 'ETH'/);
  });

  it('describeNameMismatch: equal → null, duplicates reported', () => {
    expect(describeNameMismatch(['a', 'b'], ['a', 'b'])).toBeNull();
    expect(describeNameMismatch(['a', 'b'], ['a', 'b', 'b'])).toMatch(/duplicates/);
  });
});

describe('run()', () => {
  it('infers the batch, validates inputs', async () => {
    const model = await OnnxModel.load(lstmBytes());
    await expect(model.run({})).rejects.toThrow(/missing model input 'x'/);
    await expect(model.run({ x: new Float32Array(181) })).rejects.toThrow(/181 values, not a multiple of \[30, 6\]/);
    await expect(model.run({ x: new Float32Array(180), y: new Float32Array(1) })).rejects.toThrow(/unknown model inputs: y/);
    const empty = await model.run({ x: new Float32Array(0) });
    expect(empty['probs']?.dims).toEqual([0, 5]);
    expect(empty['attention']?.data.length).toBe(0);
  });

  it('rejects inconsistent batch sizes across graph inputs', async () => {
    const model = await graphModel();
    const g = randomGraphInputs(GRAPH_SPEC, 3, mulberry32(3));
    await expect(model.run({ ...g, market: g.market.subarray(0, 8) })).rejects.toThrow(/input 'market' has batch 2, other inputs have 3/);
    const out = await model.run({ ...g });
    expect(out['probs']?.dims).toEqual([3, 3]);
    for (let b = 0; b < 3; b++) {
      const row = Array.from(out['probs']?.data.subarray(b * 3, b * 3 + 3) ?? []);
      expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 6);
    }
  });

  it('splits large batches into chunks (4500 rows > 4096)', async () => {
    const model = await OnnxModel.load(lstmBytes(), { threads: 2 });
    const small = await OnnxModel.load(lstmBytes(), { chunkSize: 100_000 });
    const x = randomLstmInput(LSTM_SPEC, 4500, mulberry32(4));
    const a = await model.run({ x });
    const b = await small.run({ x });
    expect(a['probs']?.dims).toEqual([4500, 5]);
    let max = 0;
    const pa = a['probs']?.data ?? new Float32Array();
    const pb = b['probs']?.data ?? new Float32Array();
    for (let i = 0; i < pa.length; i++) max = Math.max(max, Math.abs((pa[i] as number) - (pb[i] as number)));
    expect(max).toBeLessThan(1e-6);
  });
});

describe('CUDA device', () => {
  // onnxruntime-node ships the CUDA EP as separately downloaded shared libraries.
  const binDir = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
  const cudaInstalled = existsSync(join(binDir, 'libonnxruntime_providers_cuda.so'));

  it.skipIf(cudaInstalled)('without the CUDA binaries, load fails with an actionable message', async () => {
    const err = await OnnxModel.load(lstmBytes(), { device: 'cuda' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(CUDA_UNAVAILABLE_MESSAGE);
    expect((err as Error).message).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 .*or use --device cpu/);
    // The original ORT error is kept as the cause for debugging.
    expect(String((err as Error).cause)).toMatch(/Cuda|shared library/i);
  });

  it.runIf(cudaInstalled)('with the CUDA binaries, loads and runs on device cuda', async () => {
    const model = await OnnxModel.load(lstmBytes(), { device: 'cuda' });
    const out = await model.run({ x: randomLstmInput(LSTM_SPEC, 2, mulberry32(5)) });
    expect(out['probs']?.dims).toEqual([2, 5]);
  });
});
