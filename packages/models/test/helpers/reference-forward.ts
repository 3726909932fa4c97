// Independent float64 reference forwards of the two networks, written straight from the
// equations in docs/neural.md with plain loops (no ONNX concepts, no shared code with the
// exporter), plus seeded random parameters/inputs for the parity tests.

export interface LayoutEntry {
  name: string;
  shape: number[];
  offset: number;
}

export interface LstmSpec {
  features: number;
  window: number;
  hidden1: number;
  hidden2: number;
  classes: number;
}

export interface GraphSpec {
  nodes: number;
  features: number;
  market: number;
  hidden: number;
  readout: number;
  classes: number;
}

export { mulberry32 } from '../../src/random.js';

/** Standard normal via Box–Muller. */
export function gaussian(rng: () => number): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Layout from the contract tables: tensors in order, packed back to back. */
export function packLayout(tensors: [string, number[]][]): { layout: LayoutEntry[]; size: number } {
  let offset = 0;
  const layout = tensors.map(([name, shape]) => {
    const e = { name, shape, offset };
    offset += shape.reduce((a, b) => a * b, 1);
    return e;
  });
  return { layout, size: offset };
}

export function lstmLayout(s: LstmSpec): { layout: LayoutEntry[]; size: number } {
  const { features: F, hidden1: H1, hidden2: H2, classes: K } = s;
  return packLayout([
    ['lstm1.W', [4 * H1, F]],
    ['lstm1.R', [4 * H1, H1]],
    ['lstm1.b', [4 * H1]],
    ['attn.q', [H1]],
    ['lstm2.W', [4 * H2, H1]],
    ['lstm2.R', [4 * H2, H2]],
    ['lstm2.b', [4 * H2]],
    ['out.W', [K, H2]],
    ['out.b', [K]],
  ]);
}

export function graphLayout(s: GraphSpec): { layout: LayoutEntry[]; size: number } {
  const { features: F, market: G, hidden: Hg, readout: Hr, classes: K } = s;
  return packLayout([
    ['g1.Ws', [Hg, F]],
    ['g1.Wn', [Hg, F]],
    ['g1.b', [Hg]],
    ['g2.Ws', [Hg, Hg]],
    ['g2.Wn', [Hg, Hg]],
    ['g2.b', [Hg]],
    ['mlp1.W', [Hr, Hg + G]],
    ['mlp1.b', [Hr]],
    ['out.W', [K, Hr]],
    ['out.b', [K]],
  ]);
}

/** Uniform(−k, k) per tensor with k = scale/√fan_in (PyTorch-like), so units are not saturated. */
export function randomParams(layout: LayoutEntry[], size: number, rng: () => number, scale = 1): Float32Array {
  const params = new Float32Array(size);
  for (const e of layout) {
    const fanIn = e.shape.length > 1 ? (e.shape[1] as number) : (e.shape[0] as number);
    const k = scale / Math.sqrt(fanIn);
    const n = e.shape.reduce((a, b) => a * b, 1);
    for (let i = 0; i < n; i++) params[e.offset + i] = (2 * rng() - 1) * k;
  }
  return params;
}

