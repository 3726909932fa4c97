import { resolve } from 'node:path';
import { exportBarsArrow, exportBarsCsv, loadBars, UserError, type Interval } from '@regime/data';
import type { Context } from '../context.js';

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

const ARTIFACTS = ['bars'];

function date(name: string, s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s);
  if (!Number.isFinite(t)) throw new UserError(`--${name}: expected a date like 2024-01-01, got '${s}'`);
  return t;
}

export async function runExport(ctx: Context, a: ExportArgs): Promise<{ artifact: string; interval: string; format: string; out: string; rows: number }> {
  if (!ARTIFACTS.includes(a.artifact)) {
    throw new UserError(`unknown artifact '${a.artifact}': available now: ${ARTIFACTS.join(', ')} (features and labels arrive with later steps)`);
  }
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
