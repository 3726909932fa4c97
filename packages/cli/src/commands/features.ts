import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { barsPath, loadBars, recordStep, stepIsFresh, UserError, type Interval } from '@regime/data';
import { SETS, computeFeatures, featuresPath, listSet, readFeatures, validateDefs, writeFeatures, type FeatureDef } from '@regime/features';
import type { Context } from '../context.js';

export type SetName = 'daily' | 'hourly';

export function setDefs(ctx: Context, set: SetName): FeatureDef[] {
  const defs = [...SETS[set]!.defs, ...(ctx.config.features.custom[set] ?? [])];
  const errors = validateDefs(defs, `features.${set}`);
  if (errors.length) throw new UserError(`invalid feature definitions:\n  ${errors.join('\n  ')}`);
  return defs;
}

export function runFeaturesList(ctx: Context, sets: SetName[]): string {
  return sets.map((s) => listSet(s, SETS[s]!.interval, SETS[s]!.description, setDefs(ctx, s))).join('\n\n');
}

export interface FeaturesSummary {
  set: SetName;
  skipped: boolean;
  path: string;
  rows: number;
  assets: number;
  features: string[];
  garch?: Record<string, unknown>;
}

export async function runFeatures(ctx: Context, sets: SetName[], o: { skipIfFresh?: boolean } = {}): Promise<FeaturesSummary[]> {
  const out: FeaturesSummary[] = [];
  for (const set of sets) {
    const interval = SETS[set]!.interval as Interval;
    const defs = setDefs(ctx, set);
    const bars = loadBars(ctx.workdir, interval);
    const settings = { set, defs, splits: ctx.config.splits, anchor: ctx.config.features.anchor ?? null };
    const barsHash = createHash('sha256').update(readFileSync(barsPath(ctx.workdir, interval))).digest('hex');
    const hash = createHash('sha256').update(barsHash).update(JSON.stringify(settings)).digest('hex');
    const path = featuresPath(ctx.workdir, set);
    if (o.skipIfFresh && stepIsFresh(ctx.workdir, `features:${set}`, hash)) {
      ctx.ui.say(`features ${set}: inputs unchanged, skipped`);
      out.push({ set, skipped: true, path, rows: 0, assets: 0, features: [] });
      continue;
    }
    let bar: ReturnType<typeof ctx.ui.progress> | undefined;
    const t = await computeFeatures(bars, {
      set,
      defs,
      splits: ctx.config.splits,
      ...(ctx.config.features.anchor ? { anchor: ctx.config.features.anchor } : {}),
      onProgress: (done, total, name) => {
        bar ??= ctx.ui.progress(`features ${set}`, total);
        bar.update(done, name);
      },
    });
    bar?.stop();
    writeFeatures(path, t, { barsSha256: barsHash, codeVersion: `regime ${ctx.version}` });
    recordStep(ctx.workdir, `features:${set}`, { inputHash: hash, config: settings, outputs: [path] });
    out.push({ set, skipped: false, path, rows: t.length, assets: t.symbols.length, features: t.names, garch: t.meta.garch });
  }
  return out;
}

export function formatFeatures(s: FeaturesSummary[]): string {
  return s
    .map((x) =>
      x.skipped
        ? `features ${x.set}: inputs unchanged, nothing to do`
        : `features ${x.set}: ${x.features.length} features × ${x.assets} assets × ${x.rows} bars → ${x.path}\n  ${x.features.join(', ')}`,
    )
    .join('\n');
}

export function loadFeatureSet(ctx: Context, set: SetName) {
  return readFeatures(featuresPath(ctx.workdir, set));
}
