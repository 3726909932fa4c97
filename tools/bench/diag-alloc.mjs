// Diagnostic child of run.mjs (not a headline figure): where the time of engine.resample goes.
// Generates the same 11.1M-row market as run.mjs and times, median of N runs:
//  - engine.resample(all 13 grids, 1h) at 1 and 2 threads (the headline call, repeated here so it
//    runs under whatever allocator settings this process was started with);
//  - engine.resampleSync(grid, 1h) asset by asset (same kernel, one asset's copy at a time);
//  - the boundary copy alone: engine.reframeSync(grid, start, start) copies every column of the
//    grid into Rust (as every entry point does) and returns an empty grid;
// and the minor page faults and user/system CPU seconds of each. run.mjs starts it twice: with
// the default glibc malloc settings and with trimming off, to show how much of a resample call is
// the kernel and how much is first-touch page faults of the per-call input copy.
import * as engine from '@regime/engine';
import { HOUR_MS, MINUTE_MS, median, sig } from './lib.mjs';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const runs = cfg.runs ?? 3;
const m = await engine.synthMarket({
  nAssets: cfg.assets,
  nDays: cfg.days,
  baseIntervalMs: MINUTE_MS,
  seed: cfg.seed,
  startMs: cfg.startMs,
  listingDay: new Array(cfg.assets).fill(0),
});
const grids = m.assets;

async function measure(fn) {
  const times = [];
  const ru0 = process.resourceUsage();
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    await fn();
    times.push((performance.now() - t) / 1000);
  }
  const ru = process.resourceUsage();
  return {
    median_s: sig(median(times)),
    runs_s: times.map((x) => sig(x)),
    minor_page_faults_per_run: Math.round((ru.minorPageFault - ru0.minorPageFault) / runs),
    user_cpu_s_per_run: sig((ru.userCPUTime - ru0.userCPUTime) / 1e6 / runs),
    system_cpu_s_per_run: sig((ru.systemCPUTime - ru0.systemCPUTime) / 1e6 / runs),
  };
}

const out = {};
for (const th of [1, 2]) {
  engine.setThreads(th);
  out[`resample_1h_all_assets_threads_${th}`] = await measure(() => engine.resample(grids, HOUR_MS));
}
engine.setThreads(1);
out.resampleSync_1h_asset_by_asset = await measure(() => {
  for (const g of grids) engine.resampleSync(g, HOUR_MS);
});
out.copy_in_only_reframeSync_empty = await measure(() => {
  for (const g of grids) engine.reframeSync(g, g.start, g.start);
});
const ru = process.resourceUsage();
out.cpu_s = sig((ru.userCPUTime + ru.systemCPUTime) / 1e6);
process.stdout.write(JSON.stringify(out) + '\n');
