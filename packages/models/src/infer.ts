// ONNX Runtime inference for exported regime models.
//
// Threading note: onnxruntime-node's `session.run()` returns a Promise, but the binding runs
// the graph synchronously on the JS main thread (inside a setImmediate), so while a chunk is
// computing the event loop is blocked; ORT parallelises inside the call with its own intra-op
// thread pool (`threads` → intraOpNumThreads). `run()` below splits big batches into chunks
// and awaits each, which lets timers/IO run between chunks. For inference that must not block
// the event loop, use OnnxWorker (onnx-worker-client.ts): the same API, a session in a worker thread.
import { readFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import { propsToMetadata, readOnnxMetadataProps, type ModelMetadata } from './onnx/metadata.js';

export type InferenceDevice = 'cpu' | 'cuda';

export interface OnnxLoadOptions {
  /** Execution provider; 'cuda' needs onnxruntime-node installed with its CUDA binaries. Default 'cpu'. */
  device?: InferenceDevice;
  /** ORT intra-op threads (0 or undefined = ORT's default, one per physical core). */
  threads?: number;
  /** ORT graph optimisation level (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Maximum rows per ORT call in `run()` (default 4096). */
  chunkSize?: number;
}

/** A float32 output, row-major, `dims[0]` = batch. */
export interface OutputTensor {
  data: Float32Array;
  dims: number[];
}

export const DEFAULT_CHUNK_SIZE = 4096;

// The env var beats the repo's `.npmrc` (onnxruntime-node-install=skip); ONNXRUNTIME_NODE_INSTALL_CUDA=v12
// is the older, deprecated spelling of the same switch.
export const CUDA_UNAVAILABLE_MESSAGE =
  'CUDA execution provider is not available in this onnxruntime-node install; reinstall with ' +
  'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node (formerly ONNXRUNTIME_NODE_INSTALL_CUDA=v12; ' +
  'Linux x64 with CUDA 12 and cuDNN 9 only), or use --device cpu';

/** Thrown when names/order of the caller's features differ from the model's. */
export class FeatureMismatchError extends Error {
  override readonly name = 'FeatureMismatchError';
}

/** Describes how `actual` differs from `expected` (missing, unexpected, first order difference), or null if equal. */
export function describeNameMismatch(expected: readonly string[], actual: readonly string[]): string | null {
  if (expected.length === actual.length && expected.every((n, i) => n === actual[i])) return null;
  const parts: string[] = [];
  const missing = expected.filter((n) => !actual.includes(n));
  const unexpected = actual.filter((n) => !expected.includes(n));
  if (missing.length > 0) parts.push(`missing: ${missing.join(', ')}`);
  if (unexpected.length > 0) parts.push(`unexpected: ${unexpected.join(', ')}`);
  if (missing.length === 0 && unexpected.length === 0) {
    const dupes = actual.length !== expected.length;
    const i = expected.findIndex((n, k) => n !== actual[k]);
    parts.push(dupes ? `duplicates: got ${actual.length} names for ${expected.length}` : `order differs at position ${i}: expected '${expected[i] ?? ''}', got '${actual[i] ?? ''}'`);
  }
  return `${parts.join('; ')} (model expects [${expected.join(', ')}], got [${actual.join(', ')}])`;
}

function isCudaLoadError(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /cuda|providers_shared|shared library/i.test(msg);
}

function perSampleShape(meta: ort.InferenceSession.ValueMetadata, what: string): number[] {
  if (!meta.isTensor) throw new Error(`${what} '${meta.name}' is not a tensor`);
  const [first, ...rest] = meta.shape;
  if (typeof first !== 'string') throw new Error(`${what} '${meta.name}' has no dynamic batch dimension`);
  return rest.map((d) => {
    if (typeof d !== 'number') throw new Error(`${what} '${meta.name}' has a dynamic non-batch dimension`);
    return d;
  });
}

export class OnnxModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** Typed `regime.*` metadata. */
    readonly metadata: ModelMetadata,
    /** All metadata_props as stored. */
    readonly metadataProps: Readonly<Record<string, string>>,
    readonly device: InferenceDevice,
    private readonly chunkSize: number,
  ) {}

  /** Loads a model from a path or bytes, reads its metadata and opens an ORT session. */
  static async load(source: string | Uint8Array, opts: OnnxLoadOptions = {}): Promise<OnnxModel> {
    const bytes = typeof source === 'string' ? new Uint8Array(await readFile(source)) : source;
    const props = readOnnxMetadataProps(bytes);
    const metadata = propsToMetadata(props);
    const device = opts.device ?? 'cpu';
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new Error(`chunkSize must be a positive integer, got ${chunkSize}`);
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
      graphOptimizationLevel: opts.optimization ?? 'all',
      intraOpNumThreads: opts.threads ?? 0,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    };
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, options);
    } catch (err) {
      // Without the CUDA binaries ORT fails with "OrtSessionOptionsAppendExecutionProvider_Cuda:
      // Failed to load shared library" (and logs which .so is missing to stderr).
      if (device === 'cuda' && isCudaLoadError(err)) throw new Error(CUDA_UNAVAILABLE_MESSAGE, { cause: err });
      throw err;
    }
    const model = new OnnxModel(session, metadata, props, device, chunkSize);
    model.checkMetadataAgainstGraph();
    return model;
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Shape of one sample of input `name` (the input's dims without the batch dimension). */
  inputShape(name: string): number[] {
    const meta = this.session.inputMetadata.find((m) => m.name === name);
    if (meta === undefined) throw new Error(`model has no input '${name}' (inputs: ${this.inputNames.join(', ')})`);
    return perSampleShape(meta, 'input');
  }

  private checkMetadataAgainstGraph(): void {
    const xShape = this.inputShape('x');
    const f = xShape[xShape.length - 1];
    if (f !== this.metadata.featureNames.length) {
      throw new Error(`model metadata lists ${this.metadata.featureNames.length} features but input 'x' has ${String(f)}`);
    }
  }

  /**
   * Throws FeatureMismatchError unless the caller's feature names (and, for graph models, market
   * feature and node names when given) are exactly the model's, in the same order.
   */
  checkInputs(featureNames: readonly string[], extra: { marketFeatureNames?: readonly string[]; nodeNames?: readonly string[] } = {}): void {
    const problems: string[] = [];
    const check = (label: string, expected: readonly string[] | undefined, actual: readonly string[] | undefined) => {
      if (actual === undefined) return;
      if (expected === undefined) {
        problems.push(`${label}: the model does not record them`);
        return;
      }
      const d = describeNameMismatch(expected, actual);
      if (d !== null) problems.push(`${label}: ${d}`);
    };
    check('features', this.metadata.featureNames, featureNames);
    check('market features', this.metadata.marketFeatureNames, extra.marketFeatureNames);
    check('nodes', this.metadata.nodeNames, extra.nodeNames);
    if (problems.length > 0) {
      throw new FeatureMismatchError(`inputs do not match model (${this.metadata.kind}/${this.metadata.task}): ${problems.join(' | ')}`);
    }
  }

  /**
   * Runs the model on a batch. `inputs` maps every graph input name to row-major float32 data
   * of `batch × inputShape(name)` values; the batch size is inferred and must agree across
   * inputs. Batches above `chunkSize` rows are run chunk by chunk and concatenated.
   */
  async run(inputs: Readonly<Record<string, Float32Array>>): Promise<Record<string, OutputTensor>> {
    const names = this.session.inputNames;
    const unknown = Object.keys(inputs).filter((k) => !names.includes(k));
    if (unknown.length > 0) throw new Error(`unknown model inputs: ${unknown.join(', ')} (inputs: ${names.join(', ')})`);
    let batch: number | undefined;
    const shapes = new Map<string, { data: Float32Array; shape: number[]; size: number }>();
    for (const name of names) {
      const data = inputs[name];
      if (data === undefined) throw new Error(`missing model input '${name}'`);
      const shape = this.inputShape(name);
      const size = shape.reduce((a, b) => a * b, 1);
      if (data.length % size !== 0) throw new Error(`input '${name}' has ${data.length} values, not a multiple of [${shape.join(', ')}]`);
      const b = data.length / size;
      if (batch !== undefined && b !== batch) throw new Error(`input '${name}' has batch ${b}, other inputs have ${batch}`);
      batch = b;
      shapes.set(name, { data, shape, size });
    }
    const total = batch ?? 0;

    const outMeta = this.session.outputMetadata.map((m) => ({ name: m.name, shape: perSampleShape(m, 'output') }));
    const outputs: Record<string, OutputTensor> = {};
    for (const { name, shape } of outMeta) {
      outputs[name] = { data: new Float32Array(total * shape.reduce((a, b) => a * b, 1)), dims: [total, ...shape] };
    }
    for (let start = 0; start < total; start += this.chunkSize) {
      const rows = Math.min(this.chunkSize, total - start);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, { data, shape, size }] of shapes) {
        feeds[name] = new ort.Tensor('float32', data.subarray(start * size, (start + rows) * size), [rows, ...shape]);
      }
      const result = await this.session.run(feeds);
      for (const { name, shape } of outMeta) {
        const t = result[name];
        if (t === undefined || t.type !== 'float32') throw new Error(`internal: output '${name}' missing or not float32`);
        const size = shape.reduce((a, b) => a * b, 1);
        (outputs[name] as OutputTensor).data.set(t.data as Float32Array, start * size);
        t.dispose();
      }
    }
    return outputs;
  }

  /** Releases the native session. */
  async dispose(): Promise<void> {
    await this.session.release();
  }
}
