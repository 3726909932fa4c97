#!/usr/bin/env node
// Feature-engine benchmark: rolling kernels over the 11.1M-row 1-minute synthetic set, GARCH fits,
// the full daily and hourly feature sets on the real data, threads 1 vs 2, each next to the
// memory-bandwidth bound and the peers of ../shared/fixtures/PEERS.md. One JSON document on
// stdout (progress on stderr). Correctness is checked before timing.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import * as E from '@regime/engine';
import { ingest } from '@regime/data';
import { computeFeatures, DAILY_SET, HOURLY_SET } from '@regime/features';
import { log, median, sig, timeRuns, fail } from './lib.mjs';

const RUNS = 3;
const KLINES = new URL('../../../shared/data/klines', import.meta.url).pathname;

function machine() {
  let commit = null;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {}
  return { cpu_model: os.cpus()[0]?.model, cpu_count: os.cpus().length, total_memory_gib: sig(os.totalmem() / 2 ** 30, 3), node: process.version, engine_core_version: E.version(), git_commit: commit };
}

/** Copy bandwidth (GB/s of bytes read + written) on 256 MB arrays: the bound a streaming kernel can approach. */
function bandwidth() {
  const n = 32 * 2 ** 20;
  const a = new Float64Array(n).fill(1.5);
  const b = new Float64Array(n);
  const runs = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    b.set(a);
    runs.push((performance.now() - t) / 1000);
  }
  return { copy_read_plus_write_GB_per_s: sig((2 * n * 8) / median(runs) / 1e9) };
}

function naiveStd(x, w, i) {
  let m = 0;
  for (let j = i - w + 1; j <= i; j++) m += x[j];
  m /= w;
  let s = 0;
  for (let j = i - w + 1; j <= i; j++) s += (x[j] - m) ** 2;
  return Math.sqrt(s / (w - 1));
}

