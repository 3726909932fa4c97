// @regime/engine: the typed API over the native kernels. No I/O policy, no defaults beyond the
// kernels' own; other packages and users' Node services import this, never the raw binding.
import { raw, type Raw } from './raw.js';
import { callAsync, callSync } from './errors.js';
import { finiteNumber, invalid, positiveInt, nonNegativeInt } from './validate.js';

export { EngineError } from './errors.js';
export * from './rolling.js';
export * from './trend.js';
export * from './cross.js';
export * from './garch.js';
export * from './har.js';
export * from './hmm.js';
export * from './cluster.js';
export * from './nn.js';
export { invalid } from './validate.js';

/** Bars on a complete UTC grid; row i opens at `start + i * intervalMs`. Missing bars have present 0 and NaN prices. */
export type GridBars = Raw.JsGridBars;
export type ReadReport = Raw.JsReadReport;
export type MergeReport = Raw.JsMergeReport;
export type RegimeSpec = Raw.JsRegimeSpec;
export type SynthOptions = Raw.JsSynthOptions;
export type SynthMarket = Raw.JsSynthMarket;

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Version of the native core. */
export function version(): string {
  return raw.version();
}

/** Threads the kernels use (from setThreads, else REGIME_THREADS, else all cores). */
export function threads(): number {
  return raw.threads();
}

/** Set the kernels' thread count. Results do not depend on it. */
export function setThreads(n: number): number {
  return raw.setThreads(positiveInt('threads', n));
}

export interface ReadKlinesOptions {
  /** Bar interval in ms; inferred from the data when omitted. */
  intervalMs?: number;
  /** Sort unsorted rows and drop duplicates (keeping the first) instead of failing; reported in the result. */
  repair?: boolean;
}

export interface ReadKlinesResult {
  bars: GridBars;
  report: ReadReport;
}

/**
 * Read kline files of one symbol and interval (Binance archive csv/zip with or without header,
 * ms or µs timestamps; normalized csv/csv.gz), validating every row, onto a complete grid.
 * Rejects with an EngineError (userError true) naming file, line, column and value.
 */
export function readKlines(paths: string | string[], options: ReadKlinesOptions = {}): Promise<ReadKlinesResult> {
  const list = typeof paths === 'string' ? [paths] : paths;
  if (!Array.isArray(list) || list.length === 0 || list.some((p) => typeof p !== 'string')) {
    throw invalid('paths', 'a path or a non-empty array of paths', paths);
  }
  const opts: Raw.JsReadOptions = { repair: options.repair ?? false };
  if (options.intervalMs !== undefined) opts.intervalMs = positiveInt('intervalMs', options.intervalMs);
  return callAsync(() => raw.readKlines(list, opts));
}

function checkTarget(grids: GridBars[], targetMs: number): void {
  positiveInt('targetMs', targetMs);
  grids.forEach((g, i) => {
    if (targetMs % g.intervalMs !== 0) {
      throw invalid(`targetMs (grids[${i}] has interval ${g.intervalMs} ms)`, `a multiple of ${g.intervalMs}`, targetMs);
    }
  });
}

/** Resample many assets' grids to a coarser UTC interval, in parallel across assets, off the JS thread. */
export function resample(grids: GridBars[], targetMs: number): Promise<GridBars[]> {
  checkTarget(grids, targetMs);
  return callAsync(() => raw.resampleMany(grids, targetMs));
}

/** Blocking resample of one grid. */
export function resampleSync(grid: GridBars, targetMs: number): GridBars {
  checkTarget([grid], targetMs);
  return callSync(() => raw.resampleSync(grid, targetMs));
}

/** The same bars on the grid [start, end): rows outside are dropped, new rows are missing. */
export function reframeSync(grid: GridBars, start: number, end: number): GridBars {
  finiteNumber('start', start);
  finiteNumber('end', end);
  return callSync(() => raw.reframeSync(grid, start, end));
}

/**
 * Combine a native coarse grid (e.g. a daily file) with the aggregate of finer data on the same
 * interval: prices from the native file, coverage counts and realized variance from the aggregate.
 * Disagreements (OHLC exactly, volume beyond volumeRelTol) are counted, never silently resolved.
 */
export function mergeNativeSync(native: GridBars, aggregate: GridBars, volumeRelTol = 1e-9): { bars: GridBars; report: MergeReport } {
  finiteNumber('volumeRelTol', volumeRelTol);
  return callSync(() => raw.mergeNativeSync(native, aggregate, volumeRelTol));
}

/** Generate the seeded Markov-switching synthetic market (off the JS thread). */
export function synthMarket(options: SynthOptions): Promise<SynthMarket> {
  positiveInt('nAssets', options.nAssets);
  positiveInt('nDays', options.nDays);
  positiveInt('baseIntervalMs', options.baseIntervalMs);
  nonNegativeInt('seed', options.seed);
  return callAsync(() => raw.synthMarket(options));
}

/** Open time (ms) of row i of a grid. */
export function openTime(g: GridBars, i: number): number {
  return g.start + i * g.intervalMs;
}

export type KlineColumns = Raw.JsKlineColumns;

/**
 * Validate kline columns from another source (an Arrow IPC file, a database) with the same rules
 * as the file readers, and place them on a grid. `name` names the source in errors.
 */
export function klinesFromColumnsSync(columns: KlineColumns, name: string, options: ReadKlinesOptions = {}): ReadKlinesResult {
  const opts: Raw.JsReadOptions = { repair: options.repair ?? false };
  if (options.intervalMs !== undefined) opts.intervalMs = positiveInt('intervalMs', options.intervalMs);
  return callSync(() => raw.klinesFromColumnsSync(columns, name, opts));
}
