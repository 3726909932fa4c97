import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { barsPath, loadBars, readRegimePath, recordStep, stepIsFresh, UserError } from '@regime/data';
import {
  TASKS,
  labelAll,
  labelsPath,
  modelPath,
  reportPath,
  scoreAgainstTruth,
  taskReport,
  writeLabels,
  writeModel,
  type TaskName,
} from '@regime/regimes';
import { writeFileAtomic } from '@regime/data';
import type { Context } from '../context.js';

export interface LabelSummary {
  skipped: boolean;
  tasks: Array<{ task: string; names: string[]; notes: string[]; counts: Record<string, number>; ari?: number }>;
  outputs: string[];
}

export async function runLabel(ctx: Context, o: { tasks?: TaskName[]; seed?: number; skipIfFresh?: boolean } = {}): Promise<LabelSummary> {
  const tasks = o.tasks ?? TASKS;
  for (const t of tasks) if (!TASKS.includes(t)) throw new UserError(`unknown labelling task '${t}' (vol, trend, cross)`);
  const seed = o.seed ?? ctx.config.seed;
  const bars = loadBars(ctx.workdir, '1d');
  const dataHash = createHash('sha256').update(readFileSync(barsPath(ctx.workdir, '1d'))).digest('hex');
  const settings = { tasks, seed, splits: ctx.config.splits };
  const hash = createHash('sha256').update(dataHash).update(JSON.stringify(settings)).digest('hex');
  if (o.skipIfFresh && stepIsFresh(ctx.workdir, 'label', hash)) {
    ctx.ui.say('label: inputs unchanged, skipped');
    return { skipped: true, tasks: [], outputs: [] };
  }
  let bar: ReturnType<typeof ctx.ui.progress> | undefined;
  const r = await labelAll(bars, {
    tasks,
    splits: ctx.config.splits,
    seed,
    onProgress: (task, it, ll) => {
      bar ??= ctx.ui.progress('label', 200);
      bar.update(it, `${task} EM log-lik ${ll.toFixed(1)}`);
    },
  });
  bar?.stop();
  const truth = readRegimePath(ctx.workdir);
  const synthetic = truth && bars.assets.every((a) => a.symbol.startsWith('SYN'));
  const meta = { dataSha256: dataHash, splits: ctx.config.splits, seed, codeVersion: `regime ${ctx.version}` };
  const outputs: string[] = [];
  const lp = labelsPath(ctx.workdir);
  writeLabels(lp, r.observations, r.tasks, meta);
  outputs.push(lp);
  const summary: LabelSummary['tasks'] = [];
  for (const l of r.tasks) {
    const score = synthetic ? scoreAgainstTruth(r.observations, l, truth.regime, truth.openTime[0]!) : undefined;
    const mp = modelPath(ctx.workdir, l.task);
    writeModel(mp, l, { trainingWindow: { through: ctx.config.splits.trainEnd }, ...meta });
    const rp = reportPath(ctx.workdir, l.task);
    writeFileAtomic(rp, taskReport(r.observations, l, { dataHash, ...(score ? { truth: score } : {}) }));
    outputs.push(mp, rp);
    const counts: Record<string, number> = Object.fromEntries(l.names.map((n) => [n, 0]));
    l.labels.forEach((lab) => lab.forEach((c) => c >= 0 && (counts[l.names[c]!]! += 1)));
    summary.push({ task: l.task, names: l.names, notes: l.notes, counts, ...(score ? { ari: score.find((s) => s.split === 'all')!.ari } : {}) });
  }
  recordStep(ctx.workdir, 'label', { inputHash: hash, config: settings, outputs });
  return { skipped: false, tasks: summary, outputs };
}

export function formatLabel(s: LabelSummary): string {
  if (s.skipped) return 'label: inputs unchanged, nothing to do';
  const lines = s.tasks.map(
    (t) =>
      `${t.task}: ${t.names.map((n) => `${n} ${t.counts[n]}`).join(', ')}${t.ari !== undefined ? ` — ARI vs the true regimes ${t.ari.toFixed(3)}` : ''}` +
      (t.notes.length ? `\n  ${t.notes.join('\n  ')}` : ''),
  );
  return [...lines, `written: ${s.outputs.join(', ')}`].join('\n');
}
