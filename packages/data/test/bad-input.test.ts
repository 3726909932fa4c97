// Every kind of bad input gives an exact error naming file, line, column and value.
import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, zipSync, strToU8 } from 'fflate';
import * as engine from '@regime/engine';
import { ingest, UserError, isUserError } from '@regime/data';

let dir: string;
const row = (t: number, o: number, h: number, l: number, c: number, v = 10) =>
  `${t},${o},${h},${l},${c},${v},${t + 3_599_999},100,5,1,50,0`;
const good = [row(0, 10, 12, 9, 11), row(3_600_000, 11, 13, 10, 12), row(7_200_000, 12, 12.5, 11, 11.5)];
const file = (name: string, body: string | Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
};
const reject = async (p: string, opts: engine.ReadKlinesOptions = {}) => {
  const e = await engine.readKlines(p, { intervalMs: 3_600_000, ...opts }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(engine.EngineError);
  expect(isUserError(e)).toBe(true);
  return (e as Error).message;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'regime-bad-'));
});

describe('bad kline input', () => {
  it('non-numeric field', async () => {
    const p = file('a.csv', [good[0], '3600000,11,13,10,abc,5,0,,,,', good[2]].join('\n'));
    expect(await reject(p)).toBe(`${p}:2: column 'close': not a number (value 'abc')`);
  });

  it('high below low', async () => {
    const p = file('b.csv', [good[0], row(3_600_000, 11, 9, 10, 10.5)].join('\n'));
    expect(await reject(p)).toBe(`${p}:2: column 'high': high must be >= max(open, close) = 11 (value '9')`);
  });

  it('low above min(open, close)', async () => {
    const p = file('b2.csv', [row(0, 10, 12, 10.5, 11)].join('\n'));
    expect(await reject(p)).toBe(`${p}:1: column 'low': low must be <= min(open, close) = 10 (value '10.5')`);
  });

  it('zero price and negative volume', async () => {
    const p = file('b3.csv', [row(0, 0, 12, 9, 11)].join('\n'));
    expect(await reject(p)).toBe(`${p}:1: column 'open': price must be > 0 (value '0')`);
    const q = file('b4.csv', [row(0, 10, 12, 9, 11, -1)].join('\n'));
    expect(await reject(q)).toBe(`${q}:1: column 'volume': volume must be >= 0 (value '-1')`);
  });

  it('unsorted rows fail without repair and are sorted (and reported) with it', async () => {
    const p = file('c.csv', [good[0], good[2], good[1]].join('\n'));
    expect(await reject(p)).toBe(
      `${p}:3: out-of-order open_time 3600000 (previous row 7200000); rows must be strictly increasing (use the repair flag to sort and drop duplicates)`,
    );
    const r = await engine.readKlines(p, { intervalMs: 3_600_000, repair: true });
    expect(r.report).toMatchObject({ rows: 3, outOfOrder: 1, duplicatesDropped: 0 });
    expect(Array.from(r.bars.close)).toEqual([11, 12, 11.5]);
  });

  it('duplicate rows fail without repair and keep the first with it', async () => {
    const p = file('d.csv', [good[0], good[1], row(3_600_000, 11, 13, 10, 12.5), good[2]].join('\n'));
    expect(await reject(p)).toBe(
      `${p}:3: duplicate open_time 3600000 (previous row 3600000); rows must be strictly increasing (use the repair flag to sort and drop duplicates)`,
    );
    const r = await engine.readKlines(p, { intervalMs: 3_600_000, repair: true });
    expect(r.report).toMatchObject({ rows: 3, duplicatesDropped: 1, conflictingDuplicates: 1 });
    expect(r.bars.close[1]).toBe(12);
  });

  it('empty file', async () => {
    const p = file('e.csv', '');
    expect(await reject(p)).toBe(`${p}: empty file`);
    const q = file('e2.csv', 'open_time,open,high,low,close,volume\n');
    expect(await reject(q)).toBe(`${q}: no kline rows`);
  });

  it('truncated zip archive', async () => {
    const zip = zipSync({ 'X-1h-2024-01.csv': strToU8(good.join('\n') + '\n') });
    const p = file('X-1h-2024-01.zip', zip.subarray(0, Math.floor(zip.length / 2)));
    expect(await reject(p)).toMatch(new RegExp(`^${p.replace(/[.]/g, '\\.')}: not a readable zip archive \\(truncated or corrupt\\?\\): `));
  });

  it('truncated gzip', async () => {
    const gz = gzipSync(strToU8(Array.from({ length: 2000 }, (_, i) => row(i * 3_600_000, 10, 12, 9, 11)).join('\n')));
    const p = file('t.csv.gz', gz.subarray(0, gz.length - 40));
    expect(await reject(p)).toMatch(new RegExp(`^${p.replace(/[.]/g, '\\.')}:\\d+: read error \\(truncated or corrupt file\\?\\)`));
  });

  it('wrong column count and misaligned timestamps', async () => {
    const p = file('w.csv', '0,1,2,0.5\n');
    expect(await reject(p)).toBe(`${p}:1: expected 6 to 12 comma-separated columns, found 4`);
    const q = file('m.csv', [row(0, 10, 12, 9, 11), row(3_600_001, 10, 12, 9, 11)].join('\n'));
    expect(await reject(q)).toBe(`${q}: open_time 3600001 (row 2) is not aligned to the 3600000 ms interval`);
  });

  it('a file that cannot be classified is a user error', async () => {
    const p = file('mystery.csv', good.join('\n'));
    await expect(ingest([p])).rejects.toThrow(UserError);
    await expect(ingest([p])).rejects.toThrow(`${p}: cannot tell the symbol and interval from the file name`);
  });
});

