// Features as Arrow IPC in the work directory: long layout (open_time, symbol, one column per
// feature), one record batch per symbol, NaN stored as null, with metadata (definitions,
// windows, anchor, splits, GARCH fits, the bars' hash and the code version).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createWriteStream, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { once } from 'node:events';
import {
  Bool,
  Dictionary,
  Field,
  Float64,
  Int32,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  TimestampMillisecond,
  Utf8,
  makeData,
  tableFromIPC,
  vectorFromArray,
  type Data,
} from 'apache-arrow';
import { intervalMs, timesInt64, toFloat64, writeFileAtomic, type Interval } from '@regime/data';
import type { FeatureTable } from './compute.js';
import { FeatureError } from './errors.js';

export function featuresPath(workdir: string, set: string): string {
  return join(workdir, 'features', `${set}.arrow`);
}

function f64(v: Float64Array): Data<Float64> {
  const bitmap = new Uint8Array((v.length + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < v.length; i++) {
    if (Number.isNaN(v[i]!)) nulls++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  return makeData({ type: new Float64(), length: v.length, nullCount: nulls, nullBitmap: nulls ? bitmap : null, data: v });
}

function bool(v: Uint8Array): Data<Bool> {
  const bits = new Uint8Array((v.length + 7) >> 3);
  for (let i = 0; i < v.length; i++) if (v[i]) bits[i >> 3]! |= 1 << (i & 7);
  return makeData({ type: new Bool(), length: v.length, nullCount: 0, data: bits });
}

export function writeFeatures(path: string, t: FeatureTable, extra: Record<string, unknown> = {}): void {
  const dict = new Dictionary(new Utf8(), new Int32(), 0, false);
  const fields = [
    new Field('open_time', new TimestampMillisecond('UTC'), false),
    new Field('symbol', dict, false),
    ...t.names.map((n) => new Field(n, new Float64(), true)),
    new Field('listed', new Bool(), false),
  ];
  const schema = new Schema(
    fields,
    new Map([
      ['regime.kind', 'features'],
      ['regime.set', t.set],
      ['regime.interval', t.interval],
      ['regime.start', String(t.start)],
      ['regime.length', String(t.length)],
      ['regime.symbols', JSON.stringify(t.symbols)],
      ['regime.scopes', JSON.stringify(t.scopes)],
      ['regime.meta', JSON.stringify({ ...t.meta, ...extra })],
    ]),
  );
  const symbols = vectorFromArray(t.symbols, new Utf8());
  const step = intervalMs(t.interval);
  const writer = new RecordBatchFileWriter();
  writer.reset(undefined, schema);
  t.symbols.forEach((_, k) => {
    const n = t.length;
    const times = timesInt64(t.start, step, n);
    const children: Data[] = [
      makeData({ type: new TimestampMillisecond('UTC'), length: n, nullCount: 0, data: times }),
      makeData({ type: dict, length: n, nullCount: 0, data: new Int32Array(n).fill(k), dictionary: symbols }),
      ...t.names.map((name) => f64(t.values[name]![k]!)),
      bool(t.listed[k]!),
    ];
    writer.write(new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children })));
  });
  writer.finish();
  writeFileAtomic(path, writer.toUint8Array(true));
}

export function readFeatures(path: string): FeatureTable & { extra: Record<string, unknown> } {
  let table;
  try {
    table = tableFromIPC(readFileSync(path));
  } catch {
    throw new FeatureError(`no features at ${path}: run \`regime features\` (or \`regime run\`) first`);
  }
  const md = table.schema.metadata;
  if (md.get('regime.kind') !== 'features') throw new FeatureError(`${path}: not a regime features file`);
  const symbols = JSON.parse(md.get('regime.symbols')!) as string[];
  const scopes = JSON.parse(md.get('regime.scopes')!) as Record<string, 'asset' | 'market'>;
  const meta = JSON.parse(md.get('regime.meta')!) as FeatureTable['meta'] & Record<string, unknown>;
  const length = Number(md.get('regime.length'));
  const names = table.schema.fields.map((f) => f.name).filter((n) => n !== 'open_time' && n !== 'symbol' && n !== 'listed');
  const values: Record<string, Float64Array[]> = {};
  for (const n of names) {
    const all = toFloat64(table.getChild(n)!);
    values[n] = symbols.map((_, k) => all.slice(k * length, (k + 1) * length));
  }
  const lst = table.getChild('listed')!;
  const listed = symbols.map((_, k) => Uint8Array.from({ length }, (_, i) => (lst.get(k * length + i) ? 1 : 0)));
  const { anchor, splits, definitions, garch, ...extra } = meta;
  return {
    set: md.get('regime.set')!,
    interval: md.get('regime.interval') as Interval,
    start: Number(md.get('regime.start')),
    length,
    symbols,
    names,
    scopes,
    values,
    listed,
    meta: { anchor, splits, definitions, garch },
    extra,
  };
}

const num = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '' : String(x));

/** Long CSV: open_time (ms UTC), symbol, then one column per feature; market features repeat on every symbol's row. Rows: listed assets, sorted by time then symbol. */
export async function exportFeaturesCsv(t: FeatureTable, path: string, o: { from?: number; to?: number; symbols?: string[] } = {}): Promise<number> {
  const step = intervalMs(t.interval);
  const keep = o.symbols ? new Set(o.symbols) : undefined;
  const order = t.symbols.map((s, k) => ({ s, k })).sort((a, b) => (a.s < b.s ? -1 : a.s > b.s ? 1 : 0));
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const out = createWriteStream(tmp);
  let buf = ['open_time', 'symbol', ...t.names].join(',') + '\n';
  let rows = 0;
  const cols = t.names.map((n) => t.values[n]!);
  for (let i = 0; i < t.length; i++) {
    const time = t.start + i * step;
    if (o.from !== undefined && time < o.from) continue;
    if (o.to !== undefined && time >= o.to) continue;
    for (const { s, k } of order) {
      if (keep && !keep.has(s)) continue;
      if (!t.listed[k]![i]) continue;
      buf += `${time},${s}`;
      for (const c of cols) buf += `,${num(c[k]![i])}`;
      buf += '\n';
      rows++;
      if (buf.length > 1 << 20) {
        if (!out.write(buf)) await once(out, 'drain');
        buf = '';
      }
    }
  }
  out.end(buf);
  await once(out, 'finish');
  renameSync(tmp, path);
  return rows;
}
