// The train-only scaler, windowing with gaps and embargoes, and the feature store.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyScaler,
  exportFeaturesCsv,
  fitScaler,
  makeWindows,
  readFeatures,
  splitStarts,
  validateDefs,
  writeFeatures,
  DAILY_SET,
  HOURLY_SET,
  type FeatureTable,
} from '@regime/features';

const DAY = 86_400_000;
const start = Date.parse('2022-12-01T00:00:00Z');

/** 2 assets × 62 days (Dec 2022 + Jan 2023), features a and b; asset 1 lists on day 5; day 40 missing for asset 0. */
function table(): FeatureTable {
  const T = 62;
  const a = [Float64Array.from({ length: T }, (_, t) => 10 + t), Float64Array.from({ length: T }, (_, t) => (t < 5 ? NaN : 100 + 2 * t))];
  const b = [Float64Array.from({ length: T }, (_, t) => (t === 40 ? NaN : Math.sin(t))), Float64Array.from({ length: T }, (_, t) => (t < 5 ? NaN : Math.cos(t)))];
  return {
    set: 'test',
    interval: '1d',
    start,
    length: T,
    symbols: ['AAA', 'BBB'],
    names: ['a', 'b'],
    scopes: { a: 'asset', b: 'asset' },
    values: { a, b },
    listed: [new Uint8Array(T).fill(1), Uint8Array.from({ length: T }, (_, t) => (t >= 5 ? 1 : 0))],
    meta: { anchor: 'AAA', splits: { trainEnd: '2022-12-31', validationEnd: '2023-01-15', testEnd: '2023-01-25' }, definitions: [], garch: {} },
  };
}

describe('scaler', () => {
  it('is fitted on train rows only, pooled or per asset, and checks column order', () => {
    const t = table();
    const trainRows = splitStarts(t, t.meta.splits).validation;
    expect(trainRows).toBe(31);
    const s = fitScaler(t, { trainRows });
    // Pooled mean of a over train rows: asset 0 days 0..30 and asset 1 days 5..30.
    const rows = [...Array.from({ length: 31 }, (_, d) => 10 + d), ...Array.from({ length: 26 }, (_, d) => 100 + 2 * (d + 5))];
    const mu = rows.reduce((x, y) => x + y, 0) / rows.length;
    const sd = Math.sqrt(rows.reduce((x, y) => x + (y - mu) ** 2, 0) / rows.length);
    expect(s.mean['*']![0]).toBeCloseTo(mu, 12);
    expect(s.std['*']![0]).toBeCloseTo(sd, 12);
    expect(s.fittedOn.rows['*']).toBe(57);
    // Changing data after the train split does not change the scaler.
    const t2 = table();
    t2.values.a![0]![50] = 1e9;
    expect(fitScaler(t2, { trainRows })).toEqual(s);
    const scaled = applyScaler(t, s);
    expect(scaled.a![0]![0]).toBeCloseTo((10 - mu) / sd, 12);
    expect(() => applyScaler(t, s, ['b', 'a'])).toThrow('scaler: column order mismatch: fitted on [a, b] but given [b, a]');
    const per = fitScaler(t, { trainRows, mode: 'per_asset' });
    expect(per.mean['AAA']![0]).toBeCloseTo(25, 12);
    expect(per.fittedOn.rows).toEqual({ AAA: 31, BBB: 26 });
  });
});

describe('windows', () => {
  it('never span a gap or warm-up, honour stride, embargo and split boundaries', () => {
    const t = table();
    const w = makeWindows(t, t.meta.splits, { length: 5, crossBoundary: true });
    // Asset 0: day 40 is missing, so no window contains it.
    expect(w.filter((x) => x.asset === 0 && x.end >= 40 && x.end - 4 <= 40)).toEqual([]);
    // Asset 1 lists on day 5: its first window ends on day 9.
    expect(w.find((x) => x.asset === 1)!.end).toBe(9);
    const starts = splitStarts(t, t.meta.splits);
    expect(starts).toEqual({ train: 0, validation: 31, test: 46, holdout: 56 });
    // Embargo of 3 rows before each boundary: no window ends on days 28..30, 43..45, 53..55.
    const e = makeWindows(t, t.meta.splits, { length: 5, embargo: 3, crossBoundary: true });
    for (const x of e) for (const b of [31, 46, 56]) expect(x.end >= b - 3 && x.end < b).toBe(false);
    // Without crossing, a validation window starts on or after day 31.
    const nc = makeWindows(t, t.meta.splits, { length: 5, crossBoundary: false });
    for (const x of nc.filter((y) => y.split === 'validation')) expect(x.end - 4).toBeGreaterThanOrEqual(31);
    expect(nc.filter((y) => y.split === 'validation')[0]!.end).toBe(35);
    // Stride 7 keeps ends on multiples of 7.
    expect(makeWindows(t, t.meta.splits, { length: 5, stride: 7 }).every((x) => x.end % 7 === 0)).toBe(true);
  });
});

describe('feature store', () => {
  it('round-trips through Arrow (NaN as null) and exports long CSV with market features repeated', async () => {
    const t = table();
    t.names.push('m');
    t.scopes.m = 'market';
    const m = Float64Array.from({ length: t.length }, (_, i) => i / 10);
    t.values.m = [m, m];
    const dir = mkdtempSync(join(tmpdir(), 'regime-feat-'));
    const p = join(dir, 'test.arrow');
    writeFeatures(p, t, { barsSha256: 'abc' });
    const back = readFeatures(p);
    expect(back.names).toEqual(['a', 'b', 'm']);
    expect(back.extra.barsSha256).toBe('abc');
    expect(Number.isNaN(back.values.b![0]![40]!)).toBe(true);
    expect(Array.from(back.values.a![1]!.slice(5, 8))).toEqual([110, 112, 114]);
    expect(back.scopes.m).toBe('market');
    const csv = join(dir, 'f.csv');
    const rows = await exportFeaturesCsv(back, csv);
    expect(rows).toBe(62 + 57);
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('open_time,symbol,a,b,m');
    expect(lines[1]).toBe(`${start},AAA,10,0,0`);
    const day5 = lines.filter((l) => l.startsWith(`${start + 5 * DAY},`));
    expect(day5).toEqual([`${start + 5 * DAY},AAA,15,${Math.sin(5)},0.5`, `${start + 5 * DAY},BBB,110,${Math.cos(5)},0.5`]);
  });
});

describe('definitions', () => {
  it('the built-in sets are valid, and mistakes in custom definitions are named', () => {
    expect(validateDefs(DAILY_SET)).toEqual([]);
    expect(validateDefs(HOURLY_SET)).toEqual([]);
    const bad = validateDefs([
      ...DAILY_SET,
      { name: 'x', group: 'vol', kernel: 'rolling', input: 'nope', stat: 'std', formula: 'f' },
      { name: 'momentum_50d', group: 'trend', kernel: 'roc', input: 'close', n: 5, formula: 'f' },
    ]);
    expect(bad).toEqual([
      "features[22] (x): kernel 'rolling' needs 'window'",
      "features[22] (x): unknown input 'nope' (a bar column or an earlier feature)",
      "features[23] (momentum_50d): name 'momentum_50d' is already defined",
    ]);
  });
});
