// Bars as Apache Arrow tables and IPC files.
//
// Layout: a long table, one row per (symbol, open_time), symbol-major (each symbol's complete
// grid is one record batch), so a symbol reads back as a grid without sorting.
// Missing values are Arrow nulls, never NaN: NaN inside a kernel ⇔ null in a file. Reading a
// column for a kernel goes through `toFloat64`, which turns nulls into NaN explicitly (Vector
// `toArray()` would silently expose whatever bytes sit under the validity bitmap).
import {
  Bool,
  Data,
  Dictionary,
  Field,
  Float64,
  Int32,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  TimestampMillisecond,
  Uint32,
  Utf8,
  makeData,
  tableFromIPC,
  vectorFromArray,
  type Table,
  type Vector,
} from 'apache-arrow';
import { readFileSync } from 'node:fs';
import type { GridBars } from '@regime/engine';
import { writeFileAtomic } from './atomic.js';
import { intervalMs, type Interval } from './intervals.js';

/** One asset's bars on the shared grid of a BarSet. */
export interface AssetBars {
  symbol: string;
  bars: GridBars;
  /** 1 from the asset's first bar (its listing on the exchange) onward; before it, bars are absent by nature, not missing. */
  listed: Uint8Array;
  /** Daily realized variance from 5-minute returns (1d tables built from 1-minute data), NaN elsewhere. */
  rv5m?: Float64Array;
}

/** Many assets on one UTC grid of one interval. */
export interface BarSet {
  interval: Interval;
  start: number;
  /** Rows per asset. */
  length: number;
  /** Minimum share of sub-bars for a bar to be valid (e.g. 0.95 of a day's minutes). */
  minCoverage: number;
  assets: AssetBars[];
  /** Free-form provenance (sources, hashes, code version), stored in the file's schema metadata. */
  meta: Record<string, unknown>;
}

export const BAR_COLUMNS = [
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
  'n_returns',
  'n_sub',
  'n_expected',
  'present',
  'listed',
  'valid',
  'zero_volume',
] as const;

const F64_COLUMNS: Array<[string, keyof GridBars]> = [
  ['open', 'open'],
  ['high', 'high'],
  ['low', 'low'],
  ['close', 'close'],
  ['volume', 'volume'],
  ['quote_volume', 'quoteVolume'],
  ['trades', 'trades'],
  ['taker_buy_base', 'takerBuyBase'],
  ['taker_buy_quote', 'takerBuyQuote'],
  ['rv', 'rv'],
];
const U32_COLUMNS: Array<[string, keyof GridBars]> = [
  ['n_returns', 'nReturns'],
  ['n_sub', 'nSub'],
  ['n_expected', 'nExpected'],
];

/** valid = present and listed and (coverage unknown or n_sub / n_expected ≥ minCoverage). */
export function validMask(a: AssetBars, minCoverage: number): Uint8Array {
  const b = a.bars;
  const out = new Uint8Array(b.present.length);
  for (let i = 0; i < out.length; i++) {
    const e = b.nExpected[i]!;
    out[i] = b.present[i] && a.listed[i] && (e === 0 || b.nSub[i]! >= minCoverage * e) ? 1 : 0;
  }
  return out;
}

