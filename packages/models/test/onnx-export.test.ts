// Structure of the exported ONNX files: protobuf round trip, header fields, I/O signatures,
// initializers copied from the right layout entries, standard ops only, layout validation,
// and that ORT opens them with and without graph optimisation.
import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import {
  decodeModelProto,
  encodeModelProto,
  exportGraphOnnx,
  exportLstmOnnx,
  type ModelProto,
  type TensorProto,
} from '../src/index.js';
import { graphLayout, lstmLayout, mulberry32, randomGraphInputs, randomLstmInput, randomParams, type LayoutEntry } from './helpers/reference-forward.js';

const LSTM_SPEC = { features: 6, window: 30, hidden1: 64, hidden2: 32, classes: 5 };
const GRAPH_SPEC = { nodes: 13, features: 14, market: 4, hidden: 64, readout: 64, classes: 3 };

function lstmFixture() {
  const { layout, size } = lstmLayout(LSTM_SPEC);
  const params = randomParams(layout, size, mulberry32(1));
  return { layout, params, bytes: exportLstmOnnx({ spec: LSTM_SPEC, layout, params, metadata: { 'regime.task': '"vol"', other: 'x' } }) };
}

function graphFixture() {
  const { layout, size } = graphLayout(GRAPH_SPEC);
  const params = randomParams(layout, size, mulberry32(2));
  return { layout, params, bytes: exportGraphOnnx({ spec: GRAPH_SPEC, layout, params }) };
}

const floats = (t: TensorProto | undefined): number[] => {
  if (t?.raw_data === undefined) throw new Error('no raw data');
  const raw = t.raw_data;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Array.from({ length: raw.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
};
const init = (m: ModelProto, name: string) => m.graph.initializer.find((t) => t.name === name);
const slice = (layout: LayoutEntry[], params: Float32Array, name: string): number[] => {
  const e = layout.find((l) => l.name === name) as LayoutEntry;
  return Array.from(params.subarray(e.offset, e.offset + e.shape.reduce((a, b) => a * b, 1)));
};
const signature = (vs: ModelProto['graph']['input']) =>
  vs.map((v) => [v.name, v.type.tensor_type.elem_type, v.type.tensor_type.shape.dim.map((d) => d.dim_param ?? d.dim_value)]);

// Operators in the ONNX default domain that the exporters may use.
const STANDARD_OPS = new Set(['LSTM', 'MatMul', 'Gemm', 'Softmax', 'Mul', 'Div', 'Add', 'ReduceSum', 'Max', 'Relu', 'Transpose', 'Squeeze', 'Unsqueeze', 'Concat']);

describe('protobuf encoding', () => {
  it('decodes back to the same structure and re-encodes to identical bytes', () => {
    for (const { bytes } of [lstmFixture(), graphFixture()]) {
      const decoded = decodeModelProto(bytes);
      expect(Buffer.from(encodeModelProto(decoded)).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it('round-trips a hand-written ModelProto field for field', () => {
    const model: ModelProto = {
      ir_version: 8,
      opset_import: [{ domain: '', version: 17 }],
      producer_name: 'regime',
      graph: {
        name: 'g',
        node: [{ input: ['a', 'axes'], output: ['b'], name: 'n0', op_type: 'ReduceSum', attribute: [{ name: 'keepdims', type: 2, i: 0 }] }],
        initializer: [{ name: 'axes', dims: [1], data_type: 7, int64_data: [1] }],
        input: [{ name: 'a', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'batch' }, { dim_value: 3 }] } } } }],
        output: [{ name: 'b', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'batch' }] } } } }],
      },
      metadata_props: [{ key: 'k', value: 'v' }],
    };
    const d = decodeModelProto(encodeModelProto(model));
    expect(d.ir_version).toBe(8);
    expect(d.opset_import).toEqual([{ domain: '', version: 17 }]);
    expect(d.producer_name).toBe('regime');
    expect(d.metadata_props).toEqual([{ key: 'k', value: 'v' }]);
    expect(d.graph.node[0]).toMatchObject({ input: ['a', 'axes'], output: ['b'], op_type: 'ReduceSum', attribute: [{ name: 'keepdims', type: 2, i: 0 }] });
    expect(d.graph.initializer[0]).toMatchObject({ name: 'axes', dims: [1], data_type: 7, int64_data: [1] });
    expect(signature(d.graph.input)).toEqual([['a', 1, ['batch', 3]]]);
    expect(signature(d.graph.output)).toEqual([['b', 1, ['batch']]]);
  });

  it('uses the official onnx.proto field numbers (hand-checked wire bytes)', () => {
    // ModelProto{ ir_version(1)=8, producer_name(2)="r", opset_import(8){ version(2)=17 } }
    const bytes = encodeModelProto({ ir_version: 8, producer_name: 'r', opset_import: [{ version: 17 }], graph: { name: '', node: [], initializer: [], input: [], output: [] } });
    // Tags: 0x08 = field 1 varint, 0x12 = field 2 bytes, 0x3a = field 7 bytes, 0x42 = field 8 bytes.
    const hex = Buffer.from(bytes).toString('hex');
    expect(hex).toBe(['0808', '120172', '3a02' + '1200' /* GraphProto.name(2) = "" */, '4202' + '1011' /* version(2) = 17 */].join(''));
  });
});

