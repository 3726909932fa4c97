// ONNX export of the `graph` classifier (GraphSAGE-mean; docs/neural.md, "Models / graph").
//
// The neighbourhood mean uses a dense adjacency MatMul (N is ~13 assets, so dense is cheap
// and avoids scatter/gather ops):
//   A' = adj · m_i · m_j                        Mul with Unsqueeze(mask,2) and Unsqueeze(mask,1)
//   deg = Max(ReduceSum(A', axis 2, keepdims), 1e-6)
//   n   = MatMul(A', h) / deg                   (isolated node: 0 / 1e-6 = 0)
//   h'  = Relu(MatMul(h, Wsᵀ) + MatMul(n, Wnᵀ) + b) · m_i          twice (g1, g2)
//   pooled = ReduceSum(h'' · m_i, axis 1) / Max(ReduceSum(mask, axis 1), 1)
//   z = Relu(Gemm(Concat(pooled, market), mlp1.W, mlp1.b, transB=1))
//   probs = Softmax(Gemm(z, out.W, out.b, transB=1), axis 1)
// Weights of the per-node linear maps are stored pre-transposed ([in, out]) because MatMul
// on a [B,N,in] tensor multiplies from the right; Gemm (2-D only) takes the rest as [out, in].
import { GraphBuilder } from './builder.js';
import { checkLayoutNames, readParam, transpose2d, type ParamLayoutEntry } from './params.js';

/** Architecture of the `graph` model: N nodes with F features, G market features, sizes Hg/Hr, K classes. */
export interface GraphExportSpec {
  nodes: number;
  features: number;
  market: number;
  hidden: number;
  readout: number;
  classes: number;
}

export interface GraphExportOptions {
  spec: GraphExportSpec;
  layout: readonly ParamLayoutEntry[];
  params: Float32Array;
  /** Stored verbatim as metadata_props (see metadata.ts for the typed `regime.*` keys). */
  metadata?: Readonly<Record<string, string>>;
}

export const GRAPH_PARAM_NAMES = ['g1.Ws', 'g1.Wn', 'g1.b', 'g2.Ws', 'g2.Wn', 'g2.b', 'mlp1.W', 'mlp1.b', 'out.W', 'out.b'] as const;

function checkSpec(spec: GraphExportSpec): void {
  for (const [k, v] of Object.entries(spec)) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`graph spec: ${k} must be a positive integer, got ${String(v)}`);
  }
}

/** Builds the ONNX model bytes of the `graph` classifier. */
export function exportGraphOnnx(opts: GraphExportOptions): Uint8Array {
  const { spec, layout, params } = opts;
  checkSpec(spec);
  checkLayoutNames(layout, GRAPH_PARAM_NAMES);
  const { nodes: N, features: F, market: G, hidden: Hg, readout: Hr, classes: K } = spec;
  const p = (name: string, shape: number[]) => readParam(layout, params, name, shape);

  const g = new GraphBuilder('regime_graph');
  const x = g.input('x', ['batch', N, F]);
  const adj = g.input('adj', ['batch', N, N]);
  const mask = g.input('mask', ['batch', N]);
  const market = g.input('market', ['batch', G]);

  const eps = g.floatConst('deg_eps', [], [1e-6]);
  const one = g.floatConst('one', [], [1]);
  const axis1 = g.int64Const('axes_1', [1]);
  const axis2 = g.int64Const('axes_2', [2]);

  const mi = g.op('Unsqueeze', [mask, axis2], 'mask_i'); // [B,N,1]
  const mj = g.op('Unsqueeze', [mask, axis1], 'mask_j'); // [B,1,N]
  const adjMi = g.op('Mul', [adj, mi], 'adj_mi');
  const adjM = g.op('Mul', [adjMi, mj], 'adj_masked'); // A'
  const degRaw = g.op('ReduceSum', [adjM, axis2], 'deg_raw', { keepdims: 1 }); // [B,N,1]
  const deg = g.op('Max', [degRaw, eps], 'deg');

  const sage = (layer: string, h: string, inSize: number): string => {
    const Ws = g.floatConst(`${layer}.Ws_T`, [inSize, Hg], transpose2d(p(`${layer}.Ws`, [Hg, inSize]).data, Hg, inSize));
    const Wn = g.floatConst(`${layer}.Wn_T`, [inSize, Hg], transpose2d(p(`${layer}.Wn`, [Hg, inSize]).data, Hg, inSize));
    const b = g.floatConst(`${layer}.b`, [Hg], p(`${layer}.b`, [Hg]).data);
    const agg = g.op('MatMul', [adjM, h], `${layer}_agg`); // Σ_j A'_ij h_j
    const nb = g.op('Div', [agg, deg], `${layer}_neigh_mean`);
    const self = g.op('MatMul', [h, Ws], `${layer}_self`);
    const neigh = g.op('MatMul', [nb, Wn], `${layer}_neigh`);
    const sum = g.op('Add', [self, neigh], `${layer}_sum`);
    const pre = g.op('Add', [sum, b], `${layer}_pre`);
    const act = g.op('Relu', [pre], `${layer}_relu`);
    return g.op('Mul', [act, mi], `${layer}_out`); // absent nodes output exactly 0
  };
  const h1 = sage('g1', x, F);
  const h2 = sage('g2', h1, Hg);

  // Masked mean pool, literally Σ m_i h''_i / max(Σ m_i, 1) (h'' is already masked; for a
  // 0/1 mask the second multiplication is a no-op but keeps fractional masks on-contract).
  const hm = g.op('Mul', [h2, mi], 'pool_masked');
  const pooledSum = g.op('ReduceSum', [hm, axis1], 'pool_sum', { keepdims: 0 }); // [B,Hg]
  const countRaw = g.op('ReduceSum', [mask, axis1], 'pool_count_raw', { keepdims: 1 }); // [B,1]
  const count = g.op('Max', [countRaw, one], 'pool_count');
  const pooled = g.op('Div', [pooledSum, count], 'pooled');

  const mlpW = g.floatConst('mlp1.W', [Hr, Hg + G], p('mlp1.W', [Hr, Hg + G]).data);
  const mlpB = g.floatConst('mlp1.b', [Hr], p('mlp1.b', [Hr]).data);
  const outW = g.floatConst('out.W', [K, Hr], p('out.W', [K, Hr]).data);
  const outB = g.floatConst('out.b', [K], p('out.b', [K]).data);
  const cat = g.op('Concat', [pooled, market], 'readout_in', { axis: 1 }); // [B, Hg+G]
  const zPre = g.op('Gemm', [cat, mlpW, mlpB], 'mlp1_pre', { transB: 1 });
  const z = g.op('Relu', [zPre], 'mlp1_out');
  const logits = g.op('Gemm', [z, outW, outB], 'logits', { transB: 1 });
  g.op('Softmax', [logits], 'probs', { axis: 1 });

  g.output('probs', ['batch', K]);
  return g.build(opts.metadata ?? {}, 'regime graph classifier: 2× GraphSAGE-mean (dense adjacency) → masked mean pool ⊕ market → MLP → softmax');
}
