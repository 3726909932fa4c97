// The 50M-row size of the data benchmark, run in its own `node` process by run.mjs (first, while
// the parent is still small) so that its peak RSS is this run's own. The market is never held in
// memory at once: each asset is generated alone (synthMarket with nAssets 1 and its own seed), checked
// (asset 0), resampled, and dropped before the next. Prints one JSON object to stdout.
import * as engine from '@regime/engine';
import { readFileSync } from 'node:fs';
import { assetAlone, checkResample, DAY_MS, gridBytes, HOUR_MS, log, median, sig, MINUTE_MS } from './lib.mjs';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const assets = cfg.assets ?? 13;
const days = cfg.days ?? 2671;
const seedBase = cfg.seedBase ?? 1000;
const runs = cfg.runs ?? 3;
const startMs = cfg.startMs ?? Date.UTC(2020, 0, 1);
if (cfg.threads) engine.setThreads(cfg.threads);

const ops = {
  '1h': async (g) => engine.resample([g], HOUR_MS),
  '1d': async (g) => engine.resample([g], DAY_MS),
  chain_1h_1d: async (g) => engine.resample(await engine.resample([g], HOUR_MS), DAY_MS),
};
// perRun[op][r] = seconds of repetition r summed over assets.
const perRun = Object.fromEntries(Object.keys(ops).map((k) => [k, new Array(runs).fill(0)]));
let genS = 0;
let rows = 0;
let presentRows = 0;
let gridBytesPerAsset = 0;
const rssAfterAsset = [];
let check = null;

for (let k = 0; k < assets; k++) {
  let t = performance.now();
  let m = await engine.synthMarket({ nAssets: 1, nDays: days, baseIntervalMs: MINUTE_MS, seed: seedBase + k, startMs, ...assetAlone(k) });
  genS += (performance.now() - t) / 1000;
  let g = m.assets[0];
  m = null;
  rows += g.present.length;
  for (let i = 0; i < g.present.length; i++) presentRows += g.present[i];
  gridBytesPerAsset = gridBytes(g);
  if (k === 0) {
    const [d] = await engine.resample([g], DAY_MS);
    check = checkResample(d, g, DAY_MS, `50M set, asset 0, 1m→1d`);
  }
  for (const [name, fn] of Object.entries(ops)) {
    for (let r = 0; r < runs; r++) {
      t = performance.now();
      await fn(g);
      perRun[name][r] += (performance.now() - t) / 1000;
    }
  }
  g = null;
  rssAfterAsset.push(Math.round(process.memoryUsage().rss / 2 ** 20));
  log(`  50M child: asset ${k + 1}/${assets} done (rss ${rssAfterAsset.at(-1)} MiB)`);
}

// maxRSS (getrusage) is in KiB. On Linux it can include the parent's RSS at fork time (the
// kernel carries the pre-exec high-water mark over exec), so VmHWM of /proc/self/status, the
// peak of this process's own address space, is reported beside it and preferred where present.
const maxRssBytes = process.resourceUsage().maxRSS * 1024;
let vmHwmBytes = null;
try {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (m) vmHwmBytes = Number(m[1]) * 1024;
} catch {
  // not Linux
}
const peakBytes = vmHwmBytes ?? maxRssBytes;
const resample = Object.fromEntries(
  Object.entries(perRun).map(([name, rs]) => {
    const med = median(rs);
    return [name, { median_s: sig(med), runs_s: rs.map((x) => sig(x)), rows_per_s: sig(rows / med) }];
  }),
);
process.stdout.write(
  JSON.stringify({
    assets,
    days,
    interval_ms: MINUTE_MS,
    rows,
    present_rows: presentRows,
    seeds: `${seedBase}..${seedBase + assets - 1} (asset k uses seed ${seedBase}+k)`,
    grid_bytes_per_asset: gridBytesPerAsset,
    grid_bytes_total_if_held_at_once: gridBytesPerAsset * assets,
    threads: engine.threads(),
    generate_s: sig(genS),
    correctness: check,
    resample,
    peak_rss_bytes: peakBytes,
    peak_rss_mib: Math.round(peakBytes / 2 ** 20),
    peak_rss_source: vmHwmBytes !== null ? '/proc/self/status VmHWM' : 'process.resourceUsage().maxRSS',
    resource_usage_max_rss_bytes: maxRssBytes,
    vm_hwm_bytes: vmHwmBytes,
    rss_after_each_asset_mib: rssAfterAsset,
    cpu_s: sig((process.resourceUsage().userCPUTime + process.resourceUsage().systemCPUTime) / 1e6),
  }) + '\n',
);
