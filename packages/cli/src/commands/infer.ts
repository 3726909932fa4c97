// `regime infer --asset X`: the latest regime probabilities of every trained model from its
// ONNX graph in ONNX Runtime, with the input's day, the data's last bar and a staleness warning.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadBars, UserError } from '@regime/data';
import { featuresPath, readFeatures } from '@regime/features';
import { latestGraphInput, latestLstmInput, OnnxModel } from '@regime/models';
import type { Context } from '../context.js';

export interface InferArgs {
  asset: string;
  models?: string[];
  device?: 'cpu' | 'cuda';
  /** "Now" for the staleness check (tests); default the clock. */
  now?: number;
}

export interface InferResult {
  asset: string;
  lastBar: string;
  stale: boolean;
  ageDays: number;
  models: Array<{ name: string; task: string; horizon: number; inputDay: string; regime: string; probabilities: Record<string, number>; warning?: string }>;
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const DAY = 86_400_000;

export async function runInfer(ctx: Context, a: InferArgs): Promise<InferResult> {
  const dir = join(ctx.workdir, 'models');
  const names = a.models ?? (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.onnx')).map((f) => f.slice(0, -5)).sort() : []);
  if (!names.length) throw new UserError(`no trained models in ${dir}; run \`regime train\` (or \`regime run\`) first`);
  const table = readFeatures(featuresPath(ctx.workdir, 'daily'));
  const k = table.symbols.indexOf(a.asset);
  if (k < 0) throw new UserError(`unknown asset '${a.asset}' (assets: ${table.symbols.join(', ')})`);
  const bars = loadBars(ctx.workdir, '1d');
  const present = bars.assets[k]!.bars.present;
  let last = -1;
  for (let t = bars.length - 1; t >= 0 && last < 0; t--) if (present[t]) last = t;
  if (last < 0) throw new UserError(`${a.asset} has no bars`);
  const lastOpen = bars.start + last * DAY;
  const ageDays = ((a.now ?? Date.now()) - (lastOpen + DAY)) / DAY;
  const stale = ageDays > 2;
  if (stale) ctx.ui.warn(`the last ${a.asset} bar is ${day(lastOpen)}, ${Math.floor(ageDays)} days ago: these regimes describe the past (fetch and ingest newer data for current ones)`);
  const out: InferResult = { asset: a.asset, lastBar: day(lastOpen), stale, ageDays, models: [] };
  for (const name of names) {
    const path = join(dir, `${name}.onnx`);
    if (!existsSync(path)) throw new UserError(`${path}: no such model`);
    const m = await OnnxModel.load(path, { device: a.device ?? ctx.config.train.device });
    try {
      const meta = m.metadata;
      const latest = meta.kind === 'lstm' ? latestLstmInput(table, meta, a.asset) : latestGraphInput(table, bars, meta);
      const horizon = Number((meta.spec as { model?: { horizon?: number } }).model?.horizon ?? 0);
      if (!latest) {
        ctx.ui.warn(`${name}: no complete input window for ${a.asset}`);
        continue;
      }
      const r = await m.run(latest.inputs);
      const p = r.probs!.data;
      const probabilities = Object.fromEntries(meta.classNames.map((c, i) => [c, p[i]!]));
      let best = 0;
      for (let i = 1; i < meta.classNames.length; i++) if (p[i]! > p[best]!) best = i;
      const entry: InferResult['models'][number] = { name, task: meta.task, horizon, inputDay: day(latest.time), regime: meta.classNames[best]!, probabilities };
      if (latest.row < last) entry.warning = `inputs end ${day(latest.time)}, before the last bar ${day(lastOpen)} (incomplete features on later days)`;
      out.models.push(entry);
    } finally {
      await m.dispose();
    }
  }
  return out;
}

export function formatInfer(r: InferResult): string {
  const lines = [`${r.asset}: last bar ${r.lastBar}${r.stale ? ` (STALE: ${Math.floor(r.ageDays)} days old)` : ''}`];
  for (const m of r.models) {
    const probs = Object.entries(m.probabilities)
      .map(([c, v]) => `${c} ${(100 * v).toFixed(1)}%`)
      .join(', ');
    lines.push(`  ${m.name.padEnd(14)} ${m.task}${m.horizon ? ` in ${m.horizon} days` : ' now'} (inputs to ${m.inputDay}): ${m.regime.toUpperCase()} — ${probs}${m.warning ? `\n    warning: ${m.warning}` : ''}`);
  }
  return lines.join('\n');
}
