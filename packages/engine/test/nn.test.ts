// The neural kernels through the JS boundary: layout contract, seeded init, training off the JS
// thread with per-epoch progress and cancellation, determinism across thread counts, errors.
import { afterAll, describe, expect, it } from 'vitest';
import * as engine from '@regime/engine';
import type { GraphNetSpec, LstmNetSpec } from '@regime/engine';
import { mulberry32 } from '@regime/models';

const lstm: LstmNetSpec = { kind: 'lstm', features: 6, window: 30, hidden1: 64, hidden2: 32, classes: 5, dropout: 0.3 };
const small: LstmNetSpec = { kind: 'lstm', features: 3, window: 8, hidden1: 16, hidden2: 8, classes: 3, dropout: 0.2 };
const graph: GraphNetSpec = { kind: 'graph', nodes: 5, features: 3, market: 2, hidden: 8, readout: 8, classes: 3, dropout: 0.2 };

const rng = (seed: number) => {
  const u = mulberry32(seed);
  return () => u() - 0.5;
};

/** Class = which third of the range the mean of channel 0 over the window falls in: learnable, needs the sequence. */
function task(n: number, seed: number, s = small) {
  const r = rng(seed);
  const x = new Float32Array(n * s.window * s.features).map(() => 2 * r());
  const y = Uint32Array.from({ length: n }, (_, i) => {
    let m = 0;
    for (let t = 0; t < s.window; t++) m += x[(i * s.window + t) * s.features]!;
    m /= s.window;
    return m < -0.12 ? 0 : m > 0.12 ? 2 : 1;
  });
  return { x, y };
}

const threads0 = engine.threads();
afterAll(() => {
  engine.setThreads(threads0);
});

describe('nn layout and init', () => {
  it('follows docs/neural.md: names, shapes, offsets; SPEC B5 size ≈ 30k parameters', () => {
    const l = engine.nnLayout(lstm);
    expect(l.map((t) => t.name)).toEqual(['lstm1.W', 'lstm1.R', 'lstm1.b', 'attn.q', 'lstm2.W', 'lstm2.R', 'lstm2.b', 'out.W', 'out.b']);
    expect(l.map((t) => t.shape)).toEqual([[256, 6], [256, 64], [256], [64], [128, 64], [128, 32], [128], [5, 32], [5]]);
    let off = 0;
    for (const t of l) {
      expect(t.offset).toBe(off);
      off += t.shape.reduce((a, b) => a * b, 1);
    }
    expect(engine.nnParamCount(lstm)).toBe(18176 + 64 + 12416 + 165);
    expect(engine.nnLayout(graph).map((t) => t.name)).toEqual(['g1.Ws', 'g1.Wn', 'g1.b', 'g2.Ws', 'g2.Wn', 'g2.b', 'mlp1.W', 'mlp1.b', 'out.W', 'out.b']);
  });

  it('init is seeded', () => {
    const a = engine.nnInit(lstm, 1);
    expect(a.length).toBe(engine.nnParamCount(lstm));
    expect(engine.nnInit(lstm, 1)).toEqual(a);
    expect(engine.nnInit(lstm, 2)).not.toEqual(a);
    const bound = 1 / Math.sqrt(64);
    expect(Math.max(...a.subarray(0, 256 * 6).map(Math.abs))).toBeLessThanOrEqual(bound);
  });
});

