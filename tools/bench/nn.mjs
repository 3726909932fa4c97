// regime neural benchmark: `node tools/bench/nn.mjs [--quick]`.
//
// The SPEC B5 LSTM classifier (window 30, 6 inputs, LSTM(64) → attention → LSTM(32) → dense,
// 5 classes): native training throughput (sequences/s, batch 64) at 1 and 2 threads, native
// inference forward, and ONNX Runtime (onnxruntime-node, CPU) on the exported graph: latency of
// one window and throughput at batches of 64, 256 and 4,096; plus the graph network's training
// and inference. PyTorch figures come from issue #5 (torch 1.13, 2 threads, same machine kind).
// Native and ORT outputs are compared before anything is timed. Prints ONE JSON document on
// stdout; progress on stderr. A benchmark, not a test: nothing here asserts a speed.
import * as engine from '@regime/engine';
import { exportGraphOnnx, exportLstmOnnx, metadataToProps, mulberry32, OnnxModel } from '@regime/models';
import os from 'node:os';
import { fail, log, median, sig } from './lib.mjs';

const QUICK = process.argv.includes('--quick');
const N_TRAIN = QUICK ? 512 : 8192;
const EPOCHS = QUICK ? 1 : 3;
const LAT_RUNS = QUICK ? 20 : 300;

const TORCH = {
  source: 'issue #5 (torch 1.13 CPU, 2 threads, this machine kind)',
  train_step_batch64_ms: 88,
  train_seq_per_s: 729,
  eval_forward_seq_per_s: 2223,
  ort_from_torch_one_window_ms: 0.15,
  ort_from_torch_batch64_windows_per_s: 26600,
};

const rng = (seed) => {
  const u = mulberry32(seed);
  return () => u() - 0.5;
};

function lstmData(n, spec, seed) {
  const r = rng(seed);
  const x = new Float32Array(n * spec.window * spec.features).map(() => 2 * r());
  const y = Uint32Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let t = 0; t < spec.window; t++) s += x[(i * spec.window + t) * spec.features];
    return Math.min(spec.classes - 1, Math.max(0, Math.floor(s / 3 + spec.classes / 2)));
  });
  return { x, y };
}

function graphData(n, spec, seed) {
  const r = rng(seed);
  const { nodes: N, features: F, market: G } = spec;
  const x = new Float32Array(n * N * F).map(() => 2 * r());
  const adj = new Float32Array(n * N * N).map((_, i) => (Math.floor(i / N) % N === i % N ? 0 : Math.max(0, r() + 0.3)));
  const mask = new Float32Array(n * N).fill(1);
  const market = new Float32Array(n * G).map(() => 2 * r());
  const y = Uint32Array.from({ length: n }, (_, i) => (market[i * G] > 0.3 ? 2 : market[i * G] < -0.3 ? 0 : 1));
  return { inputs: { x, adj, mask, market }, y };
}

async function trainThroughput(spec, inputs, labels, valInputs, valLabels, batchSize, threads) {
  engine.setThreads(threads);
  const t0 = performance.now();
  let trainS = 0;
  const r = await engine.nnTrain(spec, engine.nnInit(spec, 0), { inputs, labels }, { inputs: valInputs, labels: valLabels }, {
    batchSize,
    maxEpochs: EPOCHS,
    patience: EPOCHS + 1,
    seed: 0,
    onEpoch: (rep) => {
      trainS += rep.seconds;
    },
  });
  const wall = (performance.now() - t0) / 1000;
  const n = labels.length * r.history.length;
  return { threads, epochs: r.history.length, samples_per_epoch: labels.length, wall_s: sig(wall), seq_per_s: sig(n / wall), final_train_loss: sig(r.history.at(-1).trainLoss) };
}

async function timeMedian(runs, fn) {
  const xs = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    xs.push((performance.now() - t) / 1000);
  }
  return median(xs);
}

function meta(net) {
  const names = (n, p) => Array.from({ length: n }, (_, i) => `${p}${i}`);
  return metadataToProps({
    task: 'bench', kind: net.kind, featureNames: names(net.features, 'f'), classNames: names(net.classes, 'c'),
    scaler: { mean: names(net.features, '').map(() => 0), std: names(net.features, '').map(() => 1) },
    splits: {}, dataHash: 'bench', seed: 0, metrics: {}, createdAt: new Date(0).toISOString(), spec: {},
    ...(net.kind === 'graph' ? { marketFeatureNames: names(net.market, 'm'), nodeNames: names(net.nodes, 'n') } : {}),
  });
}

