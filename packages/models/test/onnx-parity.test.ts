// ORT running the exported graphs must compute the docs/neural.md forwards: compare against
// the independent float64 reference within 1e-5 at the real sizes.
import { describe, expect, it } from 'vitest';
import { exportGraphOnnx, exportLstmOnnx, metadataToProps, OnnxModel, type ModelMetadata } from '../src/index.js';
import {
  graphForward,
  graphLayout,
  lstmForward,
  lstmLayout,
  mulberry32,
  randomGraphInputs,
  randomLstmInput,
  randomParams,
  sampleMetadata,
  type GraphInputs,
  type GraphSpec,
  type LstmSpec,
} from './helpers/reference-forward.js';

const TOL = 1e-5;
const LSTM_SPEC: LstmSpec = { features: 6, window: 30, hidden1: 64, hidden2: 32, classes: 5 };
const GRAPH_SPEC: GraphSpec = { nodes: 13, features: 14, market: 4, hidden: 64, readout: 64, classes: 3 };

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

async function lstmModel(seed: number, spec = LSTM_SPEC, scale = 1, chunkSize?: number) {
  const { layout, size } = lstmLayout(spec);
  const params = randomParams(layout, size, mulberry32(seed), scale);
  const metadata = metadataToProps(sampleMetadata('lstm', spec.features, spec.classes) as ModelMetadata);
  const bytes = exportLstmOnnx({ spec, layout, params, metadata });
  const model = await OnnxModel.load(bytes, chunkSize === undefined ? {} : { chunkSize });
  return { layout, params, model };
}

async function graphModel(seed: number, spec = GRAPH_SPEC) {
  const { layout, size } = graphLayout(spec);
  const params = randomParams(layout, size, mulberry32(seed));
  const metadata = metadataToProps(sampleMetadata('graph', spec.features, spec.classes) as ModelMetadata);
  const bytes = exportGraphOnnx({ spec, layout, params, metadata });
  return { layout, params, model: await OnnxModel.load(bytes) };
}

describe('lstm ONNX parity with the reference forward', () => {
  for (const batch of [1, 4, 33]) {
    it(`batch ${batch}`, async () => {
      const { layout, params, model } = await lstmModel(100 + batch);
      const x = randomLstmInput(LSTM_SPEC, batch, mulberry32(7 + batch));
      const out = await model.run({ x });
      const ref = lstmForward(LSTM_SPEC, layout, params, x, batch);
      expect(out['probs']?.dims).toEqual([batch, 5]);
      expect(out['attention']?.dims).toEqual([batch, 30]);
      expect(maxAbsDiff(out['probs']?.data ?? [], ref.probs)).toBeLessThan(TOL);
      expect(maxAbsDiff(out['attention']?.data ?? [], ref.attention)).toBeLessThan(TOL);
      await model.dispose();
    });
  }

  it('large weights (saturated gates, peaked attention)', async () => {
    const { layout, params, model } = await lstmModel(5, LSTM_SPEC, 4);
    const x = randomLstmInput(LSTM_SPEC, 8, mulberry32(9));
    const out = await model.run({ x });
    const ref = lstmForward(LSTM_SPEC, layout, params, x, 8);
    expect(maxAbsDiff(out['probs']?.data ?? [], ref.probs)).toBeLessThan(TOL);
    expect(maxAbsDiff(out['attention']?.data ?? [], ref.attention)).toBeLessThan(TOL);
  });

  it('other sizes (window 5, 3 features, 2 classes)', async () => {
    const spec: LstmSpec = { features: 3, window: 5, hidden1: 8, hidden2: 4, classes: 2 };
    const { layout, params, model } = await lstmModel(11, spec);
    const x = randomLstmInput(spec, 6, mulberry32(12));
    const out = await model.run({ x });
    const ref = lstmForward(spec, layout, params, x, 6);
    expect(maxAbsDiff(out['probs']?.data ?? [], ref.probs)).toBeLessThan(TOL);
    expect(maxAbsDiff(out['attention']?.data ?? [], ref.attention)).toBeLessThan(TOL);
  });

  it('chunked run equals a single run', async () => {
    const chunked = await lstmModel(21, LSTM_SPEC, 1, 7);
    const whole = await lstmModel(21);
    const x = randomLstmInput(LSTM_SPEC, 30, mulberry32(22));
    const a = await chunked.model.run({ x });
    const b = await whole.model.run({ x });
    expect(a['probs']?.dims).toEqual([30, 5]);
    expect(maxAbsDiff(a['probs']?.data ?? [], b['probs']?.data ?? [])).toBeLessThan(1e-6);
    expect(maxAbsDiff(a['attention']?.data ?? [], b['attention']?.data ?? [])).toBeLessThan(1e-6);
  });
});

