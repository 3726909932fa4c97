// Helpers shared by the benchmark driver (run.mjs) and its child processes (big.mjs, diag-alloc.mjs).
// Plain Node ESM, no dependencies beyond the workspace packages.
import { readFileSync } from 'node:fs';

const T0 = performance.now();

/** Progress to stderr, so stdout carries only the JSON document. */
export function log(msg) {
  const s = ((performance.now() - T0) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${s}s] ${msg}\n`);
}

export function median(xs) {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

/** Round for the JSON (keeps 4 significant digits, enough for timings on a noisy VM). */
export function sig(x, digits = 4) {
  if (!Number.isFinite(x) || x === 0) return x;
  return Number(x.toPrecision(digits));
}

/** Seconds of one call of `fn` (awaited). */
export async function timeOnce(fn) {
  const t = performance.now();
  const out = await fn();
  return { s: (performance.now() - t) / 1000, out };
}

/**
 * Run `fn(i)` `n` times back to back (no separate warm-up run) and return the median and all
 * runs in seconds. `check(out, i)` (optional) runs after each run, outside the timed region.
 */
export async function timeRuns(n, fn, check) {
  const runs = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const out = await fn(i);
    runs.push((performance.now() - t) / 1000);
    if (check) check(out, i);
  }
  return { median_s: sig(median(runs)), runs_s: runs.map((x) => sig(x)) };
}

export class BenchError extends Error {}

/** Abort the benchmark with a clear message (llm.c style: never time a wrong result). */
export function fail(msg) {
  throw new BenchError(`CORRECTNESS CHECK FAILED: ${msg}`);
}

/**
 * The simple JS reference aggregation the native resample is held to: per UTC bin of
 * `targetMs`, over the present fine rows in time order, open = first open, high = max,
 * low = min, close = last close, volume = sum (summed left to right).
 */
export function referenceResample(g, targetMs) {
  const bins = new Map();
  const n = g.present.length;
  for (let i = 0; i < n; i++) {
    if (!g.present[i]) continue;
    const t = g.start + i * g.intervalMs;
    const b = Math.floor(t / targetMs) * targetMs;
    let r = bins.get(b);
    if (!r) {
      r = { open: g.open[i], high: g.high[i], low: g.low[i], close: g.close[i], volume: g.volume[i], n: 1 };
      bins.set(b, r);
    } else {
      if (g.high[i] > r.high) r.high = g.high[i];
      if (g.low[i] < r.low) r.low = g.low[i];
      r.close = g.close[i];
      r.volume += g.volume[i];
      r.n++;
    }
  }
  return bins;
}

/** Compare a native resample result with the reference, exactly (same operations, same order). */
export function checkResample(out, g, targetMs, label) {
  const ref = referenceResample(g, targetMs);
  let present = 0;
  for (let b = 0; b < out.present.length; b++) {
    const t = out.start + b * out.intervalMs;
    const r = ref.get(t);
    if (!out.present[b]) {
      if (r) fail(`${label}: bin ${new Date(t).toISOString()} missing in the engine result but has ${r.n} rows in the reference`);
      continue;
    }
    present++;
    if (!r) fail(`${label}: bin ${new Date(t).toISOString()} present in the engine result but empty in the reference`);
    for (const k of ['open', 'high', 'low', 'close', 'volume']) {
      if (!Object.is(out[k][b], r[k])) {
        fail(`${label}: ${k} of bin ${new Date(t).toISOString()} is ${out[k][b]} in the engine, ${r[k]} in the JS reference`);
      }
    }
    if (out.nSub[b] !== r.n) fail(`${label}: n_sub of bin ${new Date(t).toISOString()} is ${out.nSub[b]}, reference counts ${r.n} rows`);
  }
  if (present !== ref.size) fail(`${label}: ${present} present bins in the engine result, ${ref.size} in the reference`);
  return { bins: present, compared: ['open', 'high', 'low', 'close', 'volume', 'n_sub'], exact: true };
}

/** Exact equality of two Float64Arrays (NaN equals NaN); returns the first differing index or -1. */
export function firstDiff(a, b) {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** Sum of the sizes of a grid's typed-array columns, in bytes. */
export function gridBytes(g) {
  let s = 0;
  for (const v of Object.values(g)) if (ArrayBuffer.isView(v)) s += v.byteLength;
  return s;
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/** Bytes per 1-minute row of the columns named in the brief: OHLCV (5 × f64) + present (u8). */
export const BYTES_OHLCV_PRESENT = 41;
/**
 * Bytes per row the resample kernel actually reads: OHLCV, quote volume, trades and the two
 * taker volumes (9 × f64), n_sub and n_expected (2 × u32), present (u8).
 */
export const BYTES_KERNEL_READS = 9 * 8 + 2 * 4 + 1;

/** The per-asset options of the default market, for generating asset k of a market alone. */
export function assetAlone(k) {
  return { listingDay: [0], volScale: [1 + 0.08 * k], startPrice: [20_000 / 3 ** k] };
}

/**
 * Background load: how many cores other processes kept busy while a section ran. The benchmark
 * shares its machine (builds, tests); a number here near 1 on a 2-core machine means the
 * section's figures were taken with half the machine. Linux only (/proc/stat); null elsewhere.
 * `ownChildCpuS` adds the CPU seconds of child processes the section ran.
 */
export function startSection(name, idleWait = null) {
  const ticks = busyTicks;
  const selfCpu = () => {
    const r = process.resourceUsage();
    return (r.userCPUTime + r.systemCPUTime) / 1e6;
  };
  const t0 = performance.now();
  const b0 = ticks();
  const c0 = selfCpu();
  return {
    end(ownChildCpuS = 0) {
      // Sampled /proc/stat ticks are coarse (10 ms) and child CPU includes node start-up, so
      // values below ~0.05 cores are noise.
      const wall = (performance.now() - t0) / 1000;
      const b1 = ticks();
      const own = selfCpu() - c0 + ownChildCpuS;
      const busy = b0 === null || b1 === null ? null : (b1 - b0) / CLK_TCK;
      return {
        section: name,
        wall_s: sig(wall),
        own_cpu_cores_avg: sig(own / wall, 3),
        other_processes_cpu_cores_avg: busy === null ? null : sig(Math.max(0, busy - own) / wall, 2),
        ...(idleWait ? { waited_for_idle_s: idleWait.waited_s ?? 0, busy_cores_at_start: idleWait.busy_cores_when_started ?? null } : {}),
      };
    },
  };
}
const CLK_TCK = 100; // USER_HZ of /proc/stat on Linux

function busyTicks() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return f[0] + f[1] + f[2] + f[5] + f[6];
  } catch {
    return null;
  }
}

/** Cores kept busy by the whole machine over `ms` (this process sleeps meanwhile); null off Linux. */
export async function busyCores(ms) {
  const a = busyTicks();
  await new Promise((r) => setTimeout(r, ms));
  const b = busyTicks();
  return a === null || b === null ? null : (b - a) / CLK_TCK / (ms / 1000);
}

/**
 * Wait (up to maxWaitS) until other processes use less than `threshold` cores over `sampleMs`, so
 * a section does not start in the middle of someone's build. Returns what it saw.
 */
export async function waitForIdle(maxWaitS, threshold = 0.25, sampleMs = 2000) {
  const t0 = performance.now();
  let busy = await busyCores(sampleMs);
  if (busy === null) return { checked: false };
  let warned = false;
  while (busy >= threshold && (performance.now() - t0) / 1000 < maxWaitS) {
    if (!warned) log(`machine busy (${busy.toFixed(2)} cores used by other processes); waiting up to ${maxWaitS} s for it to settle`);
    warned = true;
    busy = await busyCores(sampleMs);
  }
  return { checked: true, waited_s: sig((performance.now() - t0) / 1000, 3), busy_cores_when_started: sig(busy, 2), idle_threshold_cores: threshold };
}
