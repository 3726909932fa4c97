// Labels as Arrow (open_time, symbol, split, per task its regime name and filtered probabilities),
// models as JSON sidecars, and the long CSV export.
import { createWriteStream, mkdirSync, renameSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import { Table, tableFromIPC, tableToIPC, vectorFromArray, Utf8, Float64, Int64, makeData, makeVector } from 'apache-arrow';
import { intervalMs, writeFileAtomic, writeJsonAtomic, toFloat64 } from '@regime/data';
import type { FeatureTable } from '@regime/features';
import type { TaskLabels } from './hmm-task.js';

export const labelsPath = (workdir: string) => join(workdir, 'labels', 'daily.arrow');
export const modelPath = (workdir: string, task: string) => join(workdir, 'models', `labels-${task}.json`);
export const reportPath = (workdir: string, task: string) => join(workdir, 'reports', `labels-${task}.md`);

/** Column names of the long table: open_time, symbol, split, then per task `<task>_regime` and `<task>_p_<name>`. */
export function labelColumns(tasks: TaskLabels[]): string[] {
  return ['open_time', 'symbol', 'split', ...tasks.flatMap((l) => [`${l.task}_regime`, ...l.names.map((n) => `${l.task}_p_${n}`)])];
}

interface Rows {
  time: number[];
  k: number[];
  i: number[];
}

function rowsOf(obs: FeatureTable): Rows {
  const step = intervalMs(obs.interval);
  const order = obs.symbols.map((s, k) => ({ s, k })).sort((a, b) => (a.s < b.s ? -1 : a.s > b.s ? 1 : 0));
  const r: Rows = { time: [], k: [], i: [] };
  for (let i = 0; i < obs.length; i++) {
    for (const { k } of order) {
      if (!obs.listed[k]![i]) continue;
      r.time.push(obs.start + i * step);
      r.k.push(k);
      r.i.push(i);
    }
  }
  return r;
}

export function writeLabels(path: string, obs: FeatureTable, tasks: TaskLabels[], meta: Record<string, unknown>): number {
  const r = rowsOf(obs);
  const n = r.time.length;
  const cols: Record<string, ReturnType<typeof makeVector>> = {
    open_time: makeVector(makeData({ type: new Int64(), length: n, nullCount: 0, data: BigInt64Array.from(r.time, (t) => BigInt(t)) })),
    symbol: vectorFromArray(r.k.map((k) => obs.symbols[k]!), new Utf8()),
    split: vectorFromArray(r.i.map((i) => tasks[0]?.splitOfRow(i) ?? ''), new Utf8()),
  };
  for (const l of tasks) {
    const K = l.names.length;
    cols[`${l.task}_regime`] = vectorFromArray(r.k.map((k, j) => (l.labels[k]![r.i[j]!]! >= 0 ? l.names[l.labels[k]![r.i[j]!]!]! : null)), new Utf8());
    l.names.forEach((name, s) => {
      cols[`${l.task}_p_${name}`] = vectorFromArray(
        r.k.map((k, j) => {
          const v = l.filtered[k]![r.i[j]! * K + s]!;
          return Number.isNaN(v) ? null : v;
        }),
        new Float64(),
      );
    });
  }
  const table = new Table(cols);
  table.schema.metadata.set('regime.kind', 'labels');
  table.schema.metadata.set('regime.meta', JSON.stringify(meta));
  writeFileAtomic(path, tableToIPC(table, 'file'));
  return n;
}

export function writeModel(path: string, l: TaskLabels, meta: Record<string, unknown>): void {
  const m = l.model;
  writeJsonAtomic(path, {
    task: l.task,
    names: l.names,
    ...(m
      ? {
          kind: 'gaussian-hmm',
          mapping: Object.fromEntries(m.mapping.map((n, i) => [i, n])),
          columns: m.columns,
          nStates: m.hmm.nStates,
          covarianceType: m.hmm.covarianceType,
          startprob: Array.from(m.hmm.startprob),
          transmat: Array.from(m.hmm.transmat),
          means: Array.from(m.hmm.means),
          covars: Array.from(m.hmm.covars),
          trainRows: m.trainRows,
          fit: m.fit,
        }
      : { kind: 'thresholds', thresholds: l.thresholds }),
    notes: l.notes,
    ...meta,
  });
}

/** Long CSV of the stored labels file, sorted by time then symbol. */
export async function exportLabelsCsv(path: string, out: string, o: { from?: number; to?: number; symbols?: string[] } = {}): Promise<number> {
  const t = tableFromIPC(readFileSync(path));
  const names = t.schema.fields.map((f) => f.name);
  const cols = names.map((n) => t.getChild(n)!);
  const isFloat = names.map((_, j) => t.schema.fields[j]!.type instanceof Float64);
  const floats = names.map((_, j) => (isFloat[j] ? toFloat64(cols[j]!) : undefined));
  const keep = o.symbols ? new Set(o.symbols) : undefined;
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const w = createWriteStream(tmp);
  let buf = names.join(',') + '\n';
  let rows = 0;
  for (let i = 0; i < t.numRows; i++) {
    const time = Number(cols[0]!.get(i));
    if (o.from !== undefined && time < o.from) continue;
    if (o.to !== undefined && time >= o.to) continue;
    if (keep && !keep.has(cols[1]!.get(i))) continue;
    buf += names.map((_, j) => (j === 0 ? String(time) : isFloat[j] ? (Number.isNaN(floats[j]![i]!) ? '' : String(floats[j]![i])) : (cols[j]!.get(i) ?? ''))).join(',') + '\n';
    rows++;
    if (buf.length > 1 << 20) {
      if (!w.write(buf)) await once(w, 'drain');
      buf = '';
    }
  }
  w.end(buf);
  await once(w, 'finish');
  renameSync(tmp, out);
  return rows;
}