function nullBitmapFromNaN(v: Float64Array): { bitmap: Uint8Array; nulls: number } {
  const bitmap = new Uint8Array((v.length + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < v.length; i++) {
    if (Number.isNaN(v[i]!)) nulls++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  return { bitmap, nulls };
}

function f64Data(v: Float64Array): Data<Float64> {
  const { bitmap, nulls } = nullBitmapFromNaN(v);
  return makeData({ type: new Float64(), length: v.length, nullCount: nulls, nullBitmap: nulls ? bitmap : null, data: v });
}

function boolData(v: Uint8Array): Data<Bool> {
  const bits = new Uint8Array((v.length + 7) >> 3);
  for (let i = 0; i < v.length; i++) if (v[i]) bits[i >> 3]! |= 1 << (i & 7);
  return makeData({ type: new Bool(), length: v.length, nullCount: 0, data: bits });
}

function schemaFor(set: BarSet): Schema {
  const dictType = new Dictionary(new Utf8(), new Int32(), 0, false);
  const fields = [
    new Field('open_time', new TimestampMillisecond('UTC'), false),
    new Field('symbol', dictType, false),
    ...F64_COLUMNS.map(([n]) => new Field(n, new Float64(), true)),
    new Field('rv_5m', new Float64(), true),
    ...U32_COLUMNS.map(([n]) => new Field(n, new Uint32(), false)),
    ...['present', 'listed', 'valid', 'zero_volume'].map((n) => new Field(n, new Bool(), false)),
  ];
  const meta = new Map<string, string>([
    ['regime.kind', 'bars'],
    ['regime.interval', set.interval],
    ['regime.start', String(set.start)],
    ['regime.length', String(set.length)],
    ['regime.min_coverage', String(set.minCoverage)],
    ['regime.symbols', JSON.stringify(set.assets.map((a) => a.symbol))],
    ['regime.meta', JSON.stringify(set.meta)],
  ]);
  return new Schema(fields, meta);
}

function batchFor(set: BarSet, schema: Schema, k: number, symbols: Vector<Utf8>): RecordBatch {
  const a = set.assets[k]!;
  const n = set.length;
  const step = intervalMs(set.interval);
  const times = timesInt64(set.start, step, n);
  const zero = new Uint8Array(n);
  for (let i = 0; i < n; i++) zero[i] = a.bars.present[i] && a.bars.volume[i] === 0 ? 1 : 0;
  const dictField = schema.fields[1]!.type as Dictionary<Utf8, Int32>;
  const children: Data[] = [
    makeData({ type: new TimestampMillisecond('UTC'), length: n, nullCount: 0, data: times }),
    makeData({ type: dictField, length: n, nullCount: 0, data: new Int32Array(n).fill(k), dictionary: symbols }),
    ...F64_COLUMNS.map(([, key]) => f64Data(a.bars[key] as Float64Array)),
    f64Data(a.rv5m ?? new Float64Array(n).fill(NaN)),
    ...U32_COLUMNS.map(([, key]) => makeData({ type: new Uint32(), length: n, nullCount: 0, data: a.bars[key] as Uint32Array })),
    boolData(a.bars.present),
    boolData(a.listed),
    boolData(validMask(a, set.minCoverage)),
    boolData(zero),
  ];
  const data = makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children });
  return new RecordBatch(schema, data);
}

/** Serialize a BarSet as an Arrow IPC file (one record batch per symbol). */
export function barSetToIPC(set: BarSet): Uint8Array {
  const schema = schemaFor(set);
  const symbols = vectorFromArray(set.assets.map((a) => a.symbol), new Utf8());
  const writer = new RecordBatchFileWriter();
  writer.reset(undefined, schema);
  for (let k = 0; k < set.assets.length; k++) writer.write(batchFor(set, schema, k, symbols));
  writer.finish();
  return writer.toUint8Array(true);
}

/** Write a BarSet atomically (temp file, fsync, rename). */
export function writeBarSet(path: string, set: BarSet): void {
  writeFileAtomic(path, barSetToIPC(set));
}

/** A float column as Float64Array with nulls turned into NaN, explicitly, chunk by chunk from the
 * validity bitmap (never `toArray()`, which exposes whatever bytes sit under a null). */
export function toFloat64(v: Vector): Float64Array {
  const out = new Float64Array(v.length);
  let pos = 0;
  for (const d of v.data) {
    const values = d.values as Float64Array | Uint32Array | Int32Array | Float32Array;
    const src = values.subarray(d.offset, d.offset + d.length);
    if (src instanceof Float64Array) out.set(src, pos);
    else for (let i = 0; i < d.length; i++) out[pos + i] = src[i]!;
    const bitmap = d.nullBitmap;
    if (d.nullCount > 0 && bitmap && bitmap.length > 0) {
      for (let i = 0; i < d.length; i++) {
        const j = d.offset + i;
        if (((bitmap[j >> 3]! >> (j & 7)) & 1) === 0) out[pos + i] = NaN;
      }
    }
    pos += d.length;
  }
  return out;
}