function tensor(layout: LayoutEntry[], params: Float32Array, name: string): Float64Array {
  const e = layout.find((l) => l.name === name);
  if (e === undefined) throw new Error(`no ${name}`);
  const n = e.shape.reduce((a, b) => a * b, 1);
  return Float64Array.from(params.subarray(e.offset, e.offset + n));
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** One LSTM layer over a sequence xs[t][i]; gates stacked i, o, f, c; h0 = c0 = 0. Returns h_1..h_T. */
function lstmLayer(xs: number[][], W: Float64Array, R: Float64Array, b: Float64Array, I: number, H: number): number[][] {
  let h = new Array<number>(H).fill(0);
  const c = new Array<number>(H).fill(0);
  const out: number[][] = [];
  for (const x of xs) {
    const z = new Array<number>(4 * H);
    for (let k = 0; k < 4 * H; k++) {
      let acc = b[k] as number;
      for (let i = 0; i < I; i++) acc += (W[k * I + i] as number) * (x[i] as number);
      for (let j = 0; j < H; j++) acc += (R[k * H + j] as number) * (h[j] as number);
      z[k] = acc;
    }
    const hNew = new Array<number>(H);
    for (let j = 0; j < H; j++) {
      const ig = sigmoid(z[j] as number);
      const og = sigmoid(z[H + j] as number);
      const fg = sigmoid(z[2 * H + j] as number);
      const gg = Math.tanh(z[3 * H + j] as number);
      c[j] = fg * (c[j] as number) + ig * gg;
      hNew[j] = og * Math.tanh(c[j] as number);
    }
    h = hNew;
    out.push(h);
  }
  return out;
}

/** Reference forward of the `lstm` model on x [B,T,F]; returns probs [B,K] and attention [B,T]. */
export function lstmForward(s: LstmSpec, layout: LayoutEntry[], params: Float32Array, x: Float32Array, batch: number): { probs: Float64Array; attention: Float64Array } {
  const { features: F, window: T, hidden1: H1, hidden2: H2, classes: K } = s;
  const p = (n: string) => tensor(layout, params, n);
  const [W1, R1, b1, q, W2, R2, b2, oW, ob] = [p('lstm1.W'), p('lstm1.R'), p('lstm1.b'), p('attn.q'), p('lstm2.W'), p('lstm2.R'), p('lstm2.b'), p('out.W'), p('out.b')];
  const probs = new Float64Array(batch * K);
  const attention = new Float64Array(batch * T);
  for (let n = 0; n < batch; n++) {
    const xs: number[][] = [];
    for (let t = 0; t < T; t++) xs.push(Array.from(x.subarray((n * T + t) * F, (n * T + t + 1) * F)));
    const h1 = lstmLayer(xs, W1, R1, b1, F, H1);
    // s_t = q·h_t / √H, α = softmax_t(s), h̃_t = T·α_t·h_t
    const scores = h1.map((h) => h.reduce((acc, v, j) => acc + v * (q[j] as number), 0) / Math.sqrt(H1));
    const alpha = softmax(scores);
    const hTilde = h1.map((h, t) => h.map((v) => T * (alpha[t] as number) * v));
    const h2 = lstmLayer(hTilde, W2, R2, b2, H1, H2);
    const last = h2[T - 1] as number[];
    const logits: number[] = [];
    for (let k = 0; k < K; k++) {
      let acc = ob[k] as number;
      for (let j = 0; j < H2; j++) acc += (oW[k * H2 + j] as number) * (last[j] as number);
      logits.push(acc);
    }
    probs.set(softmax(logits), n * K);
    attention.set(alpha, n * T);
  }
  return { probs, attention };
}

export interface GraphInputs {
  x: Float32Array; // [B,N,F]
  adj: Float32Array; // [B,N,N]
  mask: Float32Array; // [B,N]
  market: Float32Array; // [B,G]
}

/** Reference forward of the `graph` model (GraphSAGE-mean, masked); returns probs [B,K]. */
export function graphForward(s: GraphSpec, layout: LayoutEntry[], params: Float32Array, inp: GraphInputs, batch: number): Float64Array {
  const { nodes: N, features: F, market: G, hidden: Hg, readout: Hr, classes: K } = s;
  const p = (n: string) => tensor(layout, params, n);
  const probs = new Float64Array(batch * K);
  for (let bi = 0; bi < batch; bi++) {
    const m = Array.from(inp.mask.subarray(bi * N, (bi + 1) * N));
    // A'_ij = a_ij·m_i·m_j
    const A: number[][] = [];
    for (let i = 0; i < N; i++) {
      const row: number[] = [];
      for (let j = 0; j < N; j++) row.push((inp.adj[(bi * N + i) * N + j] as number) * (m[i] as number) * (m[j] as number));
      A.push(row);
    }
    let h: number[][] = [];
    for (let i = 0; i < N; i++) h.push(Array.from(inp.x.subarray((bi * N + i) * F, (bi * N + i + 1) * F)));

    const layer = (prefix: string, hin: number[][], I: number): number[][] => {
      const Ws = p(`${prefix}.Ws`);
      const Wn = p(`${prefix}.Wn`);
      const b = p(`${prefix}.b`);
      return hin.map((hi, i) => {
        const Ai = A[i] as number[];
        const deg = Math.max(Ai.reduce((a, v) => a + v, 0), 1e-6);
        const nb = new Array<number>(I).fill(0);
        for (let j = 0; j < N; j++) for (let f = 0; f < I; f++) nb[f] = (nb[f] as number) + (Ai[j] as number) * ((hin[j] as number[])[f] as number);
        for (let f = 0; f < I; f++) nb[f] = (nb[f] as number) / deg;
        const out: number[] = [];
        for (let o = 0; o < Hg; o++) {
          let acc = b[o] as number;
          for (let f = 0; f < I; f++) acc += (Ws[o * I + f] as number) * (hi[f] as number) + (Wn[o * I + f] as number) * (nb[f] as number);
          out.push(Math.max(acc, 0) * (m[i] as number));
        }
        return out;
      });
    };
    h = layer('g1', h, F);
    h = layer('g2', h, Hg);

    const count = Math.max(m.reduce((a, v) => a + v, 0), 1);
    const pooled = new Array<number>(Hg).fill(0);
    for (let i = 0; i < N; i++) for (let o = 0; o < Hg; o++) pooled[o] = (pooled[o] as number) + (m[i] as number) * ((h[i] as number[])[o] as number);
    const cat = [...pooled.map((v) => v / count), ...Array.from(inp.market.subarray(bi * G, (bi + 1) * G))];

    const mW = p('mlp1.W');
    const mb = p('mlp1.b');
    const z: number[] = [];
    for (let r = 0; r < Hr; r++) {
      let acc = mb[r] as number;
      for (let c = 0; c < Hg + G; c++) acc += (mW[r * (Hg + G) + c] as number) * (cat[c] as number);
      z.push(Math.max(acc, 0));
    }
    const oW = p('out.W');
    const ob = p('out.b');
    const logits: number[] = [];
    for (let k = 0; k < K; k++) {
      let acc = ob[k] as number;
      for (let r = 0; r < Hr; r++) acc += (oW[k * Hr + r] as number) * (z[r] as number);
      logits.push(acc);
    }
    probs.set(softmax(logits), bi * K);
  }
  return probs;
}

// ---- Fixtures shared by the ONNX tests (random inputs, metadata) ----

/** x [B,T,F] with standard-normal entries (like standardised features). */
export function randomLstmInput(s: LstmSpec, batch: number, rng: () => number): Float32Array {
  return Float32Array.from({ length: batch * s.window * s.features }, () => gaussian(rng));
}

/**
 * Random graph inputs: about `edgeDensity` of the off-diagonal edges present with weights in
 * (0, 1], diagonal 0, about `maskedFraction` of the nodes absent.
 */
export function randomGraphInputs(s: GraphSpec, batch: number, rng: () => number, edgeDensity = 0.6, maskedFraction = 0.15): GraphInputs {
  const { nodes: N, features: F, market: G } = s;
  const x = Float32Array.from({ length: batch * N * F }, () => gaussian(rng));
  const adj = new Float32Array(batch * N * N);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) if (i !== j && rng() < edgeDensity) adj[(b * N + i) * N + j] = 1 - rng();
    }
  }
  const mask = Float32Array.from({ length: batch * N }, () => (rng() < maskedFraction ? 0 : 1));
  const market = Float32Array.from({ length: batch * G }, () => gaussian(rng));
  return { x, adj, mask, market };
}

/** A complete `regime.*` metadata object (plain data, same shape as ModelMetadata). */
export function sampleMetadata(kind: 'lstm' | 'graph', featureCount: number, classCount: number) {
  return {
    task: kind === 'lstm' ? 'vol' : 'cross',
    kind,
    featureNames: Array.from({ length: featureCount }, (_, i) => `f${i}`),
    classNames: Array.from({ length: classCount }, (_, i) => `c${i}`),
    scaler: { mean: Array.from({ length: featureCount }, (_, i) => i * 0.5), std: Array.from({ length: featureCount }, (_, i) => 1 + i) },
    splits: { train: ['2019-01-01', '2022-12-31'], valid: ['2023-01-01', '2023-12-31'], test: ['2024-01-01', '2024-12-31'] },
    dataHash: 'sha256:0123abcd',
    seed: 42,
    metrics: { accuracy: 0.61, macroF1: 0.48, confusion: [[1, 2], [3, 4]] },
    createdAt: '2026-01-02T03:04:05.000Z',
    spec: { kind, epochs: 30, dropout: 0.2 },
  };
}
