// regime data benchmark: `npm run bench` (node tools/bench/run.mjs [--quick]).
//
// Measures the data path of the native engine on a deterministic synthetic 1-minute market:
// resampling (1 and 2 threads), CSV parsing (plain and gzip), Arrow IPC load, a memory-bandwidth
// reference, and a 50M-row run in a child process for its own peak RSS. Correctness is checked
// against simple JS references before anything is timed. Prints ONE JSON document on stdout
// (progress goes to stderr) and writes the same document to bench-results/data-<timestamp>.json.
// This is a benchmark, not a test: nothing here asserts a speed. See docs/benchmarks.md.
import * as engine from '@regime/engine';
import { buildBarSets, readBarSet, writeBarSet } from '@regime/data';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createGzip } from 'node:zlib';
import {
  BYTES_KERNEL_READS,
  BYTES_OHLCV_PRESENT,
  BenchError,
  DAY_MS,
  HOUR_MS,
  MINUTE_MS,
  checkResample,
  fail,
  firstDiff,
  gridBytes,
  log,
  sig,
  startSection,
  timeOnce,
  timeRuns,
  waitForIdle,
} from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const QUICK = process.argv.includes('--quick'); // smoke test of the script itself: tiny sizes, figures meaningless

const RUNS = 3;
const SEED = 42;
const START_MS = Date.UTC(2020, 0, 1);
const SMALL = { assets: 13, days: QUICK ? 20 : 593 };
const BIG = { assets: 13, days: QUICK ? 40 : 2671, seedBase: 1000 };
const THREADS = [1, 2];
const GZIP_LEVEL = 6;
const BANDWIDTH_BYTES = QUICK ? 2 ** 24 : 2 ** 30; // 1 GiB per array
// glibc malloc settings of the allocator diagnostic (see diag-alloc.mjs): keep freed heap memory
// instead of returning it to the kernel, and serve column-sized blocks from the heap, not mmap.
const NO_TRIM_ENV = { MALLOC_MMAP_THRESHOLD_: String(32 * 2 ** 20), MALLOC_TRIM_THRESHOLD_: String(2 ** 40) };

// PEERS.md (/work/shared/fixtures/PEERS.md): pandas 1.5.3, single-threaded, on a 2-core Xeon VM,
// same synthetic market size (13 × 593 × 1440 = 11,100,960 rows), medians of 3.
const PEERS = {
  source: '/work/shared/fixtures/PEERS.md',
  machine: 'Intel Xeon (Skylake-X class), 2 cores, Linux; CPython 3.11.2, pandas 1.5.3 (single-threaded)',
  resample_1h_s: 0.8,
  resample_1d_s: 0.74,
  read_csv_s: 14.8,
  read_csv_rows_per_s: 0.75e6,
  read_csv_gz_s: 27.3,
  read_csv_gz_rows_per_s: 0.41e6,
  csv_bytes: 1.41e9,
  csv_bytes_per_row: 127,
  csv_gz_bytes: 506e6,
  write_csv_s: 117,
  write_csv_gz_s: 443,
  rows: 11_100_960,
};

// Before each section, wait for other processes to go quiet (under 0.25 cores over 2 s); this is
// the total budget for all such waits, in seconds (0: never wait).
const IDLE_WAIT_S = Number(process.env.REGIME_BENCH_IDLE_WAIT_S ?? 300);

const notes = [];
const symbol = (k) => `SYN${String(k).padStart(2, '0')}`;
const gb = (bytes, s) => sig(bytes / s / 1e9);

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** Spawn `node <script> <json args>`; the child prints one JSON object on stdout, progress on stderr. */
function runChild(script, args, env = {}) {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [join(HERE, script), JSON.stringify(args)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    let out = '';
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d) => (out += d));
    p.on('error', rej);
    p.on('close', (code) => {
      if (code !== 0) return rej(new Error(`${script} exited with code ${code}`));
      try {
        res(JSON.parse(out));
      } catch (e) {
        rej(new Error(`${script} printed no JSON: ${e.message}`));
      }
    });
  });
}

/** Write CSV files on `n` worker threads (one asset per job). */
async function writeCsvFiles(jobs, n) {
  const results = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      const w = new Worker(join(HERE, 'csv-worker.mjs'));
      try {
        while (next < jobs.length) {
          const job = jobs[next++];
          const r = await new Promise((res, rej) => {
            const onErr = (e) => rej(e);
            w.once('error', onErr);
            w.once('message', (m) => {
              w.off('error', onErr);
              res(m);
            });
            w.postMessage(job);
          });
          if (!r.ok) throw new Error(`writing ${r.path}: ${r.error}`);
          results.push(r);
        }
      } finally {
        await w.terminate();
      }
    }),
  );
  return results;
}

