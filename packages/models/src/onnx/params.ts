// Reading named tensors out of the flat parameter vector described by docs/neural.md.
// The exporter always looks tensors up by name and checks their shapes against the
// architecture, so a layout change on the trainer side fails loudly instead of silently
// producing a model that computes something else.

/** One entry of `param_layout(arch)`: a tensor `name` of `shape` starting at `offset`. */
export interface ParamLayoutEntry {
  name: string;
  shape: number[];
  offset: number;
}

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Looks up `name` and checks it has `expectedShape`; returns a view (no copy) into params. */
export function readParam(
  layout: readonly ParamLayoutEntry[],
  params: Float32Array,
  name: string,
  expectedShape: readonly number[],
): NamedTensor {
  const entry = layout.find((e) => e.name === name);
  if (entry === undefined) {
    throw new Error(`parameter '${name}' missing from layout (have: ${layout.map((e) => e.name).join(', ')})`);
  }
  const same = entry.shape.length === expectedShape.length && entry.shape.every((d, i) => d === expectedShape[i]);
  if (!same) {
    throw new Error(`parameter '${name}' has shape [${entry.shape.join(', ')}], architecture expects [${expectedShape.join(', ')}]`);
  }
  const size = sizeOf(entry.shape);
  if (!Number.isInteger(entry.offset) || entry.offset < 0 || entry.offset + size > params.length) {
    throw new Error(`parameter '${name}' at offset ${entry.offset} (size ${size}) exceeds the ${params.length} parameters`);
  }
  return { name, shape: [...entry.shape], data: params.subarray(entry.offset, entry.offset + size) };
}

/** Checks the layout has no tensors beyond `expectedNames` (e.g. a newer trainer's extras). */
export function checkLayoutNames(layout: readonly ParamLayoutEntry[], expectedNames: readonly string[]): void {
  const extra = layout.filter((e) => !expectedNames.includes(e.name)).map((e) => e.name);
  if (extra.length > 0) throw new Error(`unexpected parameters in layout: ${extra.join(', ')}`);
}

/** Row-major transpose of a [rows, cols] matrix. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c] as number;
  }
  return out;
}