function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function main() {
  const cpus = os.cpus();
  const result = {
    benchmark: 'regime neural networks',
    schema: 'regime-bench-nn/1',
    quick: QUICK,
    started: new Date().toISOString(),
    machine: { cpu_model: cpus[0]?.model ?? null, cpu_count: cpus.length, node_version: process.version, engine_core_version: engine.version() },
    pytorch: TORCH,
    lstm: {},
    graph: {},
    summary: {},
  };
  const lstm = { kind: 'lstm', features: 6, window: 30, hidden1: 64, hidden2: 32, classes: 5, dropout: 0.3 };
  result.lstm.spec = { ...lstm, params: engine.nnParamCount(lstm) };
  const tr = lstmData(N_TRAIN, lstm, 1);
  const va = lstmData(256, lstm, 2);
  const params = engine.nnInit(lstm, 3);
  // Parity before timing.
  const layout = engine.nnLayout(lstm);
  const bytes = exportLstmOnnx({ spec: { features: 6, window: 30, hidden1: 64, hidden2: 32, classes: 5 }, layout, params, metadata: meta(lstm) });
  const ortModel = await OnnxModel.load(bytes, { threads: 2 });
  const check = lstmData(512, lstm, 4);
  const nat = engine.nnForwardSync(lstm, params, { x: check.x });
  const ortOut = (await ortModel.run({ x: check.x })).probs.data;
  const diff = maxAbsDiff(nat, ortOut);
  if (!(diff <= 1e-5)) fail(`native vs ORT max |Δp| ${diff} > 1e-5`);
  result.lstm.parity_max_abs_diff = sig(diff, 3);

  log('lstm training');
  result.lstm.train = [];
  for (const threads of [1, 2]) result.lstm.train.push(await trainThroughput(lstm, { x: tr.x }, tr.y, { x: va.x }, va.y, 64, threads));
  engine.setThreads(2);

  log('lstm inference');
  const inf = {};
  for (const b of [1, 64, 256, 4096]) {
    const d = lstmData(b, lstm, 10 + b);
    const runs = b === 1 ? LAT_RUNS : b <= 256 ? Math.max(5, LAT_RUNS / 10) : 5;
    const nativeS = await timeMedian(runs, () => engine.nnForwardSync(lstm, params, { x: d.x }));
    const ortS = await timeMedian(runs, () => ortModel.run({ x: d.x }));
    inf[`batch_${b}`] = { native_ms: sig(nativeS * 1e3), native_seq_per_s: sig(b / nativeS), ort_ms: sig(ortS * 1e3), ort_seq_per_s: sig(b / ortS), native_over_ort_time: sig(nativeS / ortS, 3) };
  }
  result.lstm.inference = inf;
  await ortModel.dispose();

  log('graph network');
  const graph = { kind: 'graph', nodes: 13, features: 14, market: 4, hidden: 64, readout: 64, classes: 3, dropout: 0.3 };
  result.graph.spec = { ...graph, params: engine.nnParamCount(graph) };
  const gtr = graphData(QUICK ? 256 : 2048, graph, 5);
  const gva = graphData(128, graph, 6);
  result.graph.train = [];
  for (const threads of [1, 2]) result.graph.train.push(await trainThroughput(graph, gtr.inputs, gtr.y, gva.inputs, gva.y, 32, threads));
  engine.setThreads(2);
  const gparams = engine.nnInit(graph, 7);
  const gbytes = exportGraphOnnx({ spec: { nodes: 13, features: 14, market: 4, hidden: 64, readout: 64, classes: 3 }, layout: engine.nnLayout(graph), params: gparams, metadata: meta(graph) });
  const gort = await OnnxModel.load(gbytes, { threads: 2 });
  const gd = graphData(1024, graph, 8);
  const gdiff = maxAbsDiff(engine.nnForwardSync(graph, gparams, gd.inputs), (await gort.run(gd.inputs)).probs.data);
  if (!(gdiff <= 1e-5)) fail(`graph native vs ORT max |Δp| ${gdiff} > 1e-5`);
  result.graph.parity_max_abs_diff = sig(gdiff, 3);
  const gn = await timeMedian(10, () => engine.nnForwardSync(graph, gparams, gd.inputs));
  const go = await timeMedian(10, () => gort.run(gd.inputs));
  result.graph.inference_batch_1024 = { native_ms: sig(gn * 1e3), ort_ms: sig(go * 1e3), native_graphs_per_s: sig(1024 / gn), ort_graphs_per_s: sig(1024 / go) };
  await gort.dispose();

  const t2 = result.lstm.train.find((t) => t.threads === 2);
  result.summary = {
    lstm_train_seq_per_s_2t: t2.seq_per_s,
    vs_pytorch_train: sig(t2.seq_per_s / TORCH.train_seq_per_s, 3),
    aim_train: '≥ 2× PyTorch (1,458 seq/s)',
    ort_one_window_ms: inf.batch_1.ort_ms,
    ort_batch64_windows_per_s: inf.batch_64.ort_seq_per_s,
    vs_ort_from_pytorch_batch64: sig(inf.batch_64.ort_seq_per_s / TORCH.ort_from_torch_batch64_windows_per_s, 3),
    native_forward_batch4096_over_ort: inf.batch_4096.native_over_ort_time,
    native_eval_seq_per_s_4096: inf.batch_4096.native_seq_per_s,
    vs_pytorch_eval: sig(inf.batch_4096.native_seq_per_s / TORCH.eval_forward_seq_per_s, 3),
  };
  result.finished = new Date().toISOString();
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
