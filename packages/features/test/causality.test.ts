// Causality: perturbing every bar after time t changes no feature at or before t. Checked for
// both sets, on real data (where ../shared exists) and on the synthetic market (always).
import { describe, expect, it } from 'vitest';
import { ingest, synthesize, type BarSet } from '@regime/data';
import { computeFeatures, DAILY_SET, HOURLY_SET, type FeatureDef, type FeatureTable } from '@regime/features';
import { KLINES, describeShared } from '../../../tests/helpers/shared.js';

function perturbAfter(set: BarSet, t0: number, seed = 1): BarSet {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 0.2 + 0.9;
  return {
    ...set,
    assets: set.assets.map((a) => {
      const b = { ...a.bars };
      for (const key of ['open', 'high', 'low', 'close', 'volume', 'quoteVolume', 'rv'] as const) {
        const v = Float64Array.from(a.bars[key]);
        for (let t = t0 + 1; t < v.length; t++) v[t] = v[t]! * rnd();
        b[key] = v;
      }
      return { ...a, bars: b, ...(a.rv5m ? { rv5m: a.rv5m.map((x, t) => (t > t0 ? x * rnd() : x)) } : {}) };
    }),
  };
}

function expectSameUpTo(a: FeatureTable, b: FeatureTable, t0: number, skip: string[] = []): number {
  let checked = 0;
  for (const name of a.names) {
    if (skip.includes(name)) continue;
    a.values[name]!.forEach((s, k) => {
      const s2 = b.values[name]![k]!;
      for (let t = 0; t <= t0; t++) {
        const x = s[t]!;
        const y = s2[t]!;
        if (!(Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)))) {
          throw new Error(`${name} ${a.symbols[k]} row ${t} changed (${x} → ${y}) when only rows after ${t0} were perturbed`);
        }
        if (!Number.isNaN(x)) checked++;
      }
    });
  }
  return checked;
}

async function checkCausal(bars: BarSet, set: string, defs: FeatureDef[], cut: string, skip: string[] = []) {
  const t0 = Math.floor((Date.parse(`${cut}T00:00:00Z`) - bars.start) / (bars.length > 0 ? (bars.interval === '1d' ? 86_400_000 : 3_600_000) : 1));
  const base = await computeFeatures(bars, { set, defs });
  const pert = await computeFeatures(perturbAfter(bars, t0), { set, defs });
  const checked = expectSameUpTo(base, pert, t0, skip);
  expect(checked).toBeGreaterThan(1000);
  // The perturbation did reach the features after t0 (the test would be vacuous otherwise).
  const changedAfter = base.names.filter((n) => base.values[n]!.some((s, k) => s.some((x, t) => t > t0 && Number.isFinite(x) && x !== pert.values[n]![k]![t])));
  expect(changedAfter.length).toBeGreaterThan(base.names.length / 2);
}

describe('causality on the synthetic market', () => {
  it('daily and hourly sets: no feature at or before t changes when bars after t change', async () => {
    const m = await synthesize({ assets: 5, days: 1200, baseInterval: '1h', seed: 9, start: '2020-01-01' });
    // After the train end (2022-12-31): every feature, GARCH included (its parameters are fitted on train only).
    await checkCausal(m.sets.get('1d')!, 'daily', DAILY_SET, '2023-02-15');
    await checkCausal(m.sets.get('1h')!, 'hourly', HOURLY_SET, '2023-02-15');
    // Inside the train period, the GARCH parameters are (by design) fitted on the whole train split;
    // every other feature is causal at any t.
    await checkCausal(m.sets.get('1d')!, 'daily', DAILY_SET, '2021-06-01', ['GARCH_sigma']);
  });

  it('GARCH_sigma with expanding refits: causal inside the test split, refitted at each split start', async () => {
    const m = await synthesize({ assets: 3, days: 1900, baseInterval: '1d', seed: 4, start: '2020-01-01' });
    const bars = m.sets.get('1d')!;
    // Test split (2024): its GARCH parameters were fitted on data through 2023-12-31 only.
    await checkCausal(bars, 'daily', DAILY_SET, '2024-02-15');
    const t = await computeFeatures(bars, { set: 'daily', defs: DAILY_SET });
    const s = t.meta.garch.GARCH_sigma!.SYN00 as { nObs: number; refits?: Array<{ fromRow: number; nObs: number; params: Record<string, number> }> };
    const row = (d: string) => (Date.parse(`${d}T00:00:00Z`) - bars.start) / 86_400_000;
    // Validation rows keep the train-only fit; refits start the test (2024) and holdout (2025) splits,
    // each on a year more of data (less the synthetic market's maintenance gaps).
    expect(s.refits!.map((r) => r.fromRow)).toEqual([row('2024-01-01'), row('2025-01-01')]);
    expect(s.refits![0]!.nObs).toBeGreaterThan(s.nObs + 300);
    expect(s.refits![1]!.nObs).toBeGreaterThan(s.refits![0]!.nObs + 300);
  });
});

describeShared('causality on real data', () => {
  it('daily set on 13 assets and hourly set', async () => {
    const r = await ingest([KLINES], { intervals: ['1h', '1d'] });
    await checkCausal(r.sets.get('1d')!, 'daily', DAILY_SET, '2023-05-20');
    await checkCausal(r.sets.get('1d')!, 'daily', DAILY_SET, '2024-03-01');
    await checkCausal(r.sets.get('1d')!, 'daily', DAILY_SET, '2021-03-03', ['GARCH_sigma']);
    await checkCausal(r.sets.get('1h')!, 'hourly', HOURLY_SET, '2024-03-01');
  });
});
