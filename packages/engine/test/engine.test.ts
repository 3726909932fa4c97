import { describe, expect, it } from 'vitest';
import * as engine from '@regime/engine';

const grid = (closes: number[], start = 0, intervalMs = 60_000): engine.GridBars => {
  const n = closes.length;
  const f = (v: (c: number) => number) => Float64Array.from(closes, v);
  return {
    intervalMs,
    start,
    open: f((c) => c),
    high: f((c) => c * 1.01),
    low: f((c) => c * 0.99),
    close: f((c) => c),
    volume: f(() => 1),
    quoteVolume: f(() => NaN),
    trades: f(() => NaN),
    takerBuyBase: f(() => NaN),
    takerBuyQuote: f(() => NaN),
    rv: f(() => NaN),
    nReturns: new Uint32Array(n),
    nSub: new Uint32Array(n).fill(1),
    nExpected: new Uint32Array(n).fill(1),
    present: new Uint8Array(n).fill(1),
  };
};

describe('engine runtime controls', () => {
  it('reports the core version and thread count', () => {
    expect(engine.version()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(engine.threads()).toBeGreaterThanOrEqual(1);
  });

  it('setThreads changes the pool and rejects bad values with the argument named', () => {
    const before = engine.threads();
    expect(engine.setThreads(1)).toBe(1);
    expect(engine.threads()).toBe(1);
    engine.setThreads(before);
    expect(() => engine.setThreads(0)).toThrow('Expected positive integer for threads but received 0');
  });
});

describe('resample through the binding', () => {
  it('aggregates minutes to 5-minute bars with realized variance', () => {
    const g = grid([10, 11, 9, 12, 13, 14]);
    const out = engine.resampleSync(g, 300_000);
    expect(Array.from(out.open)).toEqual([10, 14]);
    expect(Array.from(out.close)).toEqual([13, 14]);
    expect(Array.from(out.nSub)).toEqual([5, 1]);
    const rv0 = [11 / 10, 9 / 11, 12 / 9, 13 / 12].reduce((s, r) => s + Math.log(r) ** 2, 0);
    expect(out.rv[0]).toBeCloseTo(rv0, 14);
  });

  it('gives identical results at 1 and 2 threads', async () => {
    const grids = Array.from({ length: 5 }, (_, k) => grid(Array.from({ length: 10_000 }, (_, i) => 100 + Math.sin(i * (k + 1)))));
    engine.setThreads(1);
    const a = await engine.resample(grids, 3_600_000);
    engine.setThreads(2);
    const b = await engine.resample(grids, 3_600_000);
    expect(a).toEqual(b);
  });

  it('rejects a target that is not a multiple of the interval', () => {
    expect(() => engine.resampleSync(grid([1, 2]), 90_000)).toThrow(/Expected a multiple of 60000/);
  });

  it('rejects columns of unequal length in the binding', () => {
    const g = grid([1, 2, 3]);
    g.close = new Float64Array(2);
    expect(() => engine.resampleSync(g, 120_000)).toThrow('grid.close has length 2 but present has 3');
  });
});

describe('synthetic market', () => {
  it('is deterministic for a seed and differs across seeds', async () => {
    const o = { nAssets: 3, nDays: 20, baseIntervalMs: engine.HOUR_MS, seed: 5 };
    const a = await engine.synthMarket(o);
    const b = await engine.synthMarket(o);
    const c = await engine.synthMarket({ ...o, seed: 6 });
    expect(a.assets[0]!.close).toEqual(b.assets[0]!.close);
    expect(a.regime).toEqual(b.regime);
    expect(a.assets[0]!.close).not.toEqual(c.assets[0]!.close);
    expect(a.regime.length).toBe(20);
  });
});
