// Export of stored tables for other tools: long format, one row per time and symbol, sorted by
// open_time then symbol, open_time in ms UTC. CSV is streamed to disk in chunks; Arrow is written
// atomically.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  Bool,
  Float64,
  Int64,
  Table,
  Uint32,
  Utf8,
  makeData,
  makeVector,
  tableToIPC,
  vectorFromArray,
} from 'apache-arrow';
import { validMask, type BarSet } from './arrow.js';
import { intervalMs } from './intervals.js';
import { writeFileAtomic } from './atomic.js';

export interface ExportOptions {
  /** Include rows of missing bars (present = false) after listing; default: present bars only. */
  includeMissing?: boolean;
  /** ISO dates bounding open_time, inclusive from, exclusive to. */
  from?: number;
  to?: number;
  symbols?: string[];
}

export const EXPORT_COLUMNS = [
  'open_time',
  'symbol',
  'open',
  'high',
  'low',
  'close',
  'volume',
  'quote_volume',
  'trades',
  'taker_buy_base',
  'taker_buy_quote',
  'rv',
  'rv_5m',
  'n_sub',
  'n_expected',
  'present',
  'valid',
  'zero_volume',
] as const;

interface Row {
  t: number;
  k: number;
  i: number;
}

function selectRows(set: BarSet, o: ExportOptions): { rows: Row[]; valid: Uint8Array[] } {
  const step = intervalMs(set.interval);
  const keep = o.symbols ? new Set(o.symbols) : undefined;
  const valid = set.assets.map((a) => validMask(a, set.minCoverage));
  const rows: Row[] = [];
  // Time-major iteration gives rows already sorted by open_time, then symbol (assets are sorted by symbol).
  const order = set.assets.map((a, k) => ({ s: a.symbol, k })).sort((x, y) => (x.s < y.s ? -1 : x.s > y.s ? 1 : 0));
  for (let i = 0; i < set.length; i++) {
    const t = set.start + i * step;
    if (o.from !== undefined && t < o.from) continue;
    if (o.to !== undefined && t >= o.to) continue;
    for (const { s, k } of order) {
      if (keep && !keep.has(s)) continue;
      const a = set.assets[k]!;
      if (!a.listed[i]) continue;
      if (!a.bars.present[i] && !o.includeMissing) continue;
      rows.push({ t, k, i });
    }
  }
  return { rows, valid };
}

const num = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '' : String(x));

/** Write bars as CSV (header first). Returns the number of data rows. */
export async function exportBarsCsv(set: BarSet, path: string, o: ExportOptions = {}): Promise<number> {
  const { rows, valid } = selectRows(set, o);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const out = createWriteStream(tmp);
  let buf = EXPORT_COLUMNS.join(',') + '\n';
  for (const { t, k, i } of rows) {
    const a = set.assets[k]!;
    const b = a.bars;
    buf +=
      `${t},${a.symbol},${num(b.open[i])},${num(b.high[i])},${num(b.low[i])},${num(b.close[i])},${num(b.volume[i])},` +
      `${num(b.quoteVolume[i])},${num(b.trades[i])},${num(b.takerBuyBase[i])},${num(b.takerBuyQuote[i])},${num(b.rv[i])},` +
      `${num(a.rv5m?.[i])},${b.nSub[i]},${b.nExpected[i]},${b.present[i] ? 'true' : 'false'},${valid[k]![i] ? 'true' : 'false'},` +
      `${b.present[i] && b.volume[i] === 0 ? 'true' : 'false'}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
  renameSync(tmp, path);
  return rows.length;
}

/** Write bars as an Arrow IPC file in the same long, time-sorted layout as the CSV. */
export function exportBarsArrow(set: BarSet, path: string, o: ExportOptions = {}): number {
  const { rows, valid } = selectRows(set, o);
  const n = rows.length;
  const f64 = (get: (r: Row) => number | undefined) => {
    const v = new Float64Array(n);
    const bitmap = new Uint8Array((n + 7) >> 3);
    let nulls = 0;
    rows.forEach((r, j) => {
      const x = get(r);
      if (x === undefined || Number.isNaN(x)) {
        v[j] = 0;
        nulls++;
      } else {
        v[j] = x;
        bitmap[j >> 3]! |= 1 << (j & 7);
      }
    });
    return makeVector(makeData({ type: new Float64(), length: n, nullCount: nulls, nullBitmap: nulls ? bitmap : null, data: v }));
  };
  const bool = (get: (r: Row) => boolean) => vectorFromArray(rows.map(get), new Bool());
  const A = (r: Row) => set.assets[r.k]!;
  const B = (r: Row) => set.assets[r.k]!.bars;
  const columns = {
    open_time: makeVector(makeData({ type: new Int64(), length: n, nullCount: 0, data: BigInt64Array.from(rows, (r) => BigInt(r.t)) })),
    symbol: vectorFromArray(rows.map((r) => A(r).symbol), new Utf8()),
    open: f64((r) => B(r).open[r.i]),
    high: f64((r) => B(r).high[r.i]),
    low: f64((r) => B(r).low[r.i]),
    close: f64((r) => B(r).close[r.i]),
    volume: f64((r) => B(r).volume[r.i]),
    quote_volume: f64((r) => B(r).quoteVolume[r.i]),
    trades: f64((r) => B(r).trades[r.i]),
    taker_buy_base: f64((r) => B(r).takerBuyBase[r.i]),
    taker_buy_quote: f64((r) => B(r).takerBuyQuote[r.i]),
    rv: f64((r) => B(r).rv[r.i]),
    rv_5m: f64((r) => A(r).rv5m?.[r.i]),
    n_sub: makeVector(makeData({ type: new Uint32(), length: n, nullCount: 0, data: Uint32Array.from(rows, (r) => B(r).nSub[r.i]!) })),
    n_expected: makeVector(makeData({ type: new Uint32(), length: n, nullCount: 0, data: Uint32Array.from(rows, (r) => B(r).nExpected[r.i]!) })),
    present: bool((r) => B(r).present[r.i] === 1),
    valid: bool((r) => valid[r.k]![r.i] === 1),
    zero_volume: bool((r) => B(r).present[r.i] === 1 && B(r).volume[r.i] === 0),
  };
  const table = new Table(columns);
  table.schema.metadata.set('regime.interval', set.interval);
  writeFileAtomic(path, tableToIPC(table, 'file'));
  return n;
}
