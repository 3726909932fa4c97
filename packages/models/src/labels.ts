// Reads the labelling step's Arrow table back onto a feature table's grid: per task, the class
// names in their stored order and one Int32Array of class indices per asset (−1 = no label).
import { readFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import { intervalMs, UserError } from '@regime/data';
import type { FeatureTable } from '@regime/features';

export interface TaskTargets {
  task: string;
  names: string[];
  /** Per asset of the feature table: class index per row, −1 where the task has no label. */
  labels: Int32Array[];
}

export interface StoredLabels {
  tasks: Map<string, TaskTargets>;
  meta: Record<string, unknown>;
}

/** Map the labels file (open_time, symbol, `<task>_regime`, `<task>_p_<name>`…) onto `grid`'s rows. */
export function readLabelsOnto(path: string, grid: Pick<FeatureTable, 'interval' | 'start' | 'length' | 'symbols'>): StoredLabels {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new UserError(`${path}: no labels; run \`regime label\` (or \`regime run\`) first`);
  }
  const t = tableFromIPC(bytes);
  const names = t.schema.fields.map((f) => f.name);
  const meta = JSON.parse(t.schema.metadata.get('regime.meta') ?? '{}') as Record<string, unknown>;
  const step = intervalMs(grid.interval);
  const times = t.getChild('open_time');
  const symbols = t.getChild('symbol');
  if (!times || !symbols) throw new UserError(`${path}: not a labels table (no open_time/symbol columns)`);
  const assetOf = new Map(grid.symbols.map((s, k) => [s, k]));
  const tasks = new Map<string, TaskTargets>();
  for (const col of names) {
    const m = /^(.+)_regime$/.exec(col);
    if (!m) continue;
    const task = m[1]!;
    const classNames = names.filter((n) => n.startsWith(`${task}_p_`)).map((n) => n.slice(task.length + 3));
    if (!classNames.length) throw new UserError(`${path}: task '${task}' has no probability columns`);
    const index = new Map(classNames.map((c, i) => [c, i]));
    const labels = grid.symbols.map(() => new Int32Array(grid.length).fill(-1));
    const regime = t.getChild(col)!;
    for (let i = 0; i < t.numRows; i++) {
      const k = assetOf.get(symbols.get(i) as string);
      if (k === undefined) continue;
      const row = (Number(times.get(i)) - grid.start) / step;
      if (!Number.isInteger(row) || row < 0 || row >= grid.length) continue;
      const name = regime.get(i) as string | null;
      if (name === null) continue;
      const c = index.get(name);
      if (c === undefined) throw new UserError(`${path}: row ${i + 1}: task '${task}' label '${name}' is not one of ${classNames.join(', ')}`);
      labels[k]![row] = c;
    }
    tasks.set(task, { task, names: classNames, labels });
  }
  return { tasks, meta };
}
