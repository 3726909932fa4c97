// `regime train`: every model spec (models/*.yaml) on the stored daily features and labels;
// per model an ONNX graph, a JSON sidecar and a markdown report. A model whose inputs, spec and
// code have not changed since it was trained is skipped.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isUserError, loadBars, recordStep, stepIsFresh, UserError, writeFileAtomic, writeJsonAtomic } from '@regime/data';
import { featuresPath, readFeatures } from '@regime/features';
import { labelsPath } from '@regime/regimes';
import {
  buildGraphDataset,
  buildLstmDataset,
  describeDataset,
  loadSpecs,
  modelReport,
  readLabelsOnto,
  trainModel,
  type ModelSpec,
  type SplitEvaluation,
} from '@regime/models';
import type { Context } from '../context.js';

export const onnxPath = (workdir: string, name: string) => join(workdir, 'models', `${name}.onnx`);
export const sidecarPath = (workdir: string, name: string) => join(workdir, 'models', `${name}.json`);
export const modelReportPath = (workdir: string, name: string) => join(workdir, 'reports', `${name}.md`);

export interface TrainArgs {
  models?: string[];
  seeds?: number[];
  maxEpochs?: number;
  specs?: string;
  skipIfFresh?: boolean;
  /** `regime run`: a model the data cannot train (e.g. no validation days) is skipped with a warning, not an error. */
  lenient?: boolean;
}

export interface TrainSummary {
  models: Array<{
    name: string;
    skipped: boolean;
    /** Why a model was not trained (lenient mode). */
    reason?: string;
    samples?: string;
    seed?: number;
    validation?: Brief;
    test?: Brief;
    outputs: string[];
  }>;
}

interface Brief {
  macroF1: number;
  persistence: number;
  skill: boolean;
  verdict: string;
}

function brief(e: SplitEvaluation | undefined) {
  return e ? { macroF1: e.model.macroF1, persistence: e.baselines.persistence.macroF1, skill: e.verdict.skill, verdict: e.verdict.text } : undefined;
}

function fileHash(path: string, what: string): string {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    throw new UserError(`${path}: no ${what}; run \`regime run\` (or \`regime features\` and \`regime label\`) first`);
  }
}

export async function runTrain(ctx: Context, a: TrainArgs = {}): Promise<TrainSummary> {
  const cfg = ctx.config.train;
  const specs: ModelSpec[] = loadSpecs(a.specs ?? cfg.specs, a.models ?? cfg.models);
  const fp = featuresPath(ctx.workdir, 'daily');
  const lp = labelsPath(ctx.workdir);
  const dataHash = createHash('sha256').update(fileHash(fp, 'daily features')).update(fileHash(lp, 'labels')).digest('hex');
  const seeds = a.seeds ?? cfg.seeds;
  const maxEpochs = a.maxEpochs ?? cfg.maxEpochs;
  const table = readFeatures(fp);
  const labels = readLabelsOnto(lp, table);
  let bars: ReturnType<typeof loadBars> | undefined;
  const out: TrainSummary = { models: [] };
  for (const spec of specs) {
    const settings = { spec, seeds: seeds ?? null, maxEpochs: maxEpochs ?? null, splits: ctx.config.splits };
    const hash = createHash('sha256').update(dataHash).update(JSON.stringify(settings)).digest('hex');
    const step = `train:${spec.name}`;
    const paths = [onnxPath(ctx.workdir, spec.name), sidecarPath(ctx.workdir, spec.name), modelReportPath(ctx.workdir, spec.name)];
    if (a.skipIfFresh && stepIsFresh(ctx.workdir, step, hash) && paths.every((p) => existsSync(p))) {
      ctx.ui.say(`train ${spec.name}: inputs unchanged, skipped`);
      out.models.push({ name: spec.name, skipped: true, outputs: paths });
      continue;
    }
    try {
      out.models.push(await trainOne(ctx, spec, { table, labels, dataHash, seeds, maxEpochs, settings, hash, step, paths, bars: () => (bars ??= loadBars(ctx.workdir, '1d')) }));
    } catch (e) {
      if (!a.lenient || !isUserError(e)) throw e;
      const reason = e instanceof Error ? e.message : String(e);
      ctx.ui.warn(`train ${spec.name}: not trained: ${reason}`);
      out.models.push({ name: spec.name, skipped: true, reason, outputs: [] });
    }
  }
  return out;
}

