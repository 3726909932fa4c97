// Daily features on the real data against independent references: the pandas rolling fixture
// (BTC) and the feature matrix embedded in the hmmlearn fixture (BTC, ETH, SOL; 2020–2022),
// the latter reproduced through a custom feature definition (definitions are data).
import { expect, it } from 'vitest';
import { ingest, type BarSet } from '@regime/data';
import { computeFeatures, DAILY_SET, type FeatureDef } from '@regime/features';
import { KLINES, describeShared, fixture } from '../../../tests/helpers/shared.js';

const DAY = 86_400_000;
const relErr = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

describeShared('daily features vs references', () => {
  let daily: BarSet;
  const load = async () => (daily ??= (await ingest([`${KLINES}/1d`])).sets.get('1d')!);

  it('realized_vol_20d, close_normalized and return_skewness_30d equal pandas on BTCUSDT', async () => {
    const bars = await load();
    const t = await computeFeatures(bars, { set: 'daily', defs: DAILY_SET });
    const k = t.symbols.indexOf('BTCUSDT');
    const fx = fixture('rolling_btcusdt_daily.json').series;
    // BTC's first bar is the grid's first row, so rows align with the fixture's.
    expect(bars.start).toBe(Date.parse('2017-08-17T00:00:00Z'));
    const check = (ours: Float64Array, ref: Array<number | null>, offset: number, tol: (a: number, b: number) => boolean, scale = 1) => {
      ref.forEach((r, i) => {
        const v = ours[offset + i]!;
        if (r === null) expect(Number.isNaN(v), `row ${offset + i}`).toBe(true);
        else expect(tol(v, r * scale), `row ${offset + i}: ${v} vs ${r * scale}`).toBe(true);
      });
    };
    const n = bars.length;
    const sq = Math.sqrt(365);
    check(t.values.realized_vol_20d![k]!, fx.std20.first100, 0, (a, b) => relErr(a, b) < 1e-11, sq);
    check(t.values.realized_vol_20d![k]!, fx.std20.last100, n - 100, (a, b) => relErr(a, b) < 1e-11, sq);
    check(t.values.close_normalized![k]!, fx.close_zscore20.first100, 0, (a, b) => Math.abs(a - b) < 1e-8);
    check(t.values.close_normalized![k]!, fx.close_zscore20.last100, n - 100, (a, b) => Math.abs(a - b) < 1e-8);
    check(t.values.return_skewness_30d![k]!, fx.skew30.last100, n - 100, (a, b) => Math.abs(a - b) < 1e-10);
    // Closed forms: momentum and rate of change at the last day.
    const c = bars.assets[k]!.bars.close;
    expect(t.values.momentum_50d![k]![n - 1]).toBe(Math.log(c[n - 1]! / c[n - 51]!));
    expect(t.values.rate_of_change![k]![n - 1]).toBeCloseTo(c[n - 1]! / c[n - 11]! - 1, 15);
  });

  it('a custom definition set reproduces the hmmlearn fixture observations [ln realized_vol_20d, ln HAR_weekly(r² proxy)]', async () => {
    const bars = await load();
    const fx = fixture('hmm_real_vol_k4.json');
    const custom: FeatureDef[] = [
      { name: 'logret', group: 'base', kernel: 'logret', input: 'close', formula: 'r' },
      { name: 'rv20', group: 'vol', kernel: 'rolling', input: 'logret', stat: 'std', window: 20, ddof: 1, scale: Math.sqrt(365), formula: 'std20 √365' },
      { name: 'har_daily_proxy', group: 'vol', kernel: 'map', input: 'logret', transform: 'abs', scale: Math.sqrt(365), formula: '√(365 r²)' },
      { name: 'har_weekly_proxy', group: 'vol', kernel: 'rolling', input: 'har_daily_proxy', stat: 'mean', window: 7, formula: '7-day mean' },
      { name: 'x0', group: 'obs', kernel: 'map', input: 'rv20', transform: 'log', formula: 'ln rv20' },
      { name: 'x1', group: 'obs', kernel: 'map', input: 'har_weekly_proxy', transform: 'log', formula: 'ln har_weekly' },
    ];
    const t = await computeFeatures(bars, { set: 'custom', defs: custom });
    const lo = (Date.parse('2020-01-01T00:00:00Z') - bars.start) / DAY;
    const hi = (Date.parse('2023-01-01T00:00:00Z') - bars.start) / DAY;
    let row = 0;
    let worst = 0;
    ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'].forEach((sym, s) => {
      const k = t.symbols.indexOf(sym);
      const ours: Array<[number, number]> = [];
      for (let i = lo; i < hi; i++) {
        const a = t.values.x0![k]![i]!;
        const b = t.values.x1![k]![i]!;
        if (Number.isFinite(a) && Number.isFinite(b)) ours.push([a, b]);
      }
      expect(ours.length).toBe(fx.lengths[s]);
      for (const [a, b] of ours) {
        const [ra, rb] = fx.X[row++] as [number, number];
        worst = Math.max(worst, relErr(a, ra), relErr(b, rb));
      }
    });
    // Fixture README: X agrees within 1e-10 relative (pandas' online rolling std vs exact two-pass).
    expect(worst).toBeLessThan(1e-10);
  });
});
