// Arrow storage, alignment, atomic writes, the synthetic market and CSV/Arrow export.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC, tableFromArrays, tableToIPC } from 'apache-arrow';
import * as engine from '@regime/engine';
import {
  buildBarSets,
  describeSet,
  exportBarsArrow,
  exportBarsCsv,
  ingest,
  readArrowKlines,
  readBarSet,
  synthesize,
  writeBarSet,
  writeFileAtomic,
} from '@regime/data';

const tmp = () => mkdtempSync(join(tmpdir(), 'regime-store-'));

function klines(times: number[], start = 100): engine.GridBars {
  const cols = {
    openTime: Float64Array.from(times),
    open: Float64Array.from(times, (_, i) => start + i),
    high: Float64Array.from(times, (_, i) => start + i + 2),
    low: Float64Array.from(times, (_, i) => start + i - 1),
    close: Float64Array.from(times, (_, i) => start + i + 1),
    volume: Float64Array.from(times, (_, i) => (i === 1 ? 0 : 1 + i)),
  };
  return engine.klinesFromColumnsSync(cols, 'test', { intervalMs: engine.HOUR_MS }).bars;
}

describe('alignment and Arrow storage', () => {
  it('aligns assets on one grid, masks before listing, keeps gaps missing, and round-trips nulls', async () => {
    const H = engine.HOUR_MS;
    const a = klines([0, H, 3 * H, 4 * H]); // gap at 2H
    const b = klines([2 * H, 3 * H, 4 * H, 5 * H], 50); // lists at 2H
    const { sets } = await buildBarSets([{ symbol: 'AAA', native: { '1h': a } }, { symbol: 'BBB', native: { '1h': b } }], { intervals: ['1h'] });
    const set = sets.get('1h')!;
    expect(set.start).toBe(0);
    expect(set.length).toBe(6);
    const [A, B] = set.assets;
    expect(Array.from(A!.bars.present)).toEqual([1, 1, 0, 1, 1, 0]);
    expect(Array.from(A!.listed)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(Array.from(B!.listed)).toEqual([0, 0, 1, 1, 1, 1]);
    expect(Array.from(B!.bars.present)).toEqual([0, 0, 1, 1, 1, 1]);
    const dir = tmp();
    const p = join(dir, '1h.arrow');
    writeBarSet(p, set);
    // The file is a plain Arrow IPC file: nulls where bars are missing, never NaN.
    const t = tableFromIPC(readFileSync(p));
    expect(t.numRows).toBe(12);
    expect(t.getChild('close')!.nullCount).toBe(4);
    expect(t.getChild('close')!.get(2)).toBeNull();
    expect(t.getChild('symbol')!.get(7)).toBe('BBB');
    expect(t.getChild('zero_volume')!.get(1)).toBe(true);
    const back = readBarSet(p);
    expect(back.assets.map((x) => x.symbol)).toEqual(['AAA', 'BBB']);
    expect(Number.isNaN(back.assets[0]!.bars.close[2]!)).toBe(true);
    expect(Array.from(back.assets[1]!.bars.close)).toEqual(Array.from(B!.bars.close));
    expect(Array.from(back.assets[1]!.listed)).toEqual([0, 0, 1, 1, 1, 1]);
    const info = describeSet(back);
    expect(info.assets[0]).toMatchObject({ symbol: 'AAA', present: 4, missing: 2, gaps: 2, longestGap: 1, zeroVolume: 1 });
    expect(info.assets[1]).toMatchObject({ symbol: 'BBB', first: '1970-01-01T02:00:00Z', present: 4, missing: 0, gaps: 0 });
  });

  it('daily coverage below 95% makes a bar invalid', async () => {
    const H = engine.HOUR_MS;
    const hours = Array.from({ length: 48 }, (_, i) => i * H).filter((t) => t !== 30 * H && t !== 31 * H);
    const { sets } = await buildBarSets([{ symbol: 'AAA', native: { '1h': klines(hours) } }], { intervals: ['1h', '1d'] });
    const d = describeSet(sets.get('1d')!);
    expect(d.assets[0]).toMatchObject({ present: 2, valid: 1, lowCoverage: 1 });
    expect(Array.from(sets.get('1d')!.assets[0]!.bars.nSub)).toEqual([24, 22]);
  });

  it('writes atomically: no temp file is left and a failed write keeps the old file', () => {
    const dir = tmp();
    const p = join(dir, 'x.json');
    writeFileAtomic(p, 'old');
    writeFileAtomic(p, 'new');
    expect(readFileSync(p, 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['x.json']);
    expect(() => writeFileAtomic(join(p, 'child'), 'x')).toThrow();
    expect(readFileSync(p, 'utf8')).toBe('new');
  });

  it('reads kline input from an Arrow IPC file with the same validation rules', async () => {
    const dir = tmp();
    const p = join(dir, 'ABCUSDT-1h.arrow');
    const t = tableFromArrays({
      open_time: Float64Array.from([0, 3_600_000, 7_200_000]),
      open: Float64Array.from([1, 2, 3]),
      high: Float64Array.from([2, 3, 4]),
      low: Float64Array.from([0.5, 1.5, 2.5]),
      close: Float64Array.from([2, 3, 3.5]),
      volume: Float64Array.from([1, 1, 1]),
    });
    writeFileSync(p, tableToIPC(t, 'file'));
    const r = await ingest([p]);
    expect(Array.from(r.sets.get('1h')!.assets[0]!.bars.close)).toEqual([2, 3, 3.5]);
    const bad = join(dir, 'BADUSDT-1h.arrow');
    writeFileSync(bad, tableToIPC(tableFromArrays({ ...Object.fromEntries(t.schema.fields.map((f) => [f.name, t.getChild(f.name)!.toArray()])), high: Float64Array.from([2, 1, 4]) }), 'file'));
    expect(() => readArrowKlines(bad, { intervalMs: 3_600_000 })).toThrow(`${bad}:2: column 'high': high must be >= max(open, close) = 3 (value '1')`);
  });
});

describe('synthetic market', () => {
  it('is seeded, writes the bar schema at every interval, and carries its true regimes', async () => {
    const cfg = { assets: 4, days: 30, baseInterval: '1m' as const, seed: 3, start: '2021-03-01' };
    const a = await synthesize(cfg);
    const b = await synthesize(cfg);
    expect([...a.sets.keys()]).toEqual(['1m', '1h', '1d']);
    expect(a.symbols).toEqual(['SYN00', 'SYN01', 'SYN02', 'SYN03']);
    expect(a.regime.length).toBe(30);
    expect(Array.from(a.regime)).toEqual(Array.from(b.regime));
    const d = a.sets.get('1d')!;
    expect(d.start).toBe(Date.parse('2021-03-01T00:00:00Z'));
    expect(Array.from(d.assets[0]!.bars.close)).toEqual(Array.from(b.sets.get('1d')!.assets[0]!.bars.close));
    expect(d.assets[0]!.bars.nSub[0]).toBe(1440);
    expect(d.assets[0]!.rv5m![5]).toBeGreaterThan(0);
    // Daily bars are exactly the aggregate of the minutes.
    const m = a.sets.get('1m')!.assets[1]!.bars;
    expect(d.assets[1]!.bars.open[2]).toBe(m.open[2 * 1440]);
    expect(d.assets[1]!.bars.close[2]).toBe(m.close[3 * 1440 - 1]);
    const c = await synthesize({ ...cfg, seed: 4 });
    expect(Array.from(c.sets.get('1d')!.assets[0]!.bars.close)).not.toEqual(Array.from(d.assets[0]!.bars.close));
  });
});

describe('export', () => {
  it('writes long CSV and Arrow sorted by open_time then symbol, present bars only by default', async () => {
    const H = engine.HOUR_MS;
    const { sets } = await buildBarSets(
      [
        { symbol: 'BBB', native: { '1h': klines([H, 2 * H], 50) } },
        { symbol: 'AAA', native: { '1h': klines([0, 2 * H]) } },
      ],
      { intervals: ['1h'] },
    );
    const dir = tmp();
    const csv = join(dir, 'bars.csv');
    const n = await exportBarsCsv(sets.get('1h')!, csv);
    expect(n).toBe(4);
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('open_time,symbol,open,high,low,close,volume,quote_volume,trades,taker_buy_base,taker_buy_quote,rv,rv_5m,n_sub,n_expected,present,valid,zero_volume');
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 2).join(','))).toEqual(['0,AAA', '3600000,BBB', '7200000,AAA', '7200000,BBB']);
    expect(lines[1]).toBe('0,AAA,100,102,99,101,1,,,,,,,1,1,true,true,false');
    const withMissing = await exportBarsCsv(sets.get('1h')!, csv, { includeMissing: true });
    expect(withMissing).toBe(5); // AAA's missing 1h bar; BBB is not listed at 0
    const arrow = join(dir, 'bars.arrow');
    expect(exportBarsArrow(sets.get('1h')!, arrow)).toBe(4);
    const t = tableFromIPC(readFileSync(arrow));
    expect(t.getChild('symbol')!.toArray()).toEqual(['AAA', 'BBB', 'AAA', 'BBB']);
    expect(Number(t.getChild('open_time')!.get(1))).toBe(H);
    expect(t.getChild('quote_volume')!.get(0)).toBeNull();
  });
});