async function main() {
  const out = { benchmark: 'regime feature engine', started: new Date().toISOString(), machine: machine(), method: `median of ${RUNS} runs, wall time of the awaited call through the napi boundary`, notes: [] };
  out.bandwidth = bandwidth();
  const bw = out.bandwidth.copy_read_plus_write_GB_per_s * 1e9;

  log('synthetic 1-minute market: 13 assets × 593 days');
  const m = await E.synthMarket({ nAssets: 13, nDays: 593, baseIntervalMs: 60_000, seed: 42, listingDay: new Array(13).fill(0), maintenancePerYear: 0 });
  const closes = m.assets.map((g) => g.close);
  const rows = closes.reduce((s, c) => s + c.length, 0);
  const logret = closes.map((c) => E.logMomentum(c, 1));
  out.inputs = { rows, columns: 13, rows_per_column: closes[0].length, note: 'log returns of 1-minute closes, as the pandas peer (np.log(px).diff())' };

  // Correctness before timing: batch = naive reference on a slice.
  const std20 = E.rolling(logret[0], 'std', 20);
  for (const i of [20, 1000, 500_000, closes[0].length - 1]) {
    const r = naiveStd(logret[0], 20, i);
    if (Math.abs(std20[i] - r) > 1e-12 * r) fail(`rolling std at ${i}: ${std20[i]} vs naive ${r}`);
  }

  const peers = { mean20: 0.256, std20: 0.407, skew30: 0.428, corr30_pair: 0.136 };
  out.rolling = {};
  for (const threads of [1, 2]) {
    E.setThreads(threads);
    const res = {};
    for (const [name, stat, w] of [['mean20', 'mean', 20], ['std20', 'std', 20], ['skew30', 'skew', 30], ['zscore20', 'zscore', 20], ['kurt30', 'kurt', 30], ['max20', 'max', 20]]) {
      log(`rolling ${name} × 13 columns, ${threads} thread(s)`);
      const t = await timeRuns(RUNS, () => E.rollingMany(logret, stat, w));
      res[name] = {
        ...t,
        ns_per_value: sig((t.median_s * 1e9) / rows),
        bandwidth_bound_ns_per_value: sig((16 / bw) * 1e9),
        ...(peers[name] ? { pandas_s: peers[name], speedup_vs_pandas: sig(peers[name] / t.median_s, 3) } : {}),
      };
    }
    log(`rolling corr30, one pair, ${threads} thread(s)`);
    const c = await timeRuns(RUNS, () => E.rollingCorr(logret[0], logret[1], 30));
    res.corr30_pair = { ...c, ns_per_value: sig((c.median_s * 1e9) / logret[0].length), pandas_s: peers.corr30_pair, speedup_vs_pandas: sig(peers.corr30_pair / c.median_s, 3) };
    out.rolling[`threads_${threads}`] = res;
  }
  out.rolling.bandwidth_note = 'bound = 16 bytes per value (read one f64, write one f64) at the copy bandwidth above';
  out.rolling.js_libraries = {
    note: 'PEERS.md: STDDEV(20) over the same 11.1M closes',
    trading_signals_values_per_s: sig(11_100_960 / 8.92),
    technicalindicators_values_per_s: sig(11_100_960 / 38.1),
    ours_std20_values_per_s_2_threads: sig(rows / out.rolling.threads_2.std20.median_s),
    speedup_vs_trading_signals: sig(8.92 / out.rolling.threads_2.std20.median_s, 3),
    speedup_vs_technicalindicators: sig(38.1 / out.rolling.threads_2.std20.median_s, 3),
  };

  log('GARCH(1,1) fits on 1,500 daily returns');
  const sim = await E.synthMarket({ nAssets: 8, nDays: 1501, baseIntervalMs: 86_400_000, seed: 7, listingDay: new Array(8).fill(0), maintenancePerYear: 0 });
  const ys = sim.assets.map((g) => E.logMomentum(g.close, 1).subarray(1).map((r) => 100 * r));
  out.garch = {};
  for (const dist of ['normal', 't']) {
    const one = await timeRuns(RUNS, () => E.garchFit(ys[0], { dist }));
    out.garch[dist] = { T: ys[0].length, fit_ms: sig(one.median_s * 1e3), fits_per_s: sig(1 / one.median_s), arch_ms_per_fit: dist === 'normal' ? 16 : 26, arch_note: 'arch 7.2.0 on T=1,826 real daily returns (PEERS.md); 25 ms per fit on T=593 synthetic' };
    for (const threads of [1, 2]) {
      E.setThreads(threads);
      const many = await timeRuns(RUNS, () => E.garchFitMany(ys, { dist }));
      out.garch[dist][`many_8_threads_${threads}_fits_per_s`] = sig(8 / many.median_s);
    }
  }

  if (existsSync(KLINES)) {
    log('feature sets on the real data');
    const r = await ingest([KLINES], { intervals: ['1h', '1d'] });
    const daily = r.sets.get('1d');
    const hourly = r.sets.get('1h');
    out.feature_sets = {};
    for (const threads of [1, 2]) {
      E.setThreads(threads);
      const d = await timeRuns(RUNS, () => computeFeatures(daily, { set: 'daily', defs: DAILY_SET }));
      const h = await timeRuns(RUNS, () => computeFeatures(hourly, { set: 'hourly', defs: HOURLY_SET }));
      out.feature_sets[`threads_${threads}`] = {
        daily: { ...d, assets: daily.assets.length, rows_per_asset: daily.length, features: DAILY_SET.length, note: 'includes 13 GARCH-t fits on the train split' },
        hourly: { ...h, assets: hourly.assets.length, rows_per_asset: hourly.length, features: HOURLY_SET.length },
      };
    }
    out.feature_sets.pandas_note = 'PEERS.md: pandas takes 4.4 ms for 6 rolling features on 13 × 593 daily rows (no GARCH, no cross-asset)';
  } else {
    out.notes.push(`../shared/data not found at ${KLINES}: feature-set timings on real data skipped`);
  }
  out.notes.push('PEERS.md figures were measured on a 2-core Intel Xeon; compare ratios with care across machines.');
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
