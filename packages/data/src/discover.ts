// Finding kline files and telling their symbol and interval from their names.
//
// Recognised names:
//   Binance archive:   BTCUSDT-1h-2022-01.zip / .csv, BTCUSDT-1m-2025-01-03.zip (daily files)
//   normalized layout: <dir>/<interval>/BTCUSDT.csv.gz (as in ../shared/data/klines)
//   explicit:          BTCUSDT_1h.csv, BTCUSDT-1h.csv.gz
// A file matching none of these needs --symbol/--interval from the caller.
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { isInterval, type Interval } from './intervals.js';
import { UserError } from './errors.js';

export interface KlineSource {
  symbol: string;
  interval: Interval;
  path: string;
  /** Sort key within a symbol and interval: the archive period, or '' for a whole-history file. */
  period: string;
}

const ARCHIVE = /^([A-Z0-9]+)-(\d+[mhdwM])-(\d{4}-\d{2}(?:-\d{2})?)\.(zip|csv)$/;
const EXPLICIT = /^([A-Z0-9]+)[-_](\d+[mhdwM])\.(csv|csv\.gz|zip|arrow|feather|ipc)$/;
const PLAIN = /^([A-Z0-9]+)\.(csv|csv\.gz|zip|arrow|feather|ipc)$/;
const KLINE_EXT = /\.(csv|csv\.gz|zip|arrow|feather|ipc)$/;

export function classify(path: string, hint: { symbol?: string; interval?: string } = {}): KlineSource {
  const name = basename(path);
  let symbol: string | undefined;
  let interval: string | undefined;
  let period = '';
  let m: RegExpMatchArray | null;
  if ((m = name.match(ARCHIVE))) {
    symbol = m[1];
    interval = m[2];
    period = m[3] ?? '';
  } else if ((m = name.match(EXPLICIT))) {
    [, symbol, interval] = m;
  } else if ((m = name.match(PLAIN))) {
    symbol = m[1];
    const parent = basename(dirname(path));
    if (isInterval(parent)) interval = parent;
  }
  symbol = hint.symbol ?? symbol;
  interval = hint.interval ?? interval;
  if (!symbol || !interval) {
    throw new UserError(
      `${path}: cannot tell the symbol and interval from the file name; name it like BTCUSDT-1h-2022-01.zip or klines/1h/BTCUSDT.csv.gz, or pass --symbol and --interval`,
    );
  }
  if (!isInterval(interval)) throw new UserError(`${path}: unsupported interval '${interval}'`);
  return { symbol, interval, path: resolve(path), period: period ?? '' };
}

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (KLINE_EXT.test(e.name)) out.push(p);
  }
}

/** Expand files and folders into classified kline sources, sorted by symbol, interval and period. */
export function discover(inputs: string[], hint: { symbol?: string; interval?: string } = {}): KlineSource[] {
  const files: string[] = [];
  for (const input of inputs) {
    let st;
    try {
      st = statSync(input);
    } catch {
      throw new UserError(`${input}: no such file or directory`);
    }
    if (st.isDirectory()) walk(input, files);
    else files.push(input);
  }
  if (files.length === 0) throw new UserError(`no kline files (.csv, .csv.gz, .zip, .arrow) found in ${inputs.join(', ')}`);
  const sources = files.map((f) => classify(f, hint));
  sources.sort((a, b) => (a.symbol + a.interval + a.period < b.symbol + b.interval + b.period ? -1 : 1));
  return sources;
}

/** Group sources: symbol → interval → paths in period order. */
export function groupSources(sources: KlineSource[]): Map<string, Map<Interval, string[]>> {
  const out = new Map<string, Map<Interval, string[]>>();
  for (const s of sources) {
    let bySymbol = out.get(s.symbol);
    if (!bySymbol) out.set(s.symbol, (bySymbol = new Map()));
    const list = bySymbol.get(s.interval) ?? [];
    list.push(s.path);
    bySymbol.set(s.interval, list);
  }
  return out;
}
