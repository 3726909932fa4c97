// `regime run`: the main job. Every capability is a step; a step whose inputs have not changed
// since its last run is skipped (the manifest knows). Now: bars (ingest of the configured or
// given sources, else the synthetic market), then info.
import type { Context } from '../context.js';
import { formatIngest, runIngest } from './ingest.js';
import { formatSynth, runSynth } from './synth.js';
import { formatInfo, runInfo } from './info.js';
import { formatFeatures, runFeatures } from './features.js';
import { storedIntervals } from '@regime/data';
import { formatLabel, runLabel } from './label.js';

export interface RunArgs {
  paths: string[];
  seed?: number;
}

export async function runPipeline(ctx: Context, a: RunArgs) {
  const sources = a.paths.length ? a.paths : ctx.config.data.sources;
  const steps: Array<{ step: string; skipped: boolean; ms: number }> = [];
  const t0 = performance.now();
  ctx.ui.say(`step 1/4 bars: ${sources.length ? `ingest ${sources.join(', ')}` : 'synthetic market (no data given)'}`);
  let bars;
  if (sources.length) {
    bars = await runIngest(ctx, { paths: sources, skipIfFresh: true });
    if (!bars.skipped) ctx.ui.say(formatIngest(bars));
  } else {
    bars = await runSynth(ctx, { ...(a.seed !== undefined ? { seed: a.seed } : {}), skipIfFresh: true });
    if (!bars.skipped) ctx.ui.say(formatSynth(bars));
  }
  steps.push({ step: 'bars', skipped: bars.skipped, ms: performance.now() - t0 });
  const t1 = performance.now();
  ctx.ui.say('step 2/4 info');
  const info = runInfo(ctx);
  ctx.ui.say(formatInfo(info));
  steps.push({ step: 'info', skipped: false, ms: performance.now() - t1 });
  const t2 = performance.now();
  const have = storedIntervals(ctx.workdir);
  const sets = ctx.config.features.sets.filter((s) => have.includes(s === 'daily' ? '1d' : '1h'));
  ctx.ui.say(`step 3/4 features: ${sets.join(', ')}`);
  const features = await runFeatures(ctx, sets, { skipIfFresh: true });
  ctx.ui.say(formatFeatures(features));
  steps.push({ step: 'features', skipped: features.every((f) => f.skipped), ms: performance.now() - t2 });
  const t3 = performance.now();
  ctx.ui.say('step 4/4 labels: vol, trend, cross');
  const labels = have.includes('1d') ? await runLabel(ctx, { ...(a.seed !== undefined ? { seed: a.seed } : {}), skipIfFresh: true }) : undefined;
  if (labels) ctx.ui.say(formatLabel(labels));
  steps.push({ step: 'labels', skipped: !labels || labels.skipped, ms: performance.now() - t3 });
  return { workdir: ctx.workdir, source: sources.length ? 'files' : 'synthetic', steps, bars, info, features, labels };
}