describe('lstm export', () => {
  const { layout, params, bytes } = lstmFixture();
  const m = decodeModelProto(bytes);

  it('header: IR 8, opset 17, producer regime, metadata_props', () => {
    expect(m.ir_version).toBe(8);
    expect(m.opset_import).toEqual([{ domain: '', version: 17 }]);
    expect(m.producer_name).toBe('regime');
    expect(m.metadata_props).toEqual([{ key: 'regime.task', value: '"vol"' }, { key: 'other', value: 'x' }]);
  });

  it('inputs x[batch,30,6]; outputs probs[batch,5], attention[batch,30]', () => {
    expect(signature(m.graph.input)).toEqual([['x', 1, ['batch', 30, 6]]]);
    expect(signature(m.graph.output)).toEqual([['probs', 1, ['batch', 5]], ['attention', 1, ['batch', 30]]]);
  });

  it('standard ops only, two LSTMs with the hidden sizes', () => {
    for (const n of m.graph.node) {
      expect(STANDARD_OPS.has(n.op_type)).toBe(true);
      expect(n.domain ?? '').toBe('');
    }
    const lstms = m.graph.node.filter((n) => n.op_type === 'LSTM');
    expect(lstms.map((n) => n.attribute?.find((a) => a.name === 'hidden_size')?.i)).toEqual([64, 32]);
  });

  it('initializers are the layout tensors in ONNX shapes (B = [b, zeros])', () => {
    expect(init(m, 'lstm1.W')?.dims).toEqual([1, 256, 6]);
    expect(floats(init(m, 'lstm1.W'))).toEqual(slice(layout, params, 'lstm1.W'));
    expect(init(m, 'lstm1.R')?.dims).toEqual([1, 256, 64]);
    expect(floats(init(m, 'lstm2.R'))).toEqual(slice(layout, params, 'lstm2.R'));
    expect(init(m, 'lstm2.B')?.dims).toEqual([1, 256]);
    expect(floats(init(m, 'lstm2.B'))).toEqual([...slice(layout, params, 'lstm2.b'), ...new Array<number>(128).fill(0)]);
    expect(init(m, 'attn.q')?.dims).toEqual([64, 1]);
    expect(floats(init(m, 'out.W'))).toEqual(slice(layout, params, 'out.W'));
  });

  it('reads tensors by name, not offset (layout order does not matter)', async () => {
    // Same tensors stored in reverse order at different offsets → same model function.
    const reordered: LayoutEntry[] = [];
    const shuffled = new Float32Array(params.length);
    let off = 0;
    for (const e of [...layout].reverse()) {
      const n = e.shape.reduce((a, b) => a * b, 1);
      shuffled.set(params.subarray(e.offset, e.offset + n), off);
      reordered.push({ ...e, offset: off });
      off += n;
    }
    const a = await ort.InferenceSession.create(bytes);
    const b = await ort.InferenceSession.create(exportLstmOnnx({ spec: LSTM_SPEC, layout: reordered, params: shuffled }));
    const x = new ort.Tensor('float32', randomLstmInput(LSTM_SPEC, 3, mulberry32(3)), [3, 30, 6]);
    expect((await b.run({ x }))['probs']?.data).toEqual((await a.run({ x }))['probs']?.data);
  });

  it('rejects a layout that does not match the spec', () => {
    const spec = LSTM_SPEC;
    expect(() => exportLstmOnnx({ spec, layout: layout.filter((e) => e.name !== 'attn.q'), params })).toThrow(/'attn.q' missing/);
    expect(() => exportLstmOnnx({ spec: { ...spec, hidden2: 16 }, layout, params })).toThrow(/'lstm2.W' has shape \[128, 64\], architecture expects \[64, 64\]/);
    expect(() => exportLstmOnnx({ spec, layout: [...layout, { name: 'extra', shape: [1], offset: 0 }], params })).toThrow(/unexpected parameters in layout: extra/);
    expect(() => exportLstmOnnx({ spec, layout, params: params.subarray(0, params.length - 1) })).toThrow(/'out.b' at offset .* exceeds/);
    expect(() => exportLstmOnnx({ spec: { ...spec, window: 0 }, layout, params })).toThrow(/window must be a positive integer/);
  });
});

