// regime HMM benchmark: `node tools/bench/hmm.mjs [--quick]`.
//
// Gaussian HMM kernels of @regime/engine against hmmlearn 0.3.3 (figures from
// /work/shared/fixtures/PEERS.md, measured on a 2-core Xeon with implementation='log'):
// per-EM-iteration time at T = 10^6, K = 4, D = 5 (full and diag, scaled and log), a full fit,
// Viterbi, posteriors, filtering and scoring throughput, restarts at 1 vs 2 threads, and the
// daily-size fits of hmm_synthetic_daily.json / hmm_real_vol_k4.json (the same workloads hmmlearn
// was timed on). Results are checked before anything is timed. Prints ONE JSON document on
// stdout; progress goes to stderr. Medians of 3 runs (daily-size: of 25). A benchmark, not a
// test: nothing here asserts a speed.
import * as engine from '@regime/engine';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail, log, median, sig, startSection, waitForIdle } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const FIXTURES = resolve(ROOT, '../shared/fixtures');
const QUICK = process.argv.includes('--quick'); // smoke test of the script: tiny sizes, figures meaningless
const T = QUICK ? 20_000 : 1_000_000;
const RUNS = 3;
const SMALL_RUNS = QUICK ? 3 : 25;
const ITERS = QUICK ? 2 : 10; // EM iterations per timed fit in the per-iteration rows
const SEED = 20240601;
const IDLE_WAIT_S = Number(process.env.REGIME_BENCH_IDLE_WAIT_S ?? (QUICK ? 0 : 600));

// PEERS.md, hmmlearn 0.3.3 GaussianHMM (implementation='log'), 2-core Xeon, medians of 3.
const HMMLEARN = {
  source: '/work/shared/fixtures/PEERS.md',
  machine: 'Intel Xeon (Skylake-X class), 2 cores, Linux; CPython 3.11.2, numpy 1.24.2 / OpenBLAS 0.3.21 (2 threads), hmmlearn 0.3.3',
  em_iter_full_1e6_s: 2.39,
  em_iter_diag_1e6_s: 1.73,
  fit_full_1e6_s: 67.5,
  fit_full_1e6_iters: 31,
  viterbi_full_1e6_s: 0.58,
  viterbi_diag_1e6_s: 0.47,
  posteriors_full_1e6_s: 1.31,
  posteriors_diag_1e6_s: 1.23,
  score_full_1e6_s: 0.52,
  init_full_1e6_s: 7.3,
  daily: {
    'K=3 full': { ms_per_iter: 0.91, iters: 56, fit_ms: 56.8 },
    'K=3 diag': { ms_per_iter: 0.54, iters: 16, fit_ms: 9.5 },
    'K=4 full': { ms_per_iter: 1.24, iters: 21, fit_ms: 26.6 },
    'K=4 diag': { ms_per_iter: 0.78, iters: 11, fit_ms: 9.5 },
  },
  real_k4_fit_ms: 180,
  real_k4_iters: 40,
};

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** Median of `n` runs of the synchronous `fn` (seconds); `check` runs outside the timed region. */
function timeSync(n, fn, check) {
  const runs = [];
  let out;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    out = fn(i);
    runs.push((performance.now() - t) / 1000);
    if (check) check(out, i);
  }
  return { median_s: median(runs), runs_s: runs.map((x) => sig(x)), out };
}

async function timeAsync(n, fn) {
  const runs = [];
  let out;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    out = await fn(i);
    runs.push((performance.now() - t) / 1000);
  }
  return { median_s: median(runs), runs_s: runs.map((x) => sig(x)), out };
}

const speedup = (peer, ours) => sig(peer / ours, 3);

// The machine may be shared (builds, tests): before each section wait (within a total budget) for
// other processes to go quiet, and record how busy they kept it while the section ran.
let idleBudgetS = IDLE_WAIT_S;
const sections = [];
async function section(name, fn) {
  let w = null;
  if (idleBudgetS > 0) {
    w = await waitForIdle(idleBudgetS);
    if (w.checked) idleBudgetS -= w.waited_s;
  }
  const sec = startSection(name, w);
  const out = await fn();
  sections.push(sec.end());
  return out;
}

