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
import { formatTrain, runTrain } from './train.js';
import { formatInfer, runInfer, type InferResult } from './infer.js';

export interface RunArgs {
  paths: string[];
  seed?: number;
}

export async function runPipeline(ctx: Context, a: RunArgs) {
  const sources = a.paths.length ? a.paths : ctx.config.data.sources;
  const steps: Array<{ step: string; skipped: boolean; ms: number }> = [];
  const t0 = performance.now();
  ctx.ui.say(`step 1/5 bars: ${sources.length ? `ingest ${sources.join(', ')}` : 'synthetic market (no data given)'}`);
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
  ctx.ui.say('step 2/5 info');
  const info = runInfo(ctx);
  ctx.ui.say(formatInfo(info));
  steps.push({ step: 'info', skipped: false, ms: performance.now() - t1 });
  const t2 = performance.now();
  const have = storedIntervals(ctx.workdir);
  const sets = ctx.config.features.sets.filter((s) => have.includes(s === 'daily' ? '1d' : '1h'));
  ctx.ui.say(`step 3/5 features: ${sets.join(', ')}`);
  const features = await runFeatures(ctx, sets, { skipIfFresh: true });
  ctx.ui.say(formatFeatures(features));
  steps.push({ step: 'features', skipped: features.every((f) => f.skipped), ms: performance.now() - t2 });
  const t3 = performance.now();
  ctx.ui.say('step 4/5 labels: vol, trend, cross');
  const labels = have.includes('1d') ? await runLabel(ctx, { ...(a.seed !== undefined ? { seed: a.seed } : {}), skipIfFresh: true }) : undefined;
  if (labels) ctx.ui.say(formatLabel(labels));
  steps.push({ step: 'labels', skipped: !labels || labels.skipped, ms: performance.now() - t3 });
  const t4 = performance.now();
  ctx.ui.say('step 5/5 models: train (or reuse up-to-date models), then the latest regimes');
  const models = labels ? await runTrain(ctx, { skipIfFresh: true, lenient: true }) : undefined;
  if (models) ctx.ui.say(formatTrain(models));
  const latest: InferResult[] = [];
  if (models?.models.some((m) => !m.reason)) {
    // The latest regimes of the anchor asset (or the first), from the ONNX models.
    const symbols = info.find((i) => i.interval === '1d')?.assets.map((x) => x.symbol) ?? [];
    const asset = symbols.includes(ctx.config.features.anchor ?? 'BTCUSDT') ? (ctx.config.features.anchor ?? 'BTCUSDT') : symbols[0];
    if (asset) {
      const r = await runInfer(ctx, { asset });
      latest.push(r);
      ctx.ui.say(formatInfer(r));
    }
  }
  steps.push({ step: 'models', skipped: !models || models.models.every((m) => m.skipped), ms: performance.now() - t4 });
  return { workdir: ctx.workdir, source: sources.length ? 'files' : 'synthetic', steps, bars, info, features, labels, models, latest };
}
