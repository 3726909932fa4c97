// The work directory: every artifact of a run lives under it (DESIGN.md "Artifacts").
//   bars/<interval>.arrow     aligned bars per interval
//   bars/report.json          how the bars were built (sources, repairs, merges)
//   synth/regimes.arrow       the synthetic market's true regime path (synthetic runs only)
//   manifest.json             per step: input hash, config, code version, outputs
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Table, TimestampMillisecond, Uint8, makeData, makeVector, tableToIPC, tableFromIPC } from 'apache-arrow';
import { version as coreVersion } from '@regime/engine';
import { readBarSet, writeBarSet, type BarSet } from './arrow.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic.js';
import { intervalMs, isInterval, sortIntervals, type Interval } from './intervals.js';
import { UserError } from './errors.js';

export interface StepRecord {
  inputHash: string;
  config: unknown;
  codeVersion: string;
  outputs: string[];
  finishedAt: string;
}

export interface Manifest {
  steps: Record<string, StepRecord>;
}

export function codeVersion(): string {
  return `regime-core ${coreVersion()}`;
}

export function barsDir(workdir: string): string {
  return join(workdir, 'bars');
}

export function barsPath(workdir: string, interval: Interval): string {
  return join(barsDir(workdir), `${interval}.arrow`);
}

export function writeBars(workdir: string, sets: Map<Interval, BarSet>, report: unknown): string[] {
  const outputs: string[] = [];
  for (const [interval, set] of sets) {
    const p = barsPath(workdir, interval);
    writeBarSet(p, set);
    outputs.push(p);
  }
  const r = join(barsDir(workdir), 'report.json');
  writeJsonAtomic(r, report);
  outputs.push(r);
  return outputs;
}

/** Intervals with stored bars, finest first. */
export function storedIntervals(workdir: string): Interval[] {
  const dir = barsDir(workdir);
  if (!existsSync(dir)) return [];
  return sortIntervals(
    readdirSync(dir)
      .filter((f) => f.endsWith('.arrow'))
      .map((f) => f.slice(0, -'.arrow'.length))
      .filter(isInterval),
  );
}

export function loadBars(workdir: string, interval: Interval): BarSet {
  const p = barsPath(workdir, interval);
  if (!existsSync(p)) {
    const have = storedIntervals(workdir);
    throw new UserError(
      have.length
        ? `no ${interval} bars in ${workdir} (have: ${have.join(', ')})`
        : `no bars in ${workdir}: run \`regime ingest <files>\`, \`regime synth\` or \`regime run\` first`,
    );
  }
  return readBarSet(p);
}

export function readManifest(workdir: string): Manifest {
  const p = join(workdir, 'manifest.json');
  if (!existsSync(p)) return { steps: {} };
  return JSON.parse(readFileSync(p, 'utf8')) as Manifest;
}

export function recordStep(workdir: string, step: string, rec: Omit<StepRecord, 'finishedAt' | 'codeVersion'>): void {
  const m = readManifest(workdir);
  m.steps[step] = { ...rec, codeVersion: codeVersion(), finishedAt: new Date().toISOString() };
  writeJsonAtomic(join(workdir, 'manifest.json'), m);
}

/** True when the step ran before with the same inputs and code, and all its outputs still exist. */
export function stepIsFresh(workdir: string, step: string, inputHash: string): boolean {
  const rec = readManifest(workdir).steps[step];
  return !!rec && rec.inputHash === inputHash && rec.codeVersion === codeVersion() && rec.outputs.every((o) => existsSync(o));
}

/** The synthetic market's true regime per day, as Arrow (open_time of the day, regime index). */
export function writeRegimePath(workdir: string, startMs: number, regime: Uint8Array, meta: Record<string, unknown>): string {
  const n = regime.length;
  const times = BigInt64Array.from({ length: n }, (_, i) => BigInt(startMs + i * intervalMs('1d')));
  const table = new Table({
    open_time: makeVector(makeData({ type: new TimestampMillisecond('UTC'), length: n, nullCount: 0, data: times })),
    regime: makeVector(makeData({ type: new Uint8(), length: n, nullCount: 0, data: regime })),
  });
  table.schema.metadata.set('regime.meta', JSON.stringify(meta));
  const p = join(workdir, 'synth', 'regimes.arrow');
  writeFileAtomic(p, tableToIPC(table, 'file'));
  return p;
}

export function readRegimePath(workdir: string): { openTime: Float64Array; regime: Uint8Array; meta: Record<string, unknown> } | undefined {
  const p = join(workdir, 'synth', 'regimes.arrow');
  if (!existsSync(p)) return undefined;
  const t = tableFromIPC(readFileSync(p));
  const ot = t.getChild('open_time')!;
  const rg = t.getChild('regime')!;
  return {
    openTime: Float64Array.from({ length: t.numRows }, (_, i) => Number(ot.get(i))),
    regime: Uint8Array.from({ length: t.numRows }, (_, i) => Number(rg.get(i))),
    meta: JSON.parse(t.schema.metadata.get('regime.meta') ?? '{}') as Record<string, unknown>,
  };
}