describe('Binance archive formats', () => {
  it('reads a zip with microsecond timestamps (2025+) as milliseconds, with or without header', async () => {
    const t0 = Date.parse('2025-01-01T00:00:00Z');
    const us = [0, 1, 2].map((i) => `${(t0 + i * 60_000) * 1000},100,101,99,100.5,1,${(t0 + i * 60_000 + 59_999) * 1000 + 999},100,3,0.5,50,0`);
    const z = file('BTCUSDT-1m-2025-01-01.zip', zipSync({ 'BTCUSDT-1m-2025-01-01.csv': strToU8(us.join('\n') + '\n') }));
    const r = await engine.readKlines(z);
    expect(r.report).toMatchObject({ rows: 3, microsRows: 3, intervalMs: 60_000, headerLines: 0 });
    expect(r.bars.start).toBe(t0);
    const header = 'open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n';
    const h = file('BTCUSDT-1m-2025-01-02.csv', header + us.join('\n'));
    const r2 = await engine.readKlines(h);
    expect(r2.report.headerLines).toBe(1);
    expect(Array.from(r2.bars.close)).toEqual(Array.from(r.bars.close));
  });

  it('several monthly files of a symbol form one series, gaps marked missing', async () => {
    const a = file('ETHUSDT-1h-2024-01.csv', good.slice(0, 2).join('\n'));
    const b = file('ETHUSDT-1h-2024-02.csv', [row(5 * 3_600_000, 10, 12, 9, 11)].join('\n'));
    const r = await engine.readKlines([a, b], { intervalMs: 3_600_000 });
    expect(Array.from(r.bars.present)).toEqual([1, 1, 0, 0, 0, 1]);
    const overlap = file('ETHUSDT-1h-2024-03.csv', good.join('\n'));
    await expect(engine.readKlines([a, overlap], { intervalMs: 3_600_000 })).rejects.toThrow(
      `${overlap}: first open_time 0 is not after the previous file's last 3600000 (files overlap or are out of order; use the repair flag)`,
    );
  });

  it('the parser is streaming: a 500,000-row gzip file reads without holding it as one string', async () => {
    const n = 500_000;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`${i * 60_000},100,101,99,100.5,1,,,,,`);
    const p = file('BIGUSDT-1m.csv.gz', gzipSync(strToU8(lines.join('\n'))));
    lines.length = 0;
    const r = await engine.readKlines(p);
    expect(r.report.rows).toBe(n);
    expect(readFileSync(p).length).toBeLessThan(5_000_000);
  });
});
