import { synthesize, writeBars, writeRegimePath, recordStep, stepIsFresh, type Interval } from '@regime/data';
import { createHash } from 'node:crypto';
import type { Context } from '../context.js';

export interface SynthArgs {
  assets?: number;
  days?: number;
  baseInterval?: Interval;
  start?: string;
  seed?: number;
  skipIfFresh?: boolean;
}

export interface SynthSummary {
  skipped: boolean;
  symbols: string[];
  days: number;
  seed: number;
  regimeDays: number[];
  outputs: string[];
}

export async function runSynth(ctx: Context, a: SynthArgs): Promise<SynthSummary> {
  const s = ctx.config.synthetic;
  const cfg = {
    assets: a.assets ?? s.assets,
    days: a.days ?? s.days,
    baseInterval: (a.baseInterval ?? s.baseInterval) as Interval,
    start: a.start ?? s.start,
    seed: a.seed ?? ctx.config.seed,
    intervals: ctx.config.data.intervals as Interval[],
    ...(s.regimes ? { regimes: s.regimes } : {}),
    ...(s.transition ? { transition: s.transition } : {}),
    ...(s.dof !== undefined ? { dof: s.dof } : {}),
    ...(s.maintenancePerYear !== undefined ? { maintenancePerYear: s.maintenancePerYear } : {}),
  };
  const hash = createHash('sha256').update(JSON.stringify(cfg)).digest('hex');
  if (a.skipIfFresh && stepIsFresh(ctx.workdir, 'synth', hash)) {
    ctx.ui.say('synth: settings unchanged, skipped');
    return { skipped: true, symbols: [], days: cfg.days, seed: cfg.seed, regimeDays: [], outputs: [] };
  }
  const bar = ctx.ui.progress('synth', 2);
  const m = await synthesize(cfg);
  bar.update(1, 'writing');
  const outputs = writeBars(ctx.workdir, m.sets, { synthetic: cfg });
  outputs.push(writeRegimePath(ctx.workdir, m.startMs, m.regime, { regimes: m.regimes, listingDay: m.listingDay, seed: cfg.seed }));
  bar.update(2);
  bar.stop();
  recordStep(ctx.workdir, 'synth', { inputHash: hash, config: cfg, outputs });
  const regimeDays = m.regimes.map((_, k) => m.regime.filter((r) => r === k).length);
  return { skipped: false, symbols: m.symbols, days: cfg.days, seed: cfg.seed, regimeDays, outputs };
}

export function formatSynth(s: SynthSummary): string {
  if (s.skipped) return 'synth: settings unchanged, nothing to do';
  return [
    `synthetic market: ${s.symbols.length} assets (${s.symbols[0]}…${s.symbols.at(-1)}), ${s.days} days, seed ${s.seed}`,
    `true regimes (days per regime): ${s.regimeDays.map((d, k) => `${k}:${d}`).join(' ')}`,
    `written: ${s.outputs.join(', ')}`,
  ].join('\n');
}
