// `regime ingest`: files or folders → validated, gap-marked, resampled, aligned bars.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import * as engine from '@regime/engine';
import type { ReadReport } from '@regime/engine';
import { discover, groupSources, type KlineSource } from './discover.js';
import { readArrowKlines } from './arrow-input.js';
import { buildBarSets, type BuildOptions, type BuildReport, type SymbolGrids } from './build.js';
import type { BarSet } from './arrow.js';
import { intervalMs, type Interval } from './intervals.js';
import { UserError } from './errors.js';

export interface IngestOptions extends BuildOptions {
  /** Sort unsorted input and drop duplicates instead of failing (each repair is reported). */
  repair?: boolean;
  /** Override the symbol / interval told by file names (for single unconventional files). */
  symbol?: string;
  interval?: Interval;
  /** Called as each symbol/interval group is read. */
  onProgress?: (done: number, total: number, label: string) => void;
}

export interface SourceReport extends ReadReport {
  files: string[];
}

export interface IngestReport extends BuildReport {
  sources: Record<string, Partial<Record<Interval, SourceReport>>>;
  /** Human-readable notes on repairs, so nothing is silent. */
  repairs: string[];
}

export interface IngestResult {
  sets: Map<Interval, BarSet>;
  report: IngestReport;
}

const isArrow = (p: string) => /\.(arrow|feather|ipc)$/.test(p);

export async function ingest(inputs: string[], options: IngestOptions = {}): Promise<IngestResult> {
  const hint: { symbol?: string; interval?: string } = {};
  if (options.symbol) hint.symbol = options.symbol;
  if (options.interval) hint.interval = options.interval;
  const sources = discover(inputs, hint);
  const groups = groupSources(sources);
  const jobs: Array<{ symbol: string; interval: Interval; paths: string[] }> = [];
  for (const [symbol, byInterval] of groups) for (const [interval, paths] of byInterval) jobs.push({ symbol, interval, paths });
  let done = 0;
  options.onProgress?.(0, jobs.length, 'reading');
  const results = await Promise.all(
    jobs.map(async (j) => {
      const opts = { intervalMs: intervalMs(j.interval), repair: options.repair ?? false };
      let r: engine.ReadKlinesResult;
      if (j.paths.some(isArrow)) {
        if (j.paths.length !== 1) throw new UserError(`${j.symbol} ${j.interval}: give one Arrow file per symbol and interval, got ${j.paths.length}`);
        r = readArrowKlines(j.paths[0]!, opts);
      } else {
        r = await engine.readKlines(j.paths, opts);
      }
      options.onProgress?.(++done, jobs.length, `${j.symbol} ${j.interval}`);
      return { ...j, ...r };
    }),
  );
  const bySymbol = new Map<string, SymbolGrids>();
  const report: IngestReport = { symbols: {}, sources: {}, repairs: [] };
  for (const r of results) {
    const s = bySymbol.get(r.symbol) ?? { symbol: r.symbol, native: {} };
    s.native[r.interval] = r.bars;
    bySymbol.set(r.symbol, s);
    (report.sources[r.symbol] ??= {})[r.interval] = { ...r.report, files: r.paths };
    const rep = r.report;
    if (rep.outOfOrder || rep.duplicatesDropped) {
      report.repairs.push(
        `${r.symbol} ${r.interval}: sorted ${rep.outOfOrder} out-of-order row(s), dropped ${rep.duplicatesDropped} duplicate(s)` +
          (rep.conflictingDuplicates ? ` (${rep.conflictingDuplicates} with different values; the first was kept)` : ''),
      );
    }
  }
  const meta = { ...(options.meta ?? {}), sources: sources.map((s: KlineSource) => s.path) };
  const built = await buildBarSets([...bySymbol.values()], { ...options, meta });
  return { sets: built.sets, report: { ...report, symbols: built.report.symbols } };
}

/** SHA-256 over the sources' paths and contents: the manifest key that lets `run` skip unchanged ingests. */
export async function hashInputs(inputs: string[], extra: unknown = {}): Promise<string> {
  const sources = discover(inputs);
  const h = createHash('sha256');
  h.update(JSON.stringify(extra));
  for (const s of sources) {
    h.update(`${s.path}\0${statSync(s.path).size}\0`);
    await new Promise<void>((res, rej) => {
      createReadStream(s.path)
        .on('data', (c) => h.update(c))
        .on('end', () => res())
        .on('error', rej);
    });
  }
  return h.digest('hex');
}
