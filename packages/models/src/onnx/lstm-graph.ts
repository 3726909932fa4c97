// ONNX export of the `lstm` classifier (docs/neural.md, "Models / lstm").
//
//   x [B,T,F] ─Transpose→ [T,B,F] ─LSTM1→ Y [T,1,B,H1] ─Squeeze(1)→ h [T,B,H1]
//   s = MatMul(h, q[H1,1]) · 1/√H1 → [T,B,1];  α = Softmax(s, axis 0)   (softmax over time)
//   h̃ = h · (α · T)  ─LSTM2→ Y_h [1,B,H2] ─Squeeze(0)→ ─Gemm(out.W, out.b, transB=1)→ ─Softmax(1)→ probs
//   attention = Transpose(Squeeze(α, 2)) → [B,T]
//
// ONNX LSTM uses the same i, o, f, c gate order as the contract, default activations
// (σ, tanh, tanh) and h0 = c0 = 0, so the trainer's W/R/b go in unchanged; only B needs the
// recurrent bias half, which is zero (ONNX adds Wb + Rb).
import { GraphBuilder } from './builder.js';
import { checkLayoutNames, readParam, type ParamLayoutEntry } from './params.js';

/** Architecture of the `lstm` model (window T, features F, hidden sizes H1/H2, classes K). */
export interface LstmExportSpec {
  features: number;
  window: number;
  hidden1: number;
  hidden2: number;
  classes: number;
}

export interface LstmExportOptions {
  spec: LstmExportSpec;
  layout: readonly ParamLayoutEntry[];
  params: Float32Array;
  /** Stored verbatim as metadata_props (see metadata.ts for the typed `regime.*` keys). */
  metadata?: Readonly<Record<string, string>>;
}

export const LSTM_PARAM_NAMES = ['lstm1.W', 'lstm1.R', 'lstm1.b', 'attn.q', 'lstm2.W', 'lstm2.R', 'lstm2.b', 'out.W', 'out.b'] as const;

function checkSpec(spec: LstmExportSpec): void {
  for (const [k, v] of Object.entries(spec)) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`lstm spec: ${k} must be a positive integer, got ${String(v)}`);
  }
}

/** Builds the ONNX model bytes of the `lstm` classifier. */
export function exportLstmOnnx(opts: LstmExportOptions): Uint8Array {
  const { spec, layout, params } = opts;
  checkSpec(spec);
  checkLayoutNames(layout, LSTM_PARAM_NAMES);
  const { features: F, window: T, hidden1: H1, hidden2: H2, classes: K } = spec;
  const p = (name: string, shape: number[]) => readParam(layout, params, name, shape);

  const g = new GraphBuilder('regime_lstm');
  const x = g.input('x', ['batch', T, F]);

  // Initializers, reshaped to ONNX LSTM's [num_directions, ...] layout.
  const lstmWeights = (prefix: string, inSize: number, h: number) => {
    const W = g.floatConst(`${prefix}.W`, [1, 4 * h, inSize], p(`${prefix}.W`, [4 * h, inSize]).data);
    const R = g.floatConst(`${prefix}.R`, [1, 4 * h, h], p(`${prefix}.R`, [4 * h, h]).data);
    const bias = new Float32Array(8 * h); // [Wb (trained), Rb (zeros)]
    bias.set(p(`${prefix}.b`, [4 * h]).data);
    const B = g.floatConst(`${prefix}.B`, [1, 8 * h], bias);
    return [W, R, B];
  };
  const [W1, R1, B1] = lstmWeights('lstm1', F, H1) as [string, string, string];
  const q = g.floatConst('attn.q', [H1, 1], p('attn.q', [H1]).data);
  const [W2, R2, B2] = lstmWeights('lstm2', H1, H2) as [string, string, string];
  const outW = g.floatConst('out.W', [K, H2], p('out.W', [K, H2]).data);
  const outB = g.floatConst('out.b', [K], p('out.b', [K]).data);
  const invSqrtH = g.floatConst('attn.inv_sqrt_h', [], [1 / Math.sqrt(H1)]);
  const windowLen = g.floatConst('attn.window', [], [T]);
  const axis0 = g.int64Const('axes_0', [0]);
  const axis1 = g.int64Const('axes_1', [1]);
  const axis2 = g.int64Const('axes_2', [2]);

  // ONNX LSTM's default layout=0 wants [seq, batch, input].
  const xs = g.op('Transpose', [x], 'x_tbf', { perm: [1, 0, 2] });
  const [y1] = g.node('LSTM', [xs, W1, R1, B1], ['lstm1_Y'], { hidden_size: H1 }) as [string];
  const h1 = g.op('Squeeze', [y1, axis1], 'lstm1_h'); // [T,B,H1]

  const scoresRaw = g.op('MatMul', [h1, q], 'attn_qh'); // [T,B,1]
  const scores = g.op('Mul', [scoresRaw, invSqrtH], 'attn_scores');
  const alpha = g.op('Softmax', [scores], 'attn_alpha', { axis: 0 }); // softmax over time
  const weight = g.op('Mul', [alpha, windowLen], 'attn_weight'); // T·α_t (uniform α → 1)
  const hTilde = g.op('Mul', [h1, weight], 'attn_h'); // [T,B,H1]

  // Only the last hidden state Y_h of LSTM2 is used; its full sequence output is omitted.
  const [, yh2] = g.node('LSTM', [hTilde, W2, R2, B2], ['', 'lstm2_Yh'], { hidden_size: H2 }) as [string, string];
  const h2 = g.op('Squeeze', [yh2, axis0], 'lstm2_last'); // [B,H2]
  const logits = g.op('Gemm', [h2, outW, outB], 'logits', { transB: 1 });
  g.op('Softmax', [logits], 'probs', { axis: 1 });

  const alphaTb = g.op('Squeeze', [alpha, axis2], 'attn_tb'); // [T,B]
  g.op('Transpose', [alphaTb], 'attention', { perm: [1, 0] });

  g.output('probs', ['batch', K]);
  g.output('attention', ['batch', T]);
  return g.build(opts.metadata ?? {}, 'regime lstm classifier: LSTM → attention re-weighting → LSTM → dense → softmax');
}
