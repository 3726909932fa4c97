// Helpers shared by the benchmark driver (run.mjs) and its 50M-row child (big.mjs).
// Plain Node ESM, no dependencies beyond the workspace packages.

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
