import { describe, expect, it } from 'vitest';
import type { FeatureTable } from '@regime/features';
import { buildLstmDataset, classWeights } from '../src/dataset.js';
import { latestLstmInput } from '../src/latest.js';
import type { ModelMetadata } from '../src/onnx/index.js';
import { parseSpec, type LstmModelSpec } from '../src/specs.js';
import type { TaskTargets } from '../src/labels.js';

const DAY = 86_400_000;
const start = Date.UTC(2019, 9, 1); // 2019-10-01
const splits = { trainStart: '2020-01-01', trainEnd: '2020-06-30', validationEnd: '2020-09-30', testEnd: '2020-10-31' };
const T = 420;

function table(perturbFrom = Infinity): FeatureTable {
  const mk = (k: number, f: number) =>
    Float64Array.from({ length: T }, (_, t) => (t >= perturbFrom ? 999 : 1 + 0.5 * Math.sin(t / (7 + f) + k) + 0.01 * t * (f + 1)));
  const names = ['a', 'b'];
  return {
    set: 'daily',
    interval: '1d',
    start,
    length: T,
    symbols: ['AAAUSDT', 'BBBUSDT'],
    names,
    scopes: { a: 'asset', b: 'asset' },
    values: { a: [mk(0, 0), mk(1, 0)], b: [mk(0, 1), mk(1, 1)] },
    listed: [new Uint8Array(T).fill(1), Uint8Array.from({ length: T }, (_, t) => (t >= 100 ? 1 : 0))],
    meta: { anchor: 'AAAUSDT', splits, definitions: [], garch: {} },
  } as FeatureTable;
}

function targets(): TaskTargets {
  const lab = (k: number) => Int32Array.from({ length: T }, (_, t) => (t < 40 ? -1 : Math.floor((t + 13 * k) / 11) % 3));
  return { task: 'vol', names: ['low', 'normal', 'high'], labels: [lab(0), lab(1)] };
}

function spec(horizon = 0): LstmModelSpec {
  const text = `name: t\ntask: vol\nkind: lstm\nhorizon: ${horizon}\ninputs: [a, b]\nlog_inputs: [a]\nwindow: 5\nembargo: 10\nnetwork: { hidden1: 4, hidden2: 3, dropout: 0.1 }\ntraining: { seeds: [0] }\nbaseline_feature: b\n`;
  return parseSpec(text, 't.yaml') as LstmModelSpec;
}

const row = (iso: string) => (Date.parse(`${iso}T00:00:00Z`) - start) / DAY;

