import { describe, expect, it } from 'vitest';
import { classificationMetrics, fitThresholds, majorityClass, persistencePredictions, thresholdPredictions, verdict } from '../src/evaluate.js';

const names = ['a', 'b', 'c'];

describe('classification metrics (scikit-learn definitions)', () => {
  it('matches the f1_score documentation example', () => {
    // sklearn.metrics.f1_score docs: y_true [0,1,2,0,1,2], y_pred [0,2,1,0,0,1] → macro 0.2666…
    const m = classificationMetrics([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1], names);
    expect(m.macroF1).toBeCloseTo(0.26666666666666666, 15);
    expect(m.accuracy).toBeCloseTo(1 / 3, 15);
    expect(m.balancedAccuracy).toBeCloseTo(1 / 3, 15);
    expect(m.perClass[0]).toMatchObject({ precision: 2 / 3, recall: 1, support: 2 });
    expect(m.perClass[0]!.f1).toBeCloseTo(0.8, 15);
    expect(m.confusion).toEqual([
      [2, 0, 0],
      [1, 0, 1],
      [0, 2, 0],
    ]);
  });

  it('averages macro-F1 over classes in truth ∪ predictions, balanced accuracy over truth', () => {
    const m = classificationMetrics([0, 0, 1], [0, 2, 1], names);
    expect(m.macroF1).toBeCloseTo((2 / 3 + 1 + 0) / 3, 15);
    expect(m.balancedAccuracy).toBeCloseTo((0.5 + 1) / 2, 15);
    // A class absent from both is left out, as scikit-learn does with its default labels.
    const m2 = classificationMetrics([0, 1, 1], [0, 1, 0], names);
    expect(m2.macroF1).toBeCloseTo((2 / 3 + 2 / 3) / 2, 15);
  });
});

describe('baselines', () => {
  it('majority and persistence', () => {
    expect(majorityClass([2, 1, 2, 0], 3)).toBe(2);
    expect(Array.from(persistencePredictions([1, -1, 0], 2))).toEqual([1, 2, 0]);
  });

  it('threshold cuts reproduce the train class shares along the feature', () => {
    // 10 values, classes 0/1/2 with shares 3/5/2, perfectly ordered.
    const v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const y = [0, 0, 0, 1, 1, 1, 1, 1, 2, 2];
    const cuts = fitThresholds(v, y, 3);
    expect(cuts).toEqual([3, 8]);
    expect(Array.from(thresholdPredictions(v, cuts, 1))).toEqual(y);
    expect(Array.from(thresholdPredictions([Number.NaN], cuts, 1))).toEqual([1]);
  });

  it('the verdict says NO SKILL when persistence is as good', () => {
    const y = [0, 0, 1, 1, 2, 2];
    const model = classificationMetrics(y, [0, 0, 1, 1, 2, 0], names);
    const persistence = classificationMetrics(y, y, names);
    const v = verdict(model, { persistence, majority: classificationMetrics(y, [0, 0, 0, 0, 0, 0], names) });
    expect(v.skill).toBe(false);
    expect(v.text).toMatch(/NO SKILL.*persistence/);
    expect(verdict(persistence, { majority: model }).skill).toBe(true);
  });
});
