// `regime train` and `regime infer` as users run them, on a small synthetic market whose splits
// are shrunk to fit it (the default splits need 2020–2024 data).
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { regime } from './run-cli.js';

const config = [
  'seed: 3',
  "synthetic:\n  assets: 4\n  days: 540\n  start: '2020-01-01'",
  "splits:\n  trainStart: '2020-03-01'\n  trainEnd: '2020-12-31'\n  validationEnd: '2021-03-31'\n  testEnd: '2021-05-31'",
  'features:\n  sets: [daily]',
  'train:\n  models: [vol-lstm, cross-gnn]\n  seeds: [0]\n  maxEpochs: 2',
].join('\n');

describe('regime train / infer', () => {
  it('run trains the configured models, infer prints the latest regimes, bad requests are user errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'regime-train-'));
    writeFileSync(join(dir, 'regime.yaml'), config + '\n');
    const noModels = regime(['infer', '--asset', 'SYN00'], dir);
    expect(noModels.code).toBe(1);

    const r = regime(['-c', 'regime.yaml', 'run', '--json'], dir);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.models.models.map((m: { name: string }) => m.name)).toEqual(['cross-gnn', 'vol-lstm']);
    for (const m of j.models.models) {
      expect(m.skipped).toBe(false);
      expect(m.validation.macroF1).toBeGreaterThan(0);
      expect(typeof m.validation.skill).toBe('boolean');
    }
    for (const f of ['models/vol-lstm.onnx', 'models/vol-lstm.json', 'reports/vol-lstm.md', 'models/cross-gnn.onnx']) expect(existsSync(join(dir, '.regime', f))).toBe(true);
    const side = JSON.parse(readFileSync(join(dir, '.regime/models/vol-lstm.json'), 'utf8'));
    expect(side.seeds[0].history.length).toBeGreaterThan(0);
    expect(side.evaluation.validation.baselines.persistence.macroF1).toBeGreaterThan(0);
    expect(j.latest[0].asset).toBe('SYN00');
    expect(j.latest[0].models.map((m: { name: string }) => m.name)).toEqual(['cross-gnn', 'vol-lstm']);

    // Unchanged inputs: the models are reused.
    const again = JSON.parse(regime(['-c', 'regime.yaml', 'run', '--json'], dir).out);
    expect(again.models.models.every((m: { skipped: boolean }) => m.skipped)).toBe(true);

    const inf = regime(['-c', 'regime.yaml', 'infer', '--asset', 'SYN01', '--json'], dir);
    expect(inf.code, inf.err).toBe(0);
    const ji = JSON.parse(inf.out);
    expect(ji.lastBar).toBe('2021-06-23');
    expect(ji.stale).toBe(true);
    expect(inf.err).toContain('warning: the last SYN01 bar is 2021-06-23');

    const unknown = regime(['-c', 'regime.yaml', 'infer', '--asset', 'NOPE'], dir);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain("unknown asset 'NOPE' (assets: SYN00, SYN01, SYN02, SYN03)");
    const badModel = regime(['-c', 'regime.yaml', 'train', '--models', 'nope'], dir);
    expect(badModel.code).toBe(1);
    expect(badModel.err).toMatch(/unknown model nope \(known: cross-gnn, .*vol-lstm/);
    const cuda = regime(['-c', 'regime.yaml', 'infer', '--asset', 'SYN00', '--models', 'vol-lstm', '--device', 'cuda'], dir);
    expect(cuda.code).not.toBe(0);
    expect(cuda.err).toContain('CUDA execution provider is not available');
  });

  it('explains itself in --help', () => {
    const h = regime(['train', '--help']);
    expect(h.out).toContain('majority, persistence and threshold baselines');
    expect(h.out).toContain('--max-epochs');
    expect(regime(['infer', '--help']).out).toContain('--asset <symbol>');
  });
});