/** Parsed bars must equal the generated ones exactly (shortest round-trip text ⇒ same doubles). */
function checkParsed(parsed, g, label, columns = ['open', 'high', 'low', 'close', 'volume']) {
  const b = parsed.bars;
  const off = (b.start - g.start) / g.intervalMs;
  if (!Number.isInteger(off) || off < 0 || off + b.present.length > g.present.length) {
    fail(`${label}: parsed grid ${b.start}+${b.present.length} rows does not lie inside the generated grid ${g.start}+${g.present.length}`);
  }
  let present = 0;
  for (let i = 0; i < g.present.length; i++) present += g.present[i];
  if (parsed.report.rows !== present) fail(`${label}: parsed ${parsed.report.rows} rows, generated ${present} present rows`);
  for (let i = 0; i < b.present.length; i++) {
    if (b.present[i] !== g.present[i + off]) fail(`${label}: row ${i} present=${b.present[i]} parsed, ${g.present[i + off]} generated`);
    if (!b.present[i]) continue;
    for (const k of columns) {
      if (!Object.is(b[k][i], g[k][i + off])) {
        fail(`${label}: ${k} at ${new Date(b.start + i * b.intervalMs).toISOString()} parsed as ${b[k][i]}, generated ${g[k][i + off]}`);
      }
    }
  }
  return present;
}

/** sha256 (first 16 hex digits) of the native addon that @regime/engine loads, for provenance. */
function addonHash() {
  try {
    const dir = fileURLToPath(new URL('../native/', import.meta.resolve('@regime/engine')));
    const f = readdirSync(dir).find((n) => n.endsWith('.node'));
    return f ? { file: f, sha256_16: createHash('sha256').update(readFileSync(join(dir, f))).digest('hex').slice(0, 16), mtime: statSync(join(dir, f)).mtime.toISOString() } : null;
  } catch {
    return null;
  }
}

let idleBudgetS = IDLE_WAIT_S;
/** Wait for a quiet machine (within the remaining budget), then start timing a section. */
async function begin(name) {
  let w = null;
  if (idleBudgetS > 0) {
    w = await waitForIdle(idleBudgetS);
    if (w.checked) idleBudgetS -= w.waited_s;
  }
  return startSection(name, w);
}

