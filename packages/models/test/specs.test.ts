import { describe, expect, it } from 'vitest';
import { loadSpecs } from '../src/specs.js';

describe('the repository model specs', () => {
  it('all validate and follow SPEC B5', () => {
    const specs = loadSpecs();
    expect(specs.map((s) => s.name)).toEqual(['cross-gnn', 'cross-gnn-h7', 'trend-lstm', 'trend-lstm-h7', 'vol-lstm', 'vol-lstm-h7']);
    for (const s of specs) {
      expect(s.training.seeds).toEqual([0, 1, 2]);
      expect(s.training.lr).toBe(0.001);
      expect(s.training.patience).toBe(10);
      if (s.kind === 'lstm') {
        expect(s.window).toBe(30);
        expect(s.network).toEqual({ hidden1: 64, hidden2: 32, dropout: 0.3 });
        // SPEC B3's groups as candidates (6 each), pruned on train rows at |ρ_Spearman| > 0.85.
        expect(s.inputs.length).toBe(6);
        expect(s.selection).toEqual({ max_abs_spearman: 0.85 });
      } else {
        expect(s.network).toEqual({ hidden: 64, readout: 64, dropout: 0.3 });
        expect(s.inputs.length).toBe(14);
        expect(s.market_inputs.length).toBe(4);
        expect(s.training.batch_size).toBe(32);
      }
    }
    expect(() => loadSpecs(undefined, ['nope'])).toThrow(/unknown model nope/);
  });
});
