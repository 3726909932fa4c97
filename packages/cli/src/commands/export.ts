import { resolve } from 'node:path';
import { exportBarsArrow, exportBarsCsv, loadBars, UserError, type Interval } from '@regime/data';
import type { Context } from '../context.js';
import { exportFeaturesCsv } from '@regime/features';
import { loadFeatureSet, type SetName } from './features.js';
import { exportLabelsCsv, labelsPath } from '@regime/regimes';
import { existsSync } from 'node:fs';

export interface ExportArgs {
  artifact: string;
  interval: Interval;
  format: 'csv' | 'arrow';
  out: string;
  includeMissing?: boolean;
  symbols?: string[];
  from?: string;
  to?: string;
}

const ARTIFACTS = ['bars', 'features', 'labels'];
const SET_OF: Partial<Record<Interval, SetName>> = { '1d': 'daily', '1h': 'hourly' };

function date(name: string, s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s);
  if (!Number.isFinite(t)) throw new UserError(`--${name}: expected a date like 2024-01-01, got '${s}'`);
  return t;
}

export async function runExport(ctx: Context, a: ExportArgs): Promise<{ artifact: string; interval: string; format: string; out: string; rows: number }> {
  if (!ARTIFACTS.includes(a.artifact)) {
    throw new UserError(`unknown artifact '${a.artifact}': available: ${ARTIFACTS.join(', ')}`);
  }
  if (a.artifact === 'features') return exportFeatures(ctx, a);
  if (a.artifact === 'labels') return exportLabels(ctx, a);
  const set = loadBars(ctx.workdir, a.interval);
  const o = { includeMissing: !!a.includeMissing, ...(a.symbols ? { symbols: a.symbols } : {}) } as Parameters<typeof exportBarsCsv>[2] & object;
  const from = date('from', a.from);
  const to = date('to', a.to);
  if (from !== undefined) o.from = from;
  if (to !== undefined) o.to = to;
  if (a.symbols) {
    const have = new Set(set.assets.map((x) => x.symbol));
    const unknown = a.symbols.filter((s) => !have.has(s));
    if (unknown.length) throw new UserError(`unknown symbol(s) ${unknown.join(', ')}; have: ${[...have].join(', ')}`);
  }
  const out = resolve(a.out);
  const rows = a.format === 'csv' ? await exportBarsCsv(set, out, o) : exportBarsArrow(set, out, o);
  return { artifact: a.artifact, interval: a.interval, format: a.format, out, rows };
}

async function exportFeatures(ctx: Context, a: ExportArgs) {
  const setName = SET_OF[a.interval];
  if (!setName) throw new UserError(`no feature set on ${a.interval} bars (daily features are 1d, hourly are 1h)`);
  if (a.format !== 'csv') throw new UserError('features export supports --format csv (the stored file is already Arrow IPC: <workdir>/features/<set>.arrow)');
  const t = loadFeatureSet(ctx, setName);
  if (a.symbols) {
    const unknown = a.symbols.filter((s) => !t.symbols.includes(s));
    if (unknown.length) throw new UserError(`unknown symbol(s) ${unknown.join(', ')}; have: ${t.symbols.join(', ')}`);
  }
  const o = rangeOptions(a);
  const out = resolve(a.out);
  const rows = await exportFeaturesCsv(t, out, o);
  return { artifact: a.artifact, interval: a.interval, format: a.format, out, rows };
}

async function exportLabels(ctx: Context, a: ExportArgs) {
  if (a.interval !== '1d') throw new UserError('labels are daily: use --interval 1d');
  if (a.format !== 'csv') throw new UserError('labels export supports --format csv (the stored file is already Arrow IPC: <workdir>/labels/daily.arrow)');
  const p = labelsPath(ctx.workdir);
  if (!existsSync(p)) throw new UserError(`no labels in ${ctx.workdir}: run \`regime label\` (or \`regime run\`) first`);
  const o = rangeOptions(a);
  const out = resolve(a.out);
  const rows = await exportLabelsCsv(p, out, o);
  return { artifact: a.artifact, interval: a.interval, format: a.format, out, rows };
}

/** The --from/--to/--symbols selection shared by the feature and label exports. */
function rangeOptions(a: ExportArgs): { from?: number; to?: number; symbols?: string[] } {
  const o: { from?: number; to?: number; symbols?: string[] } = {};
  const from = date('from', a.from);
  const to = date('to', a.to);
  if (from !== undefined) o.from = from;
  if (to !== undefined) o.to = to;
  if (a.symbols) o.symbols = a.symbols;
  return o;
}