interface TrainInputs {
  table: ReturnType<typeof readFeatures>;
  labels: ReturnType<typeof readLabelsOnto>;
  dataHash: string;
  seeds: number[] | undefined;
  maxEpochs: number | undefined;
  settings: unknown;
  hash: string;
  step: string;
  paths: string[];
  bars: () => ReturnType<typeof loadBars>;
}

async function trainOne(ctx: Context, spec: ModelSpec, i: TrainInputs): Promise<TrainSummary['models'][number]> {
  const { table, labels, dataHash, seeds, maxEpochs, settings, hash, step, paths } = i;
  const targets = labels.tasks.get(spec.task);
  if (!targets) throw new UserError(`${spec.name}: the labels have no task '${spec.task}' (tasks: ${[...labels.tasks.keys()].join(', ')}); run \`regime label\``);
  let d;
  if (spec.kind === 'lstm') d = buildLstmDataset(table, targets, spec, ctx.config.splits);
  else d = buildGraphDataset(table, i.bars(), targets, spec, ctx.config.splits);
  const runSeeds = seeds ?? spec.training.seeds;
  const epochs = maxEpochs ?? spec.training.max_epochs;
  ctx.ui.say(`train ${spec.name}: ${describeDataset(d)} samples; seeds ${runSeeds.join(', ')}; ≤ ${epochs} epochs`);
  const bar = ctx.ui.progress(spec.name, runSeeds.length * epochs);
  let doneSeeds = 0;
  let lastSeed = runSeeds[0];
  const t = await trainModel(d, {
    ...(seeds ? { seeds } : {}),
    ...(maxEpochs ? { maxEpochs } : {}),
    dataHash,
    splits: { ...ctx.config.splits },
    onEpoch: (seed, r) => {
      if (seed !== lastSeed) {
        doneSeeds++;
        lastSeed = seed;
      }
      bar.update(doneSeeds * epochs + r.epoch, `seed ${seed} epoch ${r.epoch} loss ${r.trainLoss.toFixed(3)} val F1 ${(100 * r.valMacroF1).toFixed(1)} (best ${(100 * r.bestValMacroF1).toFixed(1)} @${r.bestEpoch})`);
    },
  });
  bar.update(runSeeds.length * epochs, 'done');
  bar.stop();
  writeFileAtomic(paths[0]!, t.onnx);
  const { onnx: _bytes, params: _params, ...rest } = t;
  writeJsonAtomic(paths[1]!, { ...rest, samples: describeDataset(d) });
  writeFileAtomic(paths[2]!, modelReport(t, d));
  recordStep(ctx.workdir, step, { inputHash: hash, config: settings, outputs: paths });
  const v = brief(t.evaluation.validation);
  const te = brief(t.evaluation.test);
  return { name: spec.name, skipped: false, samples: describeDataset(d), seed: t.seed, ...(v ? { validation: v } : {}), ...(te ? { test: te } : {}), outputs: paths };
}

const pct = (v: number) => (100 * v).toFixed(1);

export function formatTrain(s: TrainSummary): string {
  return s.models
    .map((m) => {
      if (m.reason) return `${m.name}: not trained (${m.reason})`;
      if (m.skipped) return `${m.name}: unchanged (${m.outputs[0]})`;
      const part = (name: string, e?: Brief) => (e ? `${name} macro-F1 ${pct(e.macroF1)} (persistence ${pct(e.persistence)}): ${e.verdict}` : `${name}: no samples`);
      return `${m.name} (seed ${m.seed})\n  ${part('validation', m.validation)}\n  ${part('test', m.test)}\n  → ${m.outputs.join(', ')}`;
    })
    .join('\n');
}
