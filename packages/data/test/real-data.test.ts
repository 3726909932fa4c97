// The readers, resampler and ingest pipeline against the real Binance files in ../shared/data
// and the pandas reference fixture.
import { expect, it } from 'vitest';
import { join } from 'node:path';
import * as engine from '@regime/engine';
import { ingest } from '@regime/data';
import { DATA, INCIDENT_DAYS, KLINES, describeShared, fixture } from '../../../tests/helpers/shared.js';

const rowsOf = (g: engine.GridBars) => {
  const out: number[][] = [];
  for (let i = 0; i < g.present.length; i++) {
    out.push([engine.openTime(g, i), g.open[i]!, g.high[i]!, g.low[i]!, g.close[i]!, g.volume[i]!]);
  }
  return out;
};

describeShared('real Binance files', () => {
  it('parses the raw data.binance.vision monthly file (header line tolerated) and equals the normalized hourly file', async () => {
    const raw = await engine.readKlines(join(DATA, 'binance-vision-sample/BTCUSDT-1h-2022-01.csv'));
    expect(raw.report).toMatchObject({ rows: 744, headerLines: 1, intervalMs: 3_600_000, microsRows: 0, duplicatesDropped: 0 });
    expect(raw.bars.start).toBe(Date.parse('2022-01-01T00:00:00Z'));
    // The archive file carries the four optional columns the normalized files lack.
    expect(raw.bars.quoteVolume[0]).toBe(69879986.3904993);
    expect(raw.bars.trades[0]).toBe(38608);
    const norm = await engine.readKlines(join(KLINES, '1h/BTCUSDT.csv.gz'));
    expect(Number.isNaN(norm.bars.quoteVolume[0]!)).toBe(true);
    const slice = engine.reframeSync(norm.bars, raw.bars.start, raw.bars.start + 744 * 3_600_000);
    expect(rowsOf(raw.bars)).toEqual(rowsOf(slice));
  });

  it('aggregates the 1-minute sample to the pandas fixture (hourly and daily, with realized variance)', async () => {
    const fx = fixture('resample_1m_1h.json');
    const m = await engine.readKlines(join(KLINES, '1m/BTCUSDT.csv.gz'));
    expect(m.report.rows).toBe(50_000);
    const h = engine.resampleSync(m.bars, engine.HOUR_MS);
    expect(h.present.length).toBe(fx.hourly.n_rows);
    const hourRow = (i: number) => [
      engine.openTime(h, i), h.open[i], h.high[i], h.low[i], h.close[i], h.volume[i], h.rv[i], h.nReturns[i], h.nSub[i],
    ];
    const check = (ours: (number | undefined)[], ref: number[]) => {
      expect(ours.slice(0, 5)).toEqual(ref.slice(0, 5)); // time and OHLC exactly
      expect(Math.abs(ours[5]! - ref[5]!)).toBeLessThanOrEqual(1e-9 * ref[5]!); // volume: summation order
      // rv sums squared differences of logs of prices near 6e4: one ulp of ln (1.8e-15) against
      // 1e-4 returns is ~1e-11 relative per return, so libm differences set the tolerance.
      expect(Math.abs(ours[6]! - ref[6]!)).toBeLessThanOrEqual(1e-9 * ref[6]!); // rv
      expect(ours.slice(7)).toEqual(ref.slice(7));
    };
    fx.hourly.first24.forEach((ref: number[], i: number) => check(hourRow(i), ref));
    const n = h.present.length;
    fx.hourly.last24.forEach((ref: number[], i: number) => check(hourRow(n - 24 + i), ref));
    const rvSum = Array.from(h.rv).reduce((s, x) => s + x, 0);
    expect(Math.abs(rvSum - fx.hourly.fingerprints.rv_1m.sum)).toBeLessThan(1e-9 * fx.hourly.fingerprints.rv_1m.sum);

    const d = engine.resampleSync(m.bars, engine.DAY_MS);
    const d5 = engine.resampleSync(engine.resampleSync(m.bars, 300_000), engine.DAY_MS);
    expect(d.present.length).toBe(fx.daily.n_rows);
    fx.daily.rows.forEach((ref: number[], i: number) => {
      check([engine.openTime(d, i), d.open[i], d.high[i], d.low[i], d.close[i], d.volume[i], d.rv[i], d.nReturns[i], d.nSub[i]], ref.slice(0, 9));
      expect(Math.abs(d5.rv[i]! - ref[9]!)).toBeLessThanOrEqual(1e-9 * ref[9]!);
      expect(d5.nReturns[i]).toBe(ref[10]);
    });
  });

  it('ingests all 13 symbols: 1m→1h equals the hourly files and 1h→1d equals the daily files except on Binance incident days', async () => {
    const r = await ingest([KLINES]);
    expect([...r.sets.keys()]).toEqual(['1m', '1h', '1d']);
    const daily = r.sets.get('1d')!;
    expect(daily.assets.map((a) => a.symbol)).toEqual([
      'ADAUSDT', 'AVAXUSDT', 'BNBUSDT', 'BTCUSDT', 'DOGEUSDT', 'DOTUSDT', 'ETCUSDT', 'ETHUSDT', 'LINKUSDT', 'LTCUSDT', 'SOLUSDT', 'TRXUSDT', 'XRPUSDT',
    ]);
    let compared = 0;
    for (const [symbol, byInterval] of Object.entries(r.report.symbols)) {
      const d = byInterval['1d']!;
      expect(d.from).toBe('native+aggregate');
      compared += d.merge!.compared;
      // Every disagreement between published daily bars and our aggregate of published hourly bars
      // (OHLC exactly, volume to 1e-9 relative) falls on a known incident day.
      for (const t of d.merge!.firstMismatches) expect(INCIDENT_DAYS, `${symbol} ${new Date(t).toISOString()}`).toContain(t);
      expect(d.merge!.mismatched).toBeLessThan(20);
      if (symbol === 'BTCUSDT' || symbol === 'ETHUSDT') {
        expect(byInterval['1h']!.merge).toMatchObject({ mismatched: 0, compared: 833, partial: 1 });
      }
    }
    expect(compared).toBeGreaterThan(25_000);
    // Listing is respected: AVAX has no bars and is not listed before 2020-09-22.
    const avax = daily.assets.find((a) => a.symbol === 'AVAXUSDT')!;
    const listIdx = (Date.parse('2020-09-22T00:00:00Z') - daily.start) / engine.DAY_MS;
    expect(avax.listed[listIdx - 1]).toBe(0);
    expect(avax.listed[listIdx]).toBe(1);
    expect(avax.bars.present.subarray(0, listIdx).every((p) => p === 0)).toBe(true);
    // Daily 5-minute realized variance exists where 1-minute data does.
    const btc = daily.assets.find((a) => a.symbol === 'BTCUSDT')!;
    const oct15 = (Date.parse('2024-10-15T00:00:00Z') - daily.start) / engine.DAY_MS;
    expect(btc.rv5m![oct15]).toBeGreaterThan(0);
    expect(Number.isNaN(btc.rv5m![oct15 - 30])).toBe(true);
    // Coverage: daily bars know how many hours they were built from; maintenance days fall below 95%.
    expect(btc.bars.nExpected[oct15]).toBe(1440);
    expect(btc.bars.nSub[oct15]).toBe(1440);
  });
});