describe('graph export', () => {
  const { layout, params, bytes } = graphFixture();
  const m = decodeModelProto(bytes);

  it('inputs x, adj, mask, market with a dynamic batch; output probs', () => {
    expect(signature(m.graph.input)).toEqual([
      ['x', 1, ['batch', 13, 14]],
      ['adj', 1, ['batch', 13, 13]],
      ['mask', 1, ['batch', 13]],
      ['market', 1, ['batch', 4]],
    ]);
    expect(signature(m.graph.output)).toEqual([['probs', 1, ['batch', 3]]]);
    expect(m.metadata_props).toEqual([]);
  });

  it('standard ops only, no gather/scatter', () => {
    const ops = new Set(m.graph.node.map((n) => n.op_type));
    for (const op of ops) expect(STANDARD_OPS.has(op)).toBe(true);
    expect(ops.has('MatMul') && ops.has('ReduceSum') && ops.has('Max')).toBe(true);
  });

  it('per-node weights are stored transposed, Gemm weights as [out, in]', () => {
    const ws = slice(layout, params, 'g1.Ws'); // [64, 14]
    const wsT = floats(init(m, 'g1.Ws_T')); // [14, 64]
    expect(init(m, 'g1.Ws_T')?.dims).toEqual([14, 64]);
    expect(wsT[3 * 64 + 10]).toBe(ws[10 * 14 + 3]);
    expect(init(m, 'mlp1.W')?.dims).toEqual([64, 68]);
    expect(floats(init(m, 'mlp1.W'))).toEqual(slice(layout, params, 'mlp1.W'));
  });

  it('rejects a mismatched layout', () => {
    expect(() => exportGraphOnnx({ spec: { ...GRAPH_SPEC, market: 5 }, layout, params })).toThrow(/'mlp1.W' has shape \[64, 68\], architecture expects \[64, 69\]/);
  });
});

describe('ORT graph optimisation levels', () => {
  for (const [name, fixture, feeds] of [
    ['lstm', lstmFixture, () => ({ x: new ort.Tensor('float32', randomLstmInput(LSTM_SPEC, 5, mulberry32(4)), [5, 30, 6]) })],
    [
      'graph',
      graphFixture,
      () => {
        const g = randomGraphInputs(GRAPH_SPEC, 5, mulberry32(5));
        return {
          x: new ort.Tensor('float32', g.x, [5, 13, 14]),
          adj: new ort.Tensor('float32', g.adj, [5, 13, 13]),
          mask: new ort.Tensor('float32', g.mask, [5, 13]),
          market: new ort.Tensor('float32', g.market, [5, 4]),
        };
      },
    ],
  ] as const) {
    it(`${name}: opens with optimisation 'all' (default) and 'disabled', same outputs`, async () => {
      const { bytes } = fixture();
      const optimised = await ort.InferenceSession.create(bytes);
      const plain = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
      const f = feeds();
      const a = await optimised.run(f);
      const b = await plain.run(f);
      for (const out of optimised.outputNames) {
        const x = a[out]?.data as Float32Array;
        const y = b[out]?.data as Float32Array;
        expect(x.length).toBe(y.length);
        for (let i = 0; i < x.length; i++) expect(Math.abs((x[i] as number) - (y[i] as number))).toBeLessThan(1e-6);
      }
    });
  }
});
