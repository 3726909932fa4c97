// Windows over a feature table for sequence models: fixed length, a stride, no window across a
// gap or an undefined feature, and an embargo at split boundaries so no training window's
// horizon reaches into a later split.
import type { FeatureTable } from './compute.js';
import { dayEndMs, type Splits } from './compute.js';
import { intervalMs } from '@regime/data';
import { FeatureError } from './errors.js';

export type Split = 'train' | 'validation' | 'test' | 'holdout';
export const SPLIT_NAMES: Split[] = ['train', 'validation', 'test', 'holdout'];

export interface WindowSpec {
  length: number;
  stride?: number;
  /** Rows before each split boundary whose windows are dropped, so a window's label horizon
   * (forecast targets, smoothed labels) never reaches into the next split (SPEC B2: 30 days; A10: 48 h). */
  embargo?: number;
  /** May a window's look-back reach into the previous split? (SPEC B2: yes for inputs; A10: no.) */
  crossBoundary?: boolean;
  columns?: string[];
}

export interface Window {
  asset: number;
  /** Row of the window's last bar; the window covers end − length + 1 .. end. */
  end: number;
  split: Split;
}

/** First row of each split on the table's grid (rows before `train` are warm-up). */
export function splitStarts(table: { interval: FeatureTable['interval']; start: number; length: number }, s: Splits): Record<Split, number> {
  const step = intervalMs(table.interval);
  const row = (ms: number) => Math.max(0, Math.min(table.length, Math.ceil((ms - table.start) / step)));
  const train = s.trainStart ? row(dayEndMs(s.trainStart) - 86_400_000) : 0;
  return { train, validation: row(dayEndMs(s.trainEnd)), test: row(dayEndMs(s.validationEnd)), holdout: row(dayEndMs(s.testEnd)) };
}

/** The split of a row; rows before the first training day are 'warmup' (look-back only). */
export function splitOf(t: number, starts: Record<Split, number>): Split | 'warmup' {
  if (t >= starts.holdout) return 'holdout';
  if (t >= starts.test) return 'test';
  if (t >= starts.validation) return 'validation';
  if (t >= starts.train) return 'train';
  return 'warmup';
}

function nextStart(s: Split, starts: Record<Split, number>, end: number): number {
  const i = SPLIT_NAMES.indexOf(s);
  // The last split has no boundary after it.
  return i + 1 < SPLIT_NAMES.length ? starts[SPLIT_NAMES[i + 1]!] : end + Number.MAX_SAFE_INTEGER;
}

export function makeWindows(table: FeatureTable, splits: Splits, spec: WindowSpec): Window[] {
  const L = spec.length;
  const stride = spec.stride ?? 1;
  const embargo = spec.embargo ?? 0;
  if (!Number.isInteger(L) || L < 1) throw new FeatureError(`window length must be a positive integer, got ${L}`);
  if (!Number.isInteger(stride) || stride < 1) throw new FeatureError(`stride must be a positive integer, got ${stride}`);
  const columns = spec.columns ?? table.names;
  const starts = splitStarts(table, splits);
  const out: Window[] = [];
  for (let k = 0; k < table.symbols.length; k++) {
    // ok[t]: every column defined at t (a gap or warm-up makes features NaN).
    const ok = new Uint8Array(table.length);
    for (let t = 0; t < table.length; t++) {
      ok[t] = table.listed[k]![t] && columns.every((c) => Number.isFinite(table.values[c]![k]![t]!)) ? 1 : 0;
    }
    let run = 0; // consecutive complete rows ending at t
    for (let t = 0; t < table.length; t++) {
      run = ok[t] ? run + 1 : 0;
      if (run < L || t % stride !== 0) continue;
      const split = splitOf(t, starts);
      if (split === 'warmup') continue;
      const s0 = starts[split];
      const next = nextStart(split, starts, table.length);
      if (t >= next - embargo) continue;
      if (!spec.crossBoundary && t - L + 1 < s0) continue;
      out.push({ asset: k, end: t, split });
    }
  }
  return out;
}
