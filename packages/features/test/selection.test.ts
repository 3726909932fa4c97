import { describe, expect, it } from 'vitest';
import { anovaF, ranks, selectFeatures, spearman } from '@regime/features';

describe('selection statistics', () => {
  it('ranks average ties (scipy.stats.rankdata)', () => {
    expect(Array.from(ranks(Float64Array.from([0, 2, 3, 2])))).toEqual([1, 2.5, 4, 2.5]);
  });

  it('Spearman ρ matches the scipy.stats.spearmanr documentation example', () => {
    expect(spearman(Float64Array.from([1, 2, 3, 4, 5]), Float64Array.from([5, 6, 7, 8, 7]))).toBeCloseTo(0.8207826816681233, 14);
  });

  it('ANOVA F matches the scipy.stats.f_oneway documentation example (mussel shells)', () => {
    const groups = [
      [0.0571, 0.0813, 0.0831, 0.0976, 0.0817, 0.0859, 0.0735, 0.0659, 0.0923, 0.0836],
      [0.0873, 0.0662, 0.0672, 0.0819, 0.0749, 0.0649, 0.0835, 0.0725],
      [0.0974, 0.1352, 0.0817, 0.1016, 0.0968, 0.1064, 0.105],
      [0.1033, 0.0915, 0.0781, 0.0685, 0.0677, 0.0697, 0.0764, 0.0689],
      [0.0703, 0.1026, 0.0956, 0.0973, 0.1039, 0.1045],
    ];
    const x = Float64Array.from(groups.flat());
    const y = groups.flatMap((g, c) => g.map(() => c));
    expect(anovaF(x, y, 5)).toBeCloseTo(7.121019471642447, 10);
  });
});

describe('selectFeatures', () => {
  it('drops the less important member of a correlated pair and keeps uncorrelated features, in spec order', () => {
    let s = 3;
    const u = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    const g = () => Math.sqrt(-2 * Math.log(Math.max(u(), 1e-12))) * Math.cos(2 * Math.PI * u());
    const n = 600;
    const y = Array.from({ length: n }, (_, i) => i % 2);
    const a = Float64Array.from(y, (c) => c + 0.3 * g());
    const b = Float64Array.from(a, (v) => v + 0.2 * g()); // a plus noise: ρ ≈ 0.95, less informative
    const c = Float64Array.from(y, () => g()); // noise, uncorrelated with a
    const r = selectFeatures({ names: ['b', 'c', 'a'], columns: [b, c, a], labels: y, classes: 2, maxAbsSpearman: 0.85 });
    expect(r.importance.a).toBeGreaterThan(r.importance.b!);
    expect(r.kept).toEqual(['c', 'a']);
    expect(r.dropped).toHaveLength(1);
    expect(r.dropped[0]).toMatchObject({ name: 'b', for: 'a' });
    expect(r.dropped[0]!.rho).toBeGreaterThan(0.85);
    expect(r.rows).toBe(n);
    // A looser threshold keeps all three.
    expect(selectFeatures({ names: ['b', 'c', 'a'], columns: [b, c, a], labels: y, classes: 2, maxAbsSpearman: 0.99 }).kept).toEqual(['b', 'c', 'a']);
  });
});