describe('graph ONNX parity with the reference forward', () => {
  const check = async (inputs: GraphInputs, batch: number, seed = 1) => {
    const { layout, params, model } = await graphModel(seed);
    const out = await model.run({ ...inputs });
    const ref = graphForward(GRAPH_SPEC, layout, params, inputs, batch);
    expect(out['probs']?.dims).toEqual([batch, 3]);
    expect(maxAbsDiff(out['probs']?.data ?? [], ref)).toBeLessThan(TOL);
    await model.dispose();
    return { out: out['probs']?.data ?? new Float32Array(), ref };
  };

  for (const batch of [1, 5, 64]) {
    it(`batch ${batch}`, async () => {
      await check(randomGraphInputs(GRAPH_SPEC, batch, mulberry32(300 + batch)), batch, 200 + batch);
    });
  }

  it('masked nodes do not influence the output', async () => {
    const rng = mulberry32(41);
    const inputs = randomGraphInputs(GRAPH_SPEC, 2, rng, 0.8, 0);
    const N = GRAPH_SPEC.nodes;
    const F = GRAPH_SPEC.features;
    for (const node of [0, 5, 12]) inputs.mask[N + node] = 0; // batch row 1 only
    const { out } = await check(inputs, 2);
    // Scrambling an absent node's features and edges must not change its graph's probs.
    const scrambled = { ...inputs, x: inputs.x.slice(), adj: inputs.adj.slice() };
    for (let f = 0; f < F; f++) scrambled.x[(N + 5) * F + f] = 100 * (f + 1);
    for (let j = 0; j < N; j++) if (j !== 5) scrambled.adj[(N + 5) * N + j] = scrambled.adj[(N + j) * N + 5] = 7;
    const again = await check(scrambled, 2);
    expect(maxAbsDiff(again.out.subarray(3, 6), out.subarray(3, 6))).toBeLessThan(1e-6);
  });

  it('a node with no neighbours', async () => {
    const inputs = randomGraphInputs(GRAPH_SPEC, 3, mulberry32(42), 0.7, 0);
    const N = GRAPH_SPEC.nodes;
    for (let b = 0; b < 3; b++) {
      for (let j = 0; j < N; j++) inputs.adj[(b * N + 4) * N + j] = inputs.adj[(b * N + j) * N + 4] = 0;
    }
    await check(inputs, 3);
  });

  it('all-zero adjacency', async () => {
    const inputs = randomGraphInputs(GRAPH_SPEC, 4, mulberry32(43));
    inputs.adj.fill(0);
    await check(inputs, 4);
  });

  it('a fully masked graph (empty day) pools to zero without NaN', async () => {
    const inputs = randomGraphInputs(GRAPH_SPEC, 2, mulberry32(44));
    inputs.mask.fill(0, 0, GRAPH_SPEC.nodes);
    const { out } = await check(inputs, 2);
    expect(Array.from(out).every(Number.isFinite)).toBe(true);
  });

  it('fractional edge weights and a dense graph', async () => {
    await check(randomGraphInputs(GRAPH_SPEC, 8, mulberry32(45), 1, 0), 8, 9);
  });
});