function toU32(v: Vector): Uint32Array {
  const out = new Uint32Array(v.length);
  let pos = 0;
  for (const d of v.data) {
    if (d.nullCount > 0) throw new Error(`column ${String(v.type)} has nulls where none are allowed`);
    out.set((d.values as Uint32Array).subarray(d.offset, d.offset + d.length), pos);
    pos += d.length;
  }
  return out;
}

/** A non-null Bool column as 0/1 bytes, straight from its bit-packed values. */
function toFlags(v: Vector): Uint8Array {
  const out = new Uint8Array(v.length);
  let pos = 0;
  for (const d of v.data) {
    const bits = d.values as Uint8Array;
    for (let i = 0; i < d.length; i++) {
      const j = d.offset + i;
      out[pos + i] = (bits[j >> 3]! >> (j & 7)) & 1;
    }
    pos += d.length;
  }
  return out;
}

/** Open times start + i·step as int64 without a BigInt per row: write the two 32-bit halves. */
export function timesInt64(start: number, step: number, n: number): BigInt64Array {
  const out = new BigInt64Array(n);
  const halves = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const t = start + i * step; // exact: |t| < 2^53
    const lo = t % 4294967296;
    const hi = (t - lo) / 4294967296;
    halves[2 * i] = lo >>> 0;
    halves[2 * i + 1] = hi >>> 0;
  }
  return out;
}

function metaNumber(schema: Schema, key: string, path: string): number {
  const s = schema.metadata.get(key);
  const v = s === undefined ? NaN : Number(s);
  if (!Number.isFinite(v)) throw new Error(`${path}: not a regime bars file (metadata ${key} missing)`);
  return v;
}

/** Read a BarSet written by writeBarSet. */
export function readBarSet(path: string): BarSet {
  const table: Table = tableFromIPC(readFileSync(path));
  return barSetFromTable(table, path);
}

export function barSetFromTable(table: Table, path = '<table>'): BarSet {
  const schema = table.schema;
  if (schema.metadata.get('regime.kind') !== 'bars') throw new Error(`${path}: not a regime bars file`);
  const interval = schema.metadata.get('regime.interval') as Interval;
  const start = metaNumber(schema, 'regime.start', path);
  const length = metaNumber(schema, 'regime.length', path);
  const minCoverage = metaNumber(schema, 'regime.min_coverage', path);
  const symbols = JSON.parse(schema.metadata.get('regime.symbols') ?? '[]') as string[];
  const meta = JSON.parse(schema.metadata.get('regime.meta') ?? '{}') as Record<string, unknown>;
  if (table.numRows !== symbols.length * length) throw new Error(`${path}: ${table.numRows} rows, expected ${symbols.length} × ${length}`);
  const col = (name: string): Vector => {
    const c = table.getChild(name);
    if (!c) throw new Error(`${path}: column ${name} missing`);
    return c;
  };
  const all = Object.fromEntries(
    [...F64_COLUMNS.map(([n]) => n), 'rv_5m'].map((n) => [n, toFloat64(col(n))]),
  ) as Record<string, Float64Array>;
  const u32 = Object.fromEntries(U32_COLUMNS.map(([n]) => [n, toU32(col(n))])) as Record<string, Uint32Array>;
  const present = toFlags(col('present'));
  const listed = toFlags(col('listed'));
  const assets: AssetBars[] = symbols.map((symbol, k) => {
    const lo = k * length;
    const hi = lo + length;
    const bars = { intervalMs: intervalMs(interval), start } as GridBars;
    for (const [n, key] of F64_COLUMNS) (bars as unknown as Record<string, unknown>)[key] = all[n]!.slice(lo, hi);
    for (const [n, key] of U32_COLUMNS) (bars as unknown as Record<string, unknown>)[key] = u32[n]!.slice(lo, hi);
    bars.present = present.slice(lo, hi);
    const rv5m = all['rv_5m']!.slice(lo, hi);
    return { symbol, bars, listed: listed.slice(lo, hi), ...(rv5m.some((x) => !Number.isNaN(x)) ? { rv5m } : {}) };
  });
  return { interval, start, length, minCoverage, assets, meta };
}
