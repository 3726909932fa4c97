// A tiny ONNX graph builder: initializers, nodes and typed graph inputs/outputs, serialised
// through the protobufjs codec in proto.ts. Only what the two exporters need.
import {
  AttributeType,
  encodeModelProto,
  TensorDataType,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type TensorShapeDimension,
  type ValueInfoProto,
} from './proto.js';

/** IR version 8 (ONNX 1.10+) with the default-domain opset 17 (ONNX 1.12). */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;
export const PRODUCER_NAME = 'regime';

/** A graph dimension: a fixed size or a symbolic name such as "batch". */
export type Dim = number | string;

export type AttrValue = number | string | number[] | { floats: number[] } | { float: number };

/** Attribute helper: integers become INT, `{ float }` a FLOAT, strings STRING, arrays INTS. */
function attribute(name: string, value: AttrValue): AttributeProto {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: use { float } for non-integers`);
    return { name, type: AttributeType.INT, i: value };
  }
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: value.floats };
  return { name, type: AttributeType.FLOAT, f: value.float };
}

// Raw data is written explicitly little-endian (the ONNX requirement) so the bytes do not
// depend on the host's endianness.
function float32Raw(data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i] as number, true);
  return out;
}

function int64Raw(data: readonly number[]): Uint8Array {
  const out = new Uint8Array(data.length * 8);
  const view = new DataView(out.buffer);
  data.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return out;
}

function valueInfo(name: string, dims: readonly Dim[]): ValueInfoProto {
  const dim: TensorShapeDimension[] = dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name, type: { tensor_type: { elem_type: TensorDataType.FLOAT, shape: { dim } } } };
}

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly names = new Set<string>();

  constructor(private readonly graphName: string) {}

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`internal: duplicate ONNX value name '${name}'`);
    this.names.add(name);
    return name;
  }

  /** Declares a float32 graph input. */
  input(name: string, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), dims));
    return name;
  }

  /** Declares a float32 graph output; `value` must be produced by a node under that name. */
  output(name: string, dims: readonly Dim[]): void {
    if (!this.names.has(name)) throw new Error(`internal: output '${name}' is not produced by any node`);
    this.outputs.push(valueInfo(name, dims));
  }

  /** Adds a float32 initializer (dims [] = scalar). */
  floatConst(name: string, dims: readonly number[], data: ArrayLike<number>): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`internal: initializer ${name} has ${data.length} values for dims [${dims.join(', ')}]`);
    this.initializers.push({ name: this.claim(name), dims: [...dims], data_type: TensorDataType.FLOAT, raw_data: float32Raw(data) });
    return name;
  }

  /** Adds a 1-D int64 initializer, e.g. the `axes` input of ReduceSum/Squeeze/Unsqueeze (opset 13+). */
  int64Const(name: string, data: readonly number[]): string {
    this.initializers.push({ name: this.claim(name), dims: [data.length], data_type: TensorDataType.INT64, raw_data: int64Raw(data) });
    return name;
  }

  /** Adds a node. `outputs` are names or `''` for an omitted optional output; returns them. */
  node(opType: string, inputs: readonly string[], outputs: readonly string[], attrs: Record<string, AttrValue> = {}): string[] {
    for (const inp of inputs) {
      if (inp !== '' && !this.names.has(inp)) throw new Error(`internal: node ${opType} reads undefined value '${inp}'`);
    }
    const outs = outputs.map((o) => (o === '' ? '' : this.claim(o)));
    const node: NodeProto = {
      input: [...inputs],
      output: outs,
      name: `${opType}_${this.nodes.length}`,
      op_type: opType,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    };
    this.nodes.push(node);
    return outs;
  }

  /** Single-output convenience wrapper around `node`. */
  op(opType: string, inputs: readonly string[], output: string, attrs: Record<string, AttrValue> = {}): string {
    const [out] = this.node(opType, inputs, [output], attrs);
    return out as string;
  }

  /** The ModelProto object (exposed for tests); `metadata` becomes metadata_props. */
  toModelProto(metadata: Readonly<Record<string, string>>, docString?: string): ModelProto {
    return {
      ir_version: ONNX_IR_VERSION,
      opset_import: [{ domain: '', version: ONNX_OPSET }],
      producer_name: PRODUCER_NAME,
      ...(docString === undefined ? {} : { doc_string: docString }),
      graph: { name: this.graphName, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
      metadata_props: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    };
  }

  build(metadata: Readonly<Record<string, string>>, docString?: string): Uint8Array {
    return encodeModelProto(this.toModelProto(metadata, docString));
  }
}