describe('nn training', () => {
  const tr = task(600, 1);
  const va = task(200, 2);

  it('learns a sequence task, reports every epoch, keeps the best epoch', async () => {
    const reports: engine.EpochReport[] = [];
    const r = await engine.nnTrain(small, engine.nnInit(small, 0), { inputs: { x: tr.x }, labels: tr.y }, { inputs: { x: va.x }, labels: va.y }, {
      lr: 0.01,
      batchSize: 32,
      maxEpochs: 25,
      patience: 25,
      seed: 0,
      onEpoch: (rep) => {
        reports.push(rep);
      },
    });
    expect(reports.map((p) => p.epoch)).toEqual(Array.from({ length: r.history.length }, (_, i) => i + 1));
    expect(r.bestValMacroF1).toBe(Math.max(...reports.map((p) => p.valMacroF1)));
    expect(r.bestValMacroF1).toBeGreaterThan(0.85);
    expect(reports.at(-1)!.trainLoss).toBeLessThan(reports[0]!.trainLoss);
    // The returned parameters are the best epoch's: their validation predictions score its F1.
    const probs = engine.nnForwardSync(small, r.params, { x: va.x });
    let hit = 0;
    for (let i = 0; i < va.y.length; i++) {
      const row = Array.from(probs.subarray(i * 3, i * 3 + 3));
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      if (row.indexOf(Math.max(...row)) === va.y[i]) hit++;
    }
    expect(hit / va.y.length).toBeCloseTo(reports[r.bestEpoch - 1]!.valAccuracy, 6);
    const alpha = engine.nnAttentionSync(small, r.params, { x: va.x.subarray(0, 8 * 3 * 4) });
    expect(alpha.length).toBe(4 * 8);
    expect(alpha.subarray(0, 8).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('gives bit-identical weights at 1 and 2 threads for the same seed', async () => {
    const run = async (threads: number) => {
      engine.setThreads(threads);
      return engine.nnTrain(small, engine.nnInit(small, 5), { inputs: { x: tr.x }, labels: tr.y }, { inputs: { x: va.x }, labels: va.y }, { batchSize: 64, maxEpochs: 3, patience: 5, seed: 5 });
    };
    const a = await run(1);
    const b = await run(2);
    expect(Buffer.from(b.params.buffer).equals(Buffer.from(a.params.buffer))).toBe(true);
    expect(b.history.map((h) => h.trainLoss)).toEqual(a.history.map((h) => h.trainLoss));
    const c = await run(2);
    engine.setThreads(threads0);
    const d = await engine.nnTrain(small, engine.nnInit(small, 5), { inputs: { x: tr.x }, labels: tr.y }, { inputs: { x: va.x }, labels: va.y }, { batchSize: 64, maxEpochs: 3, patience: 5, seed: 6 });
    expect(c.params).toEqual(a.params);
    expect(d.params).not.toEqual(a.params);
  });

  it('stops when onEpoch returns false, and early-stops on validation macro-F1', async () => {
    const r = await engine.nnTrain(small, engine.nnInit(small, 0), { inputs: { x: tr.x }, labels: tr.y }, { inputs: { x: va.x }, labels: va.y }, {
      maxEpochs: 50,
      seed: 0,
      onEpoch: (rep) => rep.epoch < 2,
    });
    expect(r.cancelled).toBe(true);
    expect(r.history.length).toBe(2); // the JS answer is awaited: it stops after exactly that epoch
    // Random labels: nothing to learn, so validation F1 stops improving and patience ends the run.
    const noise = Uint32Array.from(tr.y, (_, i) => (i * 7919) % 3);
    const e = await engine.nnTrain(small, engine.nnInit(small, 0), { inputs: { x: tr.x }, labels: noise }, { inputs: { x: va.x }, labels: Uint32Array.from(va.y, (_, i) => (i * 31) % 3) }, { maxEpochs: 200, patience: 3, seed: 0 });
    expect(e.stoppedEarly).toBe(true);
    expect(e.history.length).toBe(e.bestEpoch + 3);
  });

  it('trains the graph network', async () => {
    const n = 300;
    const r = rng(9);
    const N = graph.nodes;
    const mk = (count: number) => {
      const x = new Float32Array(count * N * 3).map(() => 2 * r());
      const adj = new Float32Array(count * N * N).map((_, i) => (Math.floor(i / N) % N === i % N ? 0 : Math.max(0, r() + 0.2)));
      const mask = new Float32Array(count * N).fill(1);
      const market = new Float32Array(count * 2).map(() => 2 * r());
      const y = Uint32Array.from({ length: count }, (_, i) => (market[i * 2]! > 0.3 ? 2 : market[i * 2]! < -0.3 ? 0 : 1));
      return { inputs: { x, adj, mask, market }, labels: y };
    };
    const res = await engine.nnTrain(graph, engine.nnInit(graph, 1), mk(n), mk(100), { lr: 0.01, batchSize: 32, maxEpochs: 30, patience: 30, seed: 1 });
    expect(res.bestValMacroF1).toBeGreaterThan(0.8);
  });
});

describe('nn errors are user errors naming the problem', () => {
  it('rejects bad specs, params and inputs', async () => {
    const p = engine.nnInit(small, 0);
    expect(() => engine.nnForwardSync(small, p.subarray(1), { x: new Float32Array(8 * 3) })).toThrow(/params has \d+ values, the network needs \d+/);
    expect(() => engine.nnForwardSync(small, p, { x: new Float32Array(8 * 3 + 1) })).toThrow(/x/);
    expect(() => engine.nnLayout({ ...small, window: 0 })).toThrow(/Expected positive integer for spec.window but received 0/);
    expect(() => engine.nnLayout({ ...small, kind: 'cnn' } as unknown as LstmNetSpec)).toThrow(/spec.kind/);
    const g = engine.nnInit(graph, 0);
    expect(() => engine.nnForwardSync(graph, g, { x: new Float32Array(5 * 3) })).toThrow(/adj|mask|market/);
    await expect(
      engine.nnTrain(small, p, { inputs: { x: new Float32Array(2 * 8 * 3) }, labels: Uint32Array.from([0, 7]) }, { inputs: { x: new Float32Array(8 * 3) }, labels: Uint32Array.from([0]) }),
    ).rejects.toMatchObject({ userError: true, message: expect.stringMatching(/label/) });
  });
});