/** The K = 4, D = 5 generating model: persistent regimes with distinct means and correlations. */
function truthModel(covarianceType) {
  const K = 4;
  const D = 5;
  const means = Float64Array.from([0, 0, 0, 0, 0, 1.5, 0.5, -0.5, 0.2, 0, -1, 1.5, 0.5, 0, 0.3, 0.5, -1, 1.5, -0.5, 1]);
  const full = new Float64Array(K * D * D);
  for (let s = 0; s < K; s++) {
    for (let i = 0; i < D; i++) {
      for (let j = 0; j < D; j++) full[s * 25 + i * 5 + j] = i === j ? 0.4 + 0.2 * s : 0.08 * (1 + (s % 2)) * (i + j === 4 ? -1 : 1);
    }
  }
  const covars = covarianceType === 'full' ? full : Float64Array.from({ length: K * D }, (_, i) => full[Math.floor(i / D) * 25 + (i % D) * 6]);
  return {
    nStates: K,
    nFeatures: D,
    covarianceType,
    startprob: Float64Array.from([0.4, 0.3, 0.2, 0.1]),
    transmat: Float64Array.from([0.97, 0.01, 0.01, 0.01, 0.02, 0.95, 0.02, 0.01, 0.01, 0.02, 0.95, 0.02, 0.02, 0.02, 0.02, 0.94]),
    means,
    covars,
  };
}

/** A start for EM away from the truth: means shifted, transitions uniform, covariances doubled. */
function startModel(m) {
  return {
    ...m,
    transmat: new Float64Array(16).fill(0.25),
    means: m.means.map((v, i) => v + (i % 3 === 0 ? 0.4 : -0.3)),
    covars: m.covars.map((v) => 2 * v),
  };
}

const flat = (v) => (Array.isArray(v) ? v.flatMap(flat) : [v]);
const f64 = (v) => Float64Array.from(flat(v));
const fixtureModel = (p, covarianceType, nFeatures) => ({
  nStates: p.startprob.length,
  nFeatures,
  covarianceType,
  startprob: f64(p.startprob),
  transmat: f64(p.transmat),
  means: f64(p.means),
  covars: f64(p.covars),
});
const maxAbs = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