describe('LSTM dataset', () => {
  it('windows hold the scaled inputs, targets the label at t + horizon, persistence the label before', () => {
    for (const h of [0, 7]) {
      const tb = table();
      const tg = targets();
      const d = buildLstmDataset(tb, tg, spec(h), splits);
      const s = d.splits.train;
      expect(s.n).toBeGreaterThan(100);
      for (const i of [0, 17, s.n - 1]) {
        const k = s.asset[i]!;
        const t = s.row[i]!;
        expect(s.y[i]).toBe(tg.labels[k]![t + h]);
        expect(s.persist[i]).toBe(tg.labels[k]![t + h - Math.max(1, h)]);
        // last step, feature a (log input) and b
        const xa = (Math.log(tb.values.a![k]![t]!) - d.scaler.mean[0]!) / d.scaler.std[0]!;
        const xb = (tb.values.b![k]![t]! - d.scaler.mean[1]!) / d.scaler.std[1]!;
        expect(s.x[(i * 5 + 4) * 2]).toBeCloseTo(xa, 5);
        expect(s.x[(i * 5 + 4) * 2 + 1]).toBeCloseTo(xb, 5);
        expect(s.baselineValue[i]).toBe(tb.values.b![k]![t]);
      }
    }
  });

  it('keeps splits disjoint with an embargo before each split start and no windows before listing', () => {
    const d = buildLstmDataset(table(), targets(), spec(7), splits);
    const vStart = row('2020-07-01');
    const teStart = row('2020-10-01');
    for (const i of d.splits.train.row) expect(i).toBeLessThan(vStart - 10);
    for (const i of d.splits.validation.row) {
      expect(i).toBeGreaterThanOrEqual(vStart);
      expect(i).toBeLessThan(teStart - 10);
    }
    for (const i of d.splits.train.row) expect(i).toBeGreaterThanOrEqual(row('2020-01-01'));
    d.splits.train.asset.forEach((k, i) => k === 1 && expect(d.splits.train.row[i]).toBeGreaterThanOrEqual(100 + 4));
  });

  it('is causal: changing data after a day changes no sample ending before it, nor the train-only scaler', () => {
    const cut = row('2020-08-15');
    const a = buildLstmDataset(table(), targets(), spec(0), splits);
    const b = buildLstmDataset(table(cut), targets(), spec(0), splits);
    expect(b.scaler).toEqual(a.scaler);
    expect(b.splits.train.x).toEqual(a.splits.train.x);
    const before = (d: typeof a) => Array.from(d.splits.validation.row).filter((r) => r < cut).length;
    const n = before(a);
    expect(n).toBeGreaterThan(10);
    expect(before(b)).toBe(n);
    // Compare sample by sample (asset, row) for windows that end before the change.
    const key = (d: typeof a, i: number) => `${d.splits.validation.asset[i]}:${d.splits.validation.row[i]}`;
    const mapB = new Map(Array.from({ length: b.splits.validation.n }, (_, i) => [key(b, i), i]));
    let compared = 0;
    for (let i = 0; i < a.splits.validation.n; i++) {
      if (a.splits.validation.row[i]! >= cut) continue;
      const j = mapB.get(key(a, i))!;
      expect(b.splits.validation.x.subarray(j * 10, j * 10 + 10)).toEqual(a.splits.validation.x.subarray(i * 10, i * 10 + 10));
      compared++;
    }
    expect(compared).toBe(n);
  });

  it('selection runs on train rows only and sets the model inputs', () => {
    const sel = { ...spec(0), selection: { max_abs_spearman: 0.5 } };
    const a = buildLstmDataset(table(), targets(), sel, splits);
    expect(a.selection!.rows).toBeGreaterThan(100);
    expect(a.featureNames).toEqual(a.selection!.kept);
    expect(a.selection!.kept.length + a.selection!.dropped.length).toBe(2);
    expect(a.splits.train.x.length).toBe(a.splits.train.n * 5 * a.featureNames.length);
    // Data after the train split does not move the selection.
    const b = buildLstmDataset(table(row('2020-07-05')), targets(), sel, splits);
    expect(b.selection).toEqual(a.selection);
  });

  it('inference rebuilds exactly the training window from the recorded transform and scaler', () => {
    const tb = table();
    const d = buildLstmDataset(tb, targets(), spec(0), splits);
    const meta = { featureNames: d.featureNames, scaler: d.scaler, spec: { model: d.spec } } as unknown as ModelMetadata;
    const h = d.splits.holdout;
    for (const k of [0, 1]) {
      const latest = latestLstmInput(tb, meta, tb.symbols[k]!)!;
      expect(latest.row).toBe(T - 1);
      const i = Array.from(h.row).findIndex((r, j) => r === T - 1 && h.asset[j] === k);
      expect(i).toBeGreaterThanOrEqual(0);
      expect(latest.inputs.x).toEqual(h.x.subarray(i * 10, i * 10 + 10));
    }
  });

  it('class weights are N / (K · n_c)', () => {
    expect(classWeights(Uint32Array.from([0, 0, 0, 1]), 3)).toEqual([4 / 9, 4 / 3, 0]);
  });
});

describe('model specs', () => {
  it('rejects bad specs naming the file and key', () => {
    expect(() => parseSpec('name: x\ntask: vol\nkind: lstm\ninputs: []\nnetwork: {}\ntraining: {}\n', 'x.yaml')).toThrow(/x\.yaml: invalid model spec[\s\S]*inputs/);
    expect(() => parseSpec('name: x\ntask: vol\nkind: lstm\ninputs: [a]\nlog_inputs: [b]\nnetwork: {}\ntraining: {}\n', 'x.yaml')).toThrow(/log_inputs: 'b' is not one of the inputs/);
    expect(() => parseSpec('name: y\ntask: vol\nkind: lstm\ninputs: [a]\nnetwork: {}\ntraining: {}\n', 'x.yaml')).toThrow(/must match the file name/);
    expect(() => parseSpec('name: x\n  bad: [', 'x.yaml')).toThrow(/not valid YAML/);
  });
});