async function main() {
  const t0 = performance.now();
  const started = new Date();
  const defaultThreads = engine.threads();
  const cpus = os.cpus();
  const result = {
    benchmark: 'regime data path',
    schema: 'regime-bench-data/1',
    quick: QUICK,
    started: started.toISOString(),
    duration_s: null,
    machine: {
      cpu_model: cpus[0]?.model ?? null,
      cpu_count: cpus.length,
      total_memory_bytes: os.totalmem(),
      total_memory_gib: sig(os.totalmem() / 2 ** 30, 3),
      platform: process.platform,
      arch: process.arch,
      os_release: os.release(),
      node_version: process.version,
      engine_core_version: engine.version(),
      native_addon: addonHash(),
      git_commit: sh('git', ['rev-parse', 'HEAD']),
      git_worktree_dirty: (sh('git', ['status', '--porcelain']) ?? '') !== '',
      threads: {
        engine_default: defaultThreads,
        resample_measured_at: THREADS,
        csv_parse: `libuv threadpool, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'} (readKlines does not use the engine's thread pool)`,
        csv_writer_workers: Math.min(2, cpus.length),
        env_REGIME_THREADS: process.env.REGIME_THREADS ?? null,
      },
    },
    method: {
      statistic: `median of ${RUNS} runs, back to back, no separate warm-up run; every run is listed in runs_s`,
      clock: 'performance.now() wall time around the awaited call, including the napi boundary (argument copies in, typed arrays out)',
      rows: 'resample rows/s counts 1-minute grid rows (the input size, 11,100,960, as for the pandas peer); parse rows/s counts the CSV rows (present bars only)',
    },
    inputs: {},
    correctness: {},
    resample: {},
    csv: {},
    arrow_ipc: {},
    memory_bandwidth: {},
    large_50m: null,
    diagnostics: {},
    background_load: {
      what: "CPU cores kept busy by anything but this run's processes during each section (/proc/stat busy time minus this run's own CPU, children included). The machine may be shared, so read figures from a section with a high value with care. Kernel threads working for this run (writeback of the files it writes, page reclaim) count as other, so a few tenths in the CSV and Arrow sections can be the run itself.",
      loadavg_at_start: os.loadavg().map((x) => sig(x, 3)),
      idle_wait: `before each section, up to ${IDLE_WAIT_S} s in total (REGIME_BENCH_IDLE_WAIT_S), for other processes to use < 0.25 cores over 2 s`,
      sections: [],
    },
    peers: { source: PEERS.source, machine: PEERS.machine, comparisons: [] },
    summary: {},
    notes,
  };
  const sections = result.background_load.sections;

  // ---- 50M rows in a child process, first, while this process is still small ----------------------
  {
    const sec = await begin('large_50m_child');
    log(`50M rows: ${BIG.assets} assets × ${BIG.days} days, one asset at a time, in a child process`);
    const big = await runChild('big.mjs', { assets: BIG.assets, days: BIG.days, seedBase: BIG.seedBase, runs: RUNS, startMs: START_MS });
    sections.push(sec.end(big.cpu_s));
    result.large_50m = {
      how: 'child `node tools/bench/big.mjs`, started before this process allocates anything large; per asset: synthMarket({ nAssets: 1, seed: 1000 + k, volScale/startPrice of asset k }), check (asset 0), resample 1h / 1d / chain 3 times each, drop; runs_s[r] = sum over assets of repetition r',
      ...big,
      peak_rss_target_bytes: 3e9,
      peak_rss_within_target: big.peak_rss_bytes < 3e9,
    };
    result.inputs.market_50m = {
      assets: big.assets,
      days: big.days,
      rows: big.rows,
      present_rows: big.present_rows,
      seeds: big.seeds,
      bytes_if_held_at_once: big.grid_bytes_total_if_held_at_once,
      generate_s: big.generate_s,
    };
    notes.push(
      "The 50M-row set is generated one asset at a time with synthMarket({ nAssets: 1 }) and a distinct seed per asset (1000 + k), with the default market's per-asset volatility scale and start price: each asset has its own regime path, unlike the 11.1M set where all assets share one.",
      'At 50M, resample is called with one asset per call, and engine.resample parallelises across assets only, so those figures are effectively single-threaded whatever the pool size.',
      'Peak RSS at 50M is VmHWM of the child (/proc/self/status). process.resourceUsage().maxRSS is reported beside it: on Linux it carries over the high-water mark of the address space the child was forked from, which is why the child runs first, while the parent is small.',
    );
    log(`  peak RSS ${big.peak_rss_mib} MiB (maxRSS ${Math.round(big.resource_usage_max_rss_bytes / 2 ** 20)} MiB)`);
  }

  if (QUICK) notes.push('--quick: tiny sizes to smoke-test the script; the figures are not benchmark results.');
  if (result.machine.git_worktree_dirty) notes.push('The git worktree had uncommitted changes when this ran; git_commit is the base commit.');

  // ---- memory bandwidth reference (before the market is generated, on a small heap) -----------
  {
    const sec = await begin('memory_bandwidth');
    log(`memory bandwidth: 2 × ${BANDWIDTH_BYTES / 2 ** 30} GiB Float64Array`);
    const n = BANDWIDTH_BYTES / 8;
    let src = new Float64Array(n);
    for (let i = 0; i < n; i++) src[i] = i * 0.5;
    let dst = new Float64Array(n);
    dst.fill(1); // touch every page before timing
    const copy = await timeRuns(RUNS, () => dst.set(src));
    if (dst[n - 1] !== src[n - 1]) fail('bandwidth copy did not copy');
    let sink = 0;
    const sumLoop = (a) => {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      const m = a.length;
      for (let i = 0; i < m; i += 4) {
        a0 += a[i];
        a1 += a[i + 1];
        a2 += a[i + 2];
        a3 += a[i + 3];
      }
      return a0 + a1 + a2 + a3;
    };
    // JIT warm-up on a small array, so the timed runs all execute optimized code (otherwise the
    // first runs are interpreted / on-stack-replaced and several times slower).
    const warm = src.subarray(0, 1 << 16);
    for (let i = 0; i < 2000; i++) sink += sumLoop(warm);
    const sum = await timeRuns(RUNS, () => {
      sink += sumLoop(src);
    });
    if (!(sink > 0)) fail('bandwidth sum is not positive');
    result.memory_bandwidth = {
      array_bytes: BANDWIDTH_BYTES,
      copy_dst_set_src: {
        ...copy,
        GB_per_s: gb(BANDWIDTH_BYTES, copy.median_s),
        read_plus_write_GB_per_s: gb(2 * BANDWIDTH_BYTES, copy.median_s),
      },
      sum_loop: { ...sum, read_GB_per_s: gb(BANDWIDTH_BYTES, sum.median_s), how: 'plain JS for-loop, 4 accumulators, one thread, JIT-warmed on 512 KiB first' },
      units: 'GB = 1e9 bytes; copy GB_per_s counts bytes copied, read_plus_write counts both streams',
    };
    src = dst = null;
    sections.push(sec.end());
    log(`  copy ${result.memory_bandwidth.copy_dst_set_src.GB_per_s} GB/s, sum ${result.memory_bandwidth.sum_loop.read_GB_per_s} GB/s`);
  }

  // ---- the 11.1M-row market ----------------------------------------------------------------
  const S = SMALL;
  let sec = await begin('generate_and_check');
  log(`generating ${S.assets} assets × ${S.days} days × 1440 minutes (seed ${SEED})`);
  const gen = await timeOnce(() =>
    engine.synthMarket({
      nAssets: S.assets,
      nDays: S.days,
      baseIntervalMs: MINUTE_MS,
      seed: SEED,
      startMs: START_MS,
      listingDay: new Array(S.assets).fill(0),
    }),
  );
  const grids = gen.out.assets;
  const rows = grids.reduce((s, g) => s + g.present.length, 0);
  const presentRows = grids.reduce((s, g) => s + g.present.reduce((a, x) => a + x, 0), 0);
  if (rows !== S.assets * S.days * 1440) fail(`market has ${rows} rows, expected ${S.assets * S.days * 1440}`);
  result.inputs.market_11m = {
    assets: S.assets,
    days: S.days,
    interval_ms: MINUTE_MS,
    rows,
    present_rows: presentRows,
    seed: SEED,
    start: new Date(START_MS).toISOString(),
    generator: `engine.synthMarket({ nAssets: ${S.assets}, nDays: ${S.days}, baseIntervalMs: 60000, seed: ${SEED}, listingDay: all 0 }) — the default regime market with every asset listed from day 0, so every row exists as in the peers' set`,
    bytes_in_memory: grids.reduce((s, g) => s + gridBytes(g), 0),
    bytes_per_row_in_memory: gridBytes(grids[0]) / grids[0].present.length,
    generate_s: sig(gen.s),
    generate_threads: engine.threads(),
  };
  log(`  ${rows} rows (${presentRows} present) in ${gen.s.toFixed(2)} s`);
  if (presentRows < rows) {
    notes.push(
      `The synthetic market has exchange maintenance windows (bars missing for every asset): ${rows - presentRows} of ${rows} 1-minute rows are absent (${sig((100 * (rows - presentRows)) / rows, 2)} %). Resample inputs are the full grids (${rows} rows, absent rows marked); the CSV files hold the ${presentRows} present rows.`,
    );
  }

  // ---- correctness of resample before timing it ----------------------------------------------
  log('checking resample against the JS reference');
  {
    const k = S.assets - 1; // the lowest-priced asset
    const [d] = await engine.resample([grids[k]], DAY_MS);
    const c1 = checkResample(d, grids[k], DAY_MS, `asset ${symbol(k)}, 1m→1d`);
    const [h] = await engine.resample([grids[0]], HOUR_MS);
    const c2 = checkResample(h, grids[0], HOUR_MS, `asset ${symbol(0)}, 1m→1h`);
    const [hd] = await engine.resample([h], DAY_MS);
    const [d0] = await engine.resample([grids[0]], DAY_MS);
    for (const col of ['open', 'high', 'low', 'close']) {
      const i = firstDiff(hd[col], d0[col]);
      if (i >= 0) fail(`chain 1m→1h→1d ${col} differs from direct 1m→1d at day ${i}: ${hd[col][i]} vs ${d0[col][i]}`);
    }
    let maxRel = 0;
    for (let i = 0; i < d0.volume.length; i++) {
      if (!d0.present[i]) continue;
      maxRel = Math.max(maxRel, Math.abs(hd.volume[i] - d0.volume[i]) / Math.abs(d0.volume[i]));
    }
    if (!(maxRel <= 1e-12)) fail(`chain 1m→1h→1d volume differs from direct by ${maxRel} (relative)`);
    result.correctness.resample_1m_1d_vs_js_reference = { asset: symbol(k), ...c1 };
    result.correctness.resample_1m_1h_vs_js_reference = { asset: symbol(0), ...c2 };
    result.correctness.chain_vs_direct_1d = { asset: symbol(0), ohlc_exact: true, volume_max_rel_diff: maxRel };
  }

  sections.push(sec.end());
  // ---- resample ------------------------------------------------------------------------------
  sec = await begin('resample');
  const ops = {
    '1h': () => engine.resample(grids, HOUR_MS),
    '1d': () => engine.resample(grids, DAY_MS),
    chain_1h_1d: async () => engine.resample(await engine.resample(grids, HOUR_MS), DAY_MS),
  };
  const firstResult = {};
  const sameAs = (label) => (out, run) => {
    if (run !== 0) return;
    if (!firstResult[label]) {
      firstResult[label] = out;
      return;
    }
    out.forEach((g, k) => {
      for (const col of ['open', 'high', 'low', 'close', 'volume', 'rv']) {
        const i = firstDiff(g[col], firstResult[label][k][col]);
        if (i >= 0) fail(`${label} at ${engine.threads()} threads differs from 1 thread: asset ${k} ${col}[${i}]`);
      }
    });
  };
  for (const th of THREADS) {
    engine.setThreads(th);
    const key = `threads_${th}`;
    result.resample[key] = {};
    for (const [name, fn] of Object.entries(ops)) {
      log(`resample ${name}, ${th} thread(s), ${RUNS} runs`);
      const r = await timeRuns(RUNS, fn, sameAs(name));
      result.resample[key][name] = {
        ...r,
        rows_per_s: sig(rows / r.median_s),
        input_GB_per_s_at_41_B_per_row: gb(rows * BYTES_OHLCV_PRESENT, r.median_s),
        input_GB_per_s_at_81_B_per_row: gb(rows * BYTES_KERNEL_READS, r.median_s),
      };
      log(`  median ${r.median_s} s (runs ${r.runs_s.join(', ')})`);
    }
  }
  result.correctness.resample_same_result_at_1_and_2_threads = true;
  sections.push(sec.end());
  engine.setThreads(defaultThreads);
  result.resample.rows = rows;
  result.resample.output_bars = { '1h': S.assets * S.days * 24, '1d': S.assets * S.days };
  result.resample.how =
    'engine.resample(all 13 grids, targetMs): one call, threaded across assets; chain = resample to 1h, then the 1h result to 1d';
  result.resample.bandwidth_context = {
    copy_GB_per_s: result.memory_bandwidth.copy_dst_set_src.GB_per_s,
    read_GB_per_s: result.memory_bandwidth.sum_loop.read_GB_per_s,
    bytes_per_row_41: 'OHLCV (5 × 8 B) + present (1 B), as in the brief',
    bytes_per_row_81: 'what the kernel reads per row: 9 f64 columns (OHLCV, quote volume, trades, 2 taker volumes) + n_sub, n_expected (u32) + present',
    bytes_per_row_copied_in: 93,
    copied_in_note: 'every call first copies all 14 columns of every input grid (10 × f64, 3 × u32, 1 × u8 = 93 B/row) from JS into Rust on the JS thread',
  };

  // ---- CSV: write once, check, then time parsing ------------------------------------------------
  const tmp = mkdtempSync(join(os.tmpdir(), 'regime-bench-'));
  let cleaned = false;
  const cleanup = () => {
    if (!cleaned) rmSync(tmp, { recursive: true, force: true });
    cleaned = true;
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    const csvPaths = grids.map((_, k) => join(tmp, `${symbol(k)}.csv`));
    const gzPaths = csvPaths.map((p) => `${p}.gz`);
    sec = await begin('csv_write_and_gzip');
    log(`writing ${S.assets} CSV files to ${tmp}`);
    const w = await timeOnce(() =>
      writeCsvFiles(
        grids.map((g, k) => ({
          path: csvPaths[k],
          start: g.start,
          intervalMs: g.intervalMs,
          open: g.open,
          high: g.high,
          low: g.low,
          close: g.close,
          volume: g.volume,
          present: g.present,
        })),
        result.machine.threads.csv_writer_workers,
      ),
    );
    const csvRows = w.out.reduce((s, r) => s + r.rows, 0);
    const csvBytes = csvPaths.reduce((s, p) => s + statSync(p).size, 0);
    if (csvBytes !== w.out.reduce((s, r) => s + r.bytes, 0)) fail('CSV writer: bytes on disk differ from bytes written');
    log(`  ${csvRows} rows, ${(csvBytes / 1e9).toFixed(2)} GB in ${w.s.toFixed(1)} s; gzip (level ${GZIP_LEVEL}) …`);
    const z = await timeOnce(() =>
      Promise.all(csvPaths.map((p, k) => pipeline(createReadStream(p, { highWaterMark: 1 << 20 }), createGzip({ level: GZIP_LEVEL }), createWriteStream(gzPaths[k])))),
    );
    const gzBytes = gzPaths.reduce((s, p) => s + statSync(p).size, 0);
    log(`  ${(gzBytes / 1e6).toFixed(0)} MB gzip in ${z.s.toFixed(1)} s`);
    const oneBytes = statSync(csvPaths[0]).size;
    const oneGzBytes = statSync(gzPaths[0]).size;
    const oneRows = w.out.find((r) => r.path === csvPaths[0]).rows;
    result.inputs.csv = {
      format: 'normalized kline CSV: header open_time,open,high,low,close,volume,close_time,quote_volume,trades,taker_buy_base,taker_buy_quote; last four columns empty; one file per asset',
      number_format: 'String(x): the shortest decimal that round-trips to the same double (up to 17 significant digits)',
      files: S.assets,
      rows: csvRows,
      bytes: csvBytes,
      bytes_per_row: sig(csvBytes / csvRows),
      peer_bytes_per_row: PEERS.csv_bytes_per_row,
      gz_bytes: gzBytes,
      gz_level: GZIP_LEVEL,
      one_file: { symbol: symbol(0), rows: oneRows, bytes: oneBytes, gz_bytes: oneGzBytes },
      write_s: sig(w.s),
      write_how: `JS, ${result.machine.threads.csv_writer_workers} worker threads, ~2 MB string chunks, fs.writeSync`,
      gzip_s: sig(z.s),
      gzip_how: `node:zlib createGzip level ${GZIP_LEVEL}, 13 streams concurrently on the libuv threadpool`,
    };
    notes.push(
      `csv.gz files are gzip level ${GZIP_LEVEL} (node:zlib); the peers' 506 MB files came from pandas' gzip writer. Decompression speed depends little on the level, but sizes and write times are not like for like.`,
    );

    sections.push(sec.end());
    sec = await begin('csv_parse');
    log('checking parsed CSV against the generated bars');
    {
      const last = S.assets - 1;
      const a = await engine.readKlines(csvPaths[0]);
      const b = await engine.readKlines(gzPaths[0]);
      const c = await engine.readKlines(csvPaths[last]);
      checkParsed(a, grids[0], `${symbol(0)}.csv`);
      checkParsed(b, grids[0], `${symbol(0)}.csv.gz`);
      checkParsed(c, grids[last], `${symbol(last)}.csv`);
      result.correctness.csv_parse_equals_generated = {
        checked_before_timing: [`${symbol(0)}.csv`, `${symbol(0)}.csv.gz`, `${symbol(last)}.csv`],
        columns: ['open', 'high', 'low', 'close', 'volume', 'present'],
        exact: true,
        after_timing: 'closes of all 13 files compared exactly after the first timed run of each concurrent read',
      };
    }

    const allCheck = (label) => (outs, run) => {
      if (run === 0) outs.forEach((o, k) => checkParsed(o, grids[k], `${label} ${symbol(k)}`, ['close']));
    };
    const parse = {};
    const cases = [
      ['csv_all_13_concurrent', () => Promise.all(csvPaths.map((p) => engine.readKlines(p))), csvRows, csvBytes, allCheck('csv')],
      ['csv_one_file', () => engine.readKlines(csvPaths[0]), oneRows, oneBytes],
      ['csv_gz_all_13_concurrent', () => Promise.all(gzPaths.map((p) => engine.readKlines(p))), csvRows, gzBytes, allCheck('csv.gz')],
      ['csv_gz_one_file', () => engine.readKlines(gzPaths[0]), oneRows, oneGzBytes],
    ];
    for (const [name, fn, n, bytes, check] of cases) {
      log(`parse ${name}, ${RUNS} runs`);
      const r = await timeRuns(RUNS, fn, check);
      parse[name] = { ...r, rows: n, file_bytes: bytes, rows_per_s: sig(n / r.median_s), file_MB_per_s: sig(bytes / r.median_s / 1e6) };
      log(`  median ${r.median_s} s = ${(n / r.median_s / 1e6).toFixed(2)} M rows/s`);
    }
    result.csv = {
      how: 'engine.readKlines(path) per file (validates every row, places bars on a grid); "all 13" = Promise.all of 13 calls',
      ...parse,
    };

    sections.push(sec.end());
    // ---- Arrow IPC -------------------------------------------------------------------------
    sec = await begin('arrow_ipc');
    log('Arrow IPC: buildBarSets(1m) + writeBarSet');
    const arrowPath = join(tmp, 'bars-1m.arrow');
    const built = await timeOnce(() =>
      buildBarSets(
        grids.map((g, k) => ({ symbol: symbol(k), native: { '1m': g } })),
        { intervals: ['1m'], meta: { synthetic: { seed: SEED, days: S.days } } },
      ),
    );
    let set = built.out.sets.get('1m');
    const wr = await timeOnce(() => writeBarSet(arrowPath, set));
    set = built.out = null; // let the 1 GB BarSet go before timing the loads
    const arrowBytes = statSync(arrowPath).size;
    log(`  ${(arrowBytes / 1e9).toFixed(2)} GB written in ${wr.s.toFixed(1)} s; timing readBarSet`);
    const rd = await timeRuns(RUNS, () => readBarSet(arrowPath), (s, run) => {
      if (run !== 0) return;
      if (s.assets.length !== S.assets || s.length !== grids[0].present.length) fail(`readBarSet: ${s.assets.length} assets × ${s.length} rows`);
      s.assets.forEach((a, k) => {
        for (const col of ['open', 'high', 'low', 'close', 'volume']) {
          const i = firstDiff(a.bars[col], grids[k][col]);
          if (i >= 0) fail(`readBarSet: ${a.symbol} ${col}[${i}] is ${a.bars[col][i]}, generated ${grids[k][col][i]}`);
        }
      });
    });
    result.arrow_ipc = {
      what: '1-minute BarSet of the 11.1M-row market (13 assets, one record batch per asset, 20 columns)',
      file_bytes: arrowBytes,
      bytes_per_row: sig(arrowBytes / rows),
      build_bar_sets_s: sig(built.s),
      write_s: sig(wr.s),
      write_how: 'writeBarSet: barSetToIPC + atomic write (temp file, fsync, rename)',
      load: { ...rd, rows_per_s: sig(rows / rd.median_s), how: 'readBarSet(path): readFileSync + tableFromIPC + columns to typed arrays' },
    };
    result.correctness.arrow_roundtrip_equals_generated = { columns: ['open', 'high', 'low', 'close', 'volume'], exact: true };
    log(`  load median ${rd.median_s} s`);
    sections.push(sec.end());
  } finally {
    cleanup();
  }

  // ---- allocator diagnostic (children) ---------------------------------------------------------
  const diagArgs = { assets: S.assets, days: S.days, seed: SEED, startMs: START_MS, runs: RUNS };
  sec = await begin('diagnostic_children');
  log('diagnostic: resample call breakdown, default malloc vs no-trim malloc (2 child processes)');
  const diagDefault = await runChild('diag-alloc.mjs', diagArgs);
  const diagNoTrim = await runChild('diag-alloc.mjs', diagArgs, NO_TRIM_ENV);
  sections.push(sec.end(diagDefault.cpu_s + diagNoTrim.cpu_s));
  result.diagnostics.resample_allocator = {
    what: 'diag-alloc.mjs run twice in fresh processes: engine.resample(13 grids, 1h) at 1 and 2 threads, resampleSync asset by asset, and the boundary copy alone (reframeSync to an empty range), with page faults and CPU split',
    default_malloc: diagDefault,
    no_trim_malloc: { env: NO_TRIM_ENV, ...diagNoTrim },
  };

  // ---- peers -----------------------------------------------------------------------------------
  const t1 = result.resample.threads_1;
  const t2 = result.resample.threads_2;
  const cmp = (task, pandas_s, ours1, ours2, extra = {}) => ({
    task,
    pandas_s,
    ours_s_1_thread: ours1,
    speedup_1_thread: pandas_s && ours1 ? sig(pandas_s / ours1, 3) : null,
    ...(ours2 !== undefined ? { ours_s_2_threads: ours2, speedup_2_threads: pandas_s && ours2 ? sig(pandas_s / ours2, 3) : null } : {}),
    ...extra,
  });
  result.peers.comparisons = [
    cmp('resample 1m→1h, 11,100,960 rows, 13 assets', PEERS.resample_1h_s, t1['1h'].median_s, t2['1h'].median_s),
    cmp('resample 1m→1d, 11,100,960 rows, 13 assets', PEERS.resample_1d_s, t1['1d'].median_s, t2['1d'].median_s),
    cmp('resample chain 1m→1h→1d (no pandas figure)', null, t1.chain_1h_1d.median_s, t2.chain_1h_1d.median_s),
    {
      task: 'parse normalized CSV, 13 files (pandas: read_csv one after another; ours: 13 readKlines concurrently on 2 cores)',
      pandas_s: PEERS.read_csv_s,
      ours_s: result.csv.csv_all_13_concurrent.median_s,
      speedup: sig(PEERS.read_csv_s / result.csv.csv_all_13_concurrent.median_s, 3),
      pandas_rows_per_s: PEERS.read_csv_rows_per_s,
      ours_rows_per_s: result.csv.csv_all_13_concurrent.rows_per_s,
    },
    {
      task: 'parse normalized CSV, single-stream rate (ours: one file alone, one thread)',
      pandas_rows_per_s: PEERS.read_csv_rows_per_s,
      ours_rows_per_s: result.csv.csv_one_file.rows_per_s,
      speedup: sig(result.csv.csv_one_file.rows_per_s / PEERS.read_csv_rows_per_s, 3),
    },
    {
      task: 'parse normalized CSV.gz, 13 files (ours concurrent)',
      pandas_s: PEERS.read_csv_gz_s,
      ours_s: result.csv.csv_gz_all_13_concurrent.median_s,
      speedup: sig(PEERS.read_csv_gz_s / result.csv.csv_gz_all_13_concurrent.median_s, 3),
      pandas_rows_per_s: PEERS.read_csv_gz_rows_per_s,
      ours_rows_per_s: result.csv.csv_gz_all_13_concurrent.rows_per_s,
    },
    {
      task: 'parse normalized CSV.gz, single-stream rate (ours: one file alone)',
      pandas_rows_per_s: PEERS.read_csv_gz_rows_per_s,
      ours_rows_per_s: result.csv.csv_gz_one_file.rows_per_s,
      speedup: sig(result.csv.csv_gz_one_file.rows_per_s / PEERS.read_csv_gz_rows_per_s, 3),
    },
    {
      task: 'CSV size per row (same format, 17-digit synthetic prices)',
      pandas_bytes_per_row: PEERS.csv_bytes_per_row,
      ours_bytes_per_row: result.inputs.csv.bytes_per_row,
    },
  ];
  notes.push(
    'Peer figures are copied from PEERS.md (measured earlier, not in this run); PEERS.md itself reports up to 1.6× between repeated runs on its VM, so ratios within that band are not a clear difference.',
    'pandas resample computes OHLCV only; engine.resample also sums quote volume, trades and taker volumes, counts coverage (n_sub, n_expected) and computes realized variance (two logs per row), and its time includes copying the inputs across the napi boundary.',
    'readKlines validates every row (prices > 0, low ≤ open/close ≤ high, increasing timestamps) and places the bars on a complete grid; pandas read_csv does neither.',
    `Resample "input GB/s" is rows/s × bytes per row, to set against the memory bandwidth reference (dst.set(src) on 1 GiB, ${result.memory_bandwidth.copy_dst_set_src.GB_per_s} GB/s copied; sum loop ${result.memory_bandwidth.sum_loop.read_GB_per_s} GB/s read).`,
    `PEERS.md was measured on an ${PEERS.machine.split(';')[0]}; this run's CPU is "${result.machine.cpu_model}" × ${result.machine.cpu_count}. The ratios compare across machines.`,
    `Not measured: pandas in this run (no Python peers are run here); resample at 50M with more than one asset per call; writing CSV with pandas' exact float formatting.`,
  );

  // ---- summary ----------------------------------------------------------------------------------
  const diagD = result.diagnostics.resample_allocator;
  const big = result.large_50m;
  result.summary = {
    rows_11m: rows,
    resample_1h_rows_per_s: { threads_1: t1['1h'].rows_per_s, threads_2: t2['1h'].rows_per_s },
    resample_1d_rows_per_s: { threads_1: t1['1d'].rows_per_s, threads_2: t2['1d'].rows_per_s },
    resample_chain_rows_per_s: { threads_1: t1.chain_1h_1d.rows_per_s, threads_2: t2.chain_1h_1d.rows_per_s },
    resample_1h_s_vs_pandas_0_80: { threads_1: t1['1h'].median_s, threads_2: t2['1h'].median_s },
    resample_1d_s_vs_pandas_0_74: { threads_1: t1['1d'].median_s, threads_2: t2['1d'].median_s },
    resample_1h_s_no_trim_malloc: {
      threads_1: diagD.no_trim_malloc.resample_1h_all_assets_threads_1.median_s,
      threads_2: diagD.no_trim_malloc.resample_1h_all_assets_threads_2.median_s,
    },
    csv_parse_rows_per_s: {
      plain_13_concurrent: result.csv.csv_all_13_concurrent.rows_per_s,
      plain_one_file: result.csv.csv_one_file.rows_per_s,
      gz_13_concurrent: result.csv.csv_gz_all_13_concurrent.rows_per_s,
      gz_one_file: result.csv.csv_gz_one_file.rows_per_s,
    },
    arrow_load_s: result.arrow_ipc.load.median_s,
    arrow_file_bytes: result.arrow_ipc.file_bytes,
    peak_rss_50m_mib: big.peak_rss_mib,
    rows_50m: big.rows,
    resample_50m_rows_per_s: { '1h': big.resample['1h'].rows_per_s, '1d': big.resample['1d'].rows_per_s, chain: big.resample.chain_1h_1d.rows_per_s },
    memory_copy_GB_per_s: result.memory_bandwidth.copy_dst_set_src.GB_per_s,
    memory_read_GB_per_s: result.memory_bandwidth.sum_loop.read_GB_per_s,
  };
  result.main_process_peak_rss_mib = Math.round(process.resourceUsage().maxRSS / 1024);
  const addonAtEnd = addonHash();
  if (result.machine.native_addon && addonAtEnd && addonAtEnd.sha256_16 !== result.machine.native_addon.sha256_16) {
    notes.push(
      `The native addon file changed during the run (${result.machine.native_addon.sha256_16} → ${addonAtEnd.sha256_16}, rebuilt at ${addonAtEnd.mtime}); child processes started after that loaded the new build. Rerun for consistent figures.`,
    );
  }
  result.background_load.loadavg_at_end = os.loadavg().map((x) => sig(x, 3));
  const busy = sections.filter((x) => x.other_processes_cpu_cores_avg !== null && x.other_processes_cpu_cores_avg > 0.2);
  if (busy.length) {
    notes.push(
      `Other processes were busy during: ${busy.map((x) => `${x.section} (${x.other_processes_cpu_cores_avg} cores on average)`).join(', ')}. Those figures were taken on a partly occupied machine; rerun when it is idle to compare.`,
    );
  }
  result.duration_s = sig((performance.now() - t0) / 1000);

  const json = JSON.stringify(result, null, 2) + '\n';
  const outDir = join(ROOT, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, `data-${started.toISOString().replace(/[:.]/g, '-')}${QUICK ? '-quick' : ''}.json`);
  writeFileSync(outFile, json);
  process.stdout.write(json);
  log(`done in ${result.duration_s} s; wrote ${relative(ROOT, outFile)}`);
}

main().catch((e) => {
  if (e instanceof BenchError) {
    process.stderr.write(`\n${e.message}\nAborting; no results were written.\n`);
  } else {
    process.stderr.write(`\nbenchmark failed: ${e?.stack ?? e}\n`);
  }
  process.exit(1);
});