async function main() {
  const started = new Date();
  const cpus = os.cpus();
  const defaultThreads = engine.threads();
  const result = {
    benchmark: 'regime Gaussian HMM',
    schema: 'regime-bench-hmm/1',
    quick: QUICK,
    started: started.toISOString(),
    duration_s: null,
    machine: {
      cpu_model: cpus[0]?.model ?? null,
      cpu_count: cpus.length,
      total_memory_gib: sig(os.totalmem() / 2 ** 30, 3),
      platform: process.platform,
      arch: process.arch,
      os_release: os.release(),
      node_version: process.version,
      engine_core_version: engine.version(),
      engine_threads: defaultThreads,
      simd_avx2: engine.hmmSimd(),
      git_commit: sh('git', ['rev-parse', 'HEAD']),
      git_worktree_dirty: (sh('git', ['status', '--porcelain']) ?? '') !== '',
      loadavg_at_start: os.loadavg().map((x) => sig(x, 3)),
    },
    method: {
      statistic: `median of ${RUNS} runs (daily-size: ${SMALL_RUNS}), back to back, no separate warm-up; every run listed`,
      clock: 'performance.now() wall time around the call through @regime/engine, including the napi boundary',
      em_per_iteration: `a fit of exactly ${ITERS} EM iterations (tol 0) from a fixed start, total time / ${ITERS}; the total includes the one-time buffer allocation and the final score`,
      data: `T = ${T} observations sampled (hmmSample, seed ${SEED}) from a K = 4, D = 5 model with persistent regimes`,
    },
    hmmlearn: HMMLEARN,
    checks: {},
    em_per_iteration: {},
    fit: {},
    decode: {},
    restarts: {},
    daily_size: {},
    background_load: {
      what: "CPU cores kept busy by other processes during each section (/proc/stat busy time minus this process's CPU); near 1 on 2 cores means the section ran on half the machine",
      idle_wait: `before each section, up to ${IDLE_WAIT_S} s in total (REGIME_BENCH_IDLE_WAIT_S), for other processes to use < 0.25 cores over 2 s`,
      sections,
    },
    summary: {},
  };

  const truth = truthModel('full');
  const truthDiag = truthModel('diag');
  log(`sampling T = ${T}`);
  const { X } = engine.hmmSample(truth, T, SEED);
  const Xd = engine.hmmSample(truthDiag, T, SEED).X;

  // ---- correctness before timing
  log('checks');
  const sScaled = engine.hmmFitSync(X, 5, { nStates: 4, init: startModel(truth), nIter: 3, tol: 0, implementation: 'scaled' });
  const sLog = engine.hmmFitSync(X, 5, { nStates: 4, init: startModel(truth), nIter: 3, tol: 0, implementation: 'log' });
  const relHist = Math.max(...sScaled.loglikHistory.map((v, i) => Math.abs(v - sLog.loglikHistory[i]) / Math.abs(v)));
  if (!(relHist < 1e-9)) fail(`scaled and log EM histories differ by ${relHist} (relative)`);
  const score = engine.hmmScore(truth, X);
  const post = engine.hmmPosteriors(truth, X);
  let worstRow = 0;
  for (let t = 0; t < T; t++) worstRow = Math.max(worstRow, Math.abs(post[4 * t] + post[4 * t + 1] + post[4 * t + 2] + post[4 * t + 3] - 1));
  if (!(worstRow < 1e-12) || !Number.isFinite(score)) fail(`posterior rows off by ${worstRow}, score ${score}`);
  const vit = engine.hmmViterbi(truth, X);
  if (!(vit.logprob <= score)) fail(`Viterbi log-prob ${vit.logprob} above the score ${score}`);
  const synth = JSON.parse(readFileSync(resolve(FIXTURES, 'hmm_synthetic_daily.json'), 'utf8'));
  const Xs = f64(synth.input.X);
  for (const c of synth.cases) {
    const r = engine.hmmFitSync(Xs, 5, { nStates: c.K, covarianceType: c.covariance_type, tol: 1e-4, init: fixtureModel(c.init, c.covariance_type, 5), minCovar: 0 });
    const dev = maxAbs(r.loglikHistory, c.loglik_history);
    if (r.nIter !== c.n_iter_done || !(dev < 1e-6)) fail(`hmm_synthetic_daily K=${c.K} ${c.covariance_type}: ${r.nIter} iterations (want ${c.n_iter_done}), history off by ${dev}`);
  }
  result.checks = {
    scaled_vs_log_em_history_max_rel: sig(relHist, 3),
    posterior_row_sum_max_abs_error: sig(worstRow, 3),
    score_truth: score,
    viterbi_logprob_truth: vit.logprob,
    hmm_synthetic_daily_reproduced: 'all 4 cases: same iterations, history within 1e-6',
  };

  // ---- per EM iteration at T = 1e6
  for (const [cov, data, m] of [
    ['full', X, truth],
    ['diag', Xd, truthDiag],
  ]) {
    for (const implementation of ['scaled', 'log']) {
      log(`EM ${cov} ${implementation}`);
      const r = await section(`em_${cov}_${implementation}`, () => timeSync(RUNS, () => engine.hmmFitSync(data, 5, { nStates: 4, covarianceType: cov, init: startModel(m), nIter: ITERS, tol: 0, implementation })));
      const perIter = r.median_s / ITERS;
      const peer = cov === 'full' ? HMMLEARN.em_iter_full_1e6_s : HMMLEARN.em_iter_diag_1e6_s;
      result.em_per_iteration[`${cov}_${implementation}`] = {
        s_per_iter: sig(perIter),
        runs_s: r.runs_s,
        hmmlearn_s_per_iter: peer,
        speedup_vs_hmmlearn: speedup(peer, perIter),
      };
    }
  }

  // ---- a complete fit (k-means++ init, hmmlearn's default tol 1e-2)
  log('full fit');
  const fit = await section('fit', () => timeAsync(RUNS, () => engine.hmmFit(X, 5, { nStates: 4, init: 'kmeans++', seed: 1 })));
  const fitIters = fit.out.nIter;
  result.fit = {
    what: "hmmFit (async), K = 4 full, init 'kmeans++' (one k-means++ seeding + Lloyd), tol 1e-2, nIter 100",
    s: sig(fit.median_s),
    runs_s: fit.runs_s,
    em_iterations: fitIters,
    reason: fit.out.reason,
    s_per_iter_including_init: sig(fit.median_s / fitIters),
    hmmlearn_s: HMMLEARN.fit_full_1e6_s,
    hmmlearn_iterations: HMMLEARN.fit_full_1e6_iters,
    hmmlearn_init_s: HMMLEARN.init_full_1e6_s,
    note: 'The iteration counts differ (different starts), so compare per iteration; hmmlearn\'s init (KMeans n_init=10) is timed separately in PEERS.md.',
  };

  // ---- decoding at T = 1e6
  for (const [cov, data, m] of [
    ['full', X, truth],
    ['diag', Xd, truthDiag],
  ]) {
    log(`decode ${cov}`);
    const [v, p, f, s] = await section(`decode_${cov}`, () => [
      timeSync(RUNS, () => engine.hmmViterbi(m, data)),
      timeSync(RUNS, () => engine.hmmPosteriors(m, data)),
      timeSync(RUNS, () => engine.hmmFiltered(m, data)),
      timeSync(RUNS, () => engine.hmmScore(m, data)),
    ]);
    const peerV = cov === 'full' ? HMMLEARN.viterbi_full_1e6_s : HMMLEARN.viterbi_diag_1e6_s;
    const peerP = cov === 'full' ? HMMLEARN.posteriors_full_1e6_s : HMMLEARN.posteriors_diag_1e6_s;
    result.decode[cov] = {
      viterbi_s: sig(v.median_s),
      viterbi_runs_s: v.runs_s,
      hmmlearn_viterbi_s: peerV,
      viterbi_speedup: speedup(peerV, v.median_s),
      posteriors_s: sig(p.median_s),
      posteriors_runs_s: p.runs_s,
      hmmlearn_posteriors_s: peerP,
      posteriors_speedup: speedup(peerP, p.median_s),
      filtered_s: sig(f.median_s),
      filtered_rows_per_s: sig(T / f.median_s, 3),
      score_s: sig(s.median_s),
      ...(cov === 'full' ? { hmmlearn_score_s: HMMLEARN.score_full_1e6_s, score_speedup: speedup(HMMLEARN.score_full_1e6_s, s.median_s) } : {}),
    };
  }
  // The streaming filter, one observation per call through napi.
  {
    const n = QUICK ? 10_000 : 200_000;
    const filter = new engine.HmmFilter(truth);
    const rows = Array.from({ length: n }, (_, t) => X.subarray(5 * t, 5 * t + 5));
    const r = await section('streaming_filter', () =>
      timeSync(RUNS, () => {
        filter.reset();
        for (let t = 0; t < n; t++) filter.update(rows[t]);
      }),
    );
    result.decode.streaming_filter = { updates: n, s: sig(r.median_s), us_per_update: sig((r.median_s / n) * 1e6, 3), runs_s: r.runs_s };
  }

  // ---- restarts, 1 vs 2 threads
  {
    const nRestarts = 4;
    const opts = { nStates: 4, init: 'kmeans++', nRestarts, seed: 7, nIter: ITERS, tol: 0 };
    const out = {};
    const results = {};
    for (const threads of [1, 2]) {
      engine.setThreads(threads);
      log(`restarts at ${threads} thread(s)`);
      const r = await section(`restarts_threads_${threads}`, () => timeSync(RUNS, () => engine.hmmFitSync(X, 5, opts)));
      out[`threads_${threads}_s`] = sig(r.median_s);
      out[`threads_${threads}_runs_s`] = r.runs_s;
      results[threads] = r.out;
    }
    engine.setThreads(defaultThreads);
    const same = results[1].restarts.every((s, i) => Object.is(s.loglik, results[2].restarts[i].loglik)) && results[1].model.means.every((v, i) => Object.is(v, results[2].model.means[i]));
    if (!same) fail('restarts at 1 and 2 threads differ');
    result.restarts = {
      what: `${nRestarts} restarts (k-means++ init + ${ITERS} EM iterations each), K = 4 full, T = ${T}`,
      ...out,
      speedup_2_over_1: sig(out.threads_1_s / out.threads_2_s, 3),
      bit_identical_1_vs_2_threads: same,
    };
  }

  // ---- daily size: the fixture workloads hmmlearn was timed on
  for (const c of synth.cases) {
    const name = `K=${c.K} ${c.covariance_type}`;
    log(`daily ${name}`);
    const init = fixtureModel(c.init, c.covariance_type, 5);
    const r = await section(`daily_${name}`, () => timeSync(SMALL_RUNS, () => engine.hmmFitSync(Xs, 5, { nStates: c.K, covarianceType: c.covariance_type, tol: 1e-4, init, minCovar: 0 })));
    const peer = HMMLEARN.daily[name];
    const perIter = (r.median_s * 1000) / r.out.nIter;
    result.daily_size[name] = {
      T: Xs.length / 5,
      iterations: r.out.nIter,
      fit_ms: sig(r.median_s * 1000),
      ms_per_iter: sig(perIter),
      hmmlearn_fit_ms: peer.fit_ms,
      hmmlearn_ms_per_iter: peer.ms_per_iter,
      speedup_per_iter: speedup(peer.ms_per_iter, perIter),
    };
  }
  {
    log('real vol K=4, 3 sequences');
    const real = JSON.parse(readFileSync(resolve(FIXTURES, 'hmm_real_vol_k4.json'), 'utf8'));
    const Xr = f64(real.X);
    const init = fixtureModel(real.init, 'full', 2);
    const r = await section('daily_real', () => timeSync(SMALL_RUNS, () => engine.hmmFitSync(Xr, 2, { nStates: 4, nIter: 200, tol: 1e-4, init, lengths: real.lengths, minCovar: 0 })));
    if (r.out.nIter !== real.n_iter_done) fail(`real case: ${r.out.nIter} iterations, want ${real.n_iter_done}`);
    result.daily_size['real K=4 full, 3 sequences'] = {
      T: Xr.length / 2,
      iterations: r.out.nIter,
      fit_ms: sig(r.median_s * 1000),
      ms_per_iter: sig((r.median_s * 1000) / r.out.nIter),
      hmmlearn_fit_ms: HMMLEARN.real_k4_fit_ms,
      speedup: speedup(HMMLEARN.real_k4_fit_ms, r.median_s * 1000),
    };
  }

  const e = result.em_per_iteration;
  result.summary = {
    em_iter_full_scaled_speedup: e.full_scaled.speedup_vs_hmmlearn,
    em_iter_diag_scaled_speedup: e.diag_scaled.speedup_vs_hmmlearn,
    em_iter_full_log_speedup: e.full_log.speedup_vs_hmmlearn,
    em_iter_diag_log_speedup: e.diag_log.speedup_vs_hmmlearn,
    viterbi_full_speedup: result.decode.full.viterbi_speedup,
    posteriors_full_speedup: result.decode.full.posteriors_speedup,
    restarts_speedup_2_over_1_threads: result.restarts.speedup_2_over_1,
    daily_k4_full_speedup_per_iter: result.daily_size['K=4 full'].speedup_per_iter,
    note: `hmmlearn was measured on a different 2-core machine (${HMMLEARN.machine.split(';')[0]}); this run's CPU is "${result.machine.cpu_model}" × ${result.machine.cpu_count}. The VM is noisy: compare with care.`,
  };
  result.machine.loadavg_at_end = os.loadavg().map((x) => sig(x, 3));
  result.duration_s = sig((Date.now() - started.getTime()) / 1000, 3);
  process.stdout.write(JSON.stringify(result, null, 1) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
