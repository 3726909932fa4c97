// ONNX Runtime in a worker thread. onnxruntime-node's `run()` computes on the calling JS thread,
// so a service that must stay responsive (HTTP, timers) runs its sessions here instead: the same
// `run()` API, answered by a session in a worker.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { OnnxLoadOptions, OutputTensor } from './infer.js';
import type { ModelMetadata } from './onnx/metadata.js';

interface Reply {
  id: number;
  ok: boolean;
  error?: string;
  out?: Record<string, OutputTensor>;
  metadata?: ModelMetadata;
  props?: Record<string, string>;
  inputNames?: string[];
  outputNames?: string[];
}

/** The compiled worker entry; from sources (tests run TypeScript directly) the built copy in dist/. */
function entry(): URL {
  const here = new URL('./onnx-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL('../dist/onnx-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new Error('@regime/models: dist/onnx-worker.js is missing; run `npm run build`');
}

export class OnnxWorker {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly worker: Worker,
    readonly metadata: ModelMetadata,
    readonly metadataProps: Readonly<Record<string, string>>,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {
    worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r);
      else p.reject(new Error(r.error));
    });
    const fail = (e: Error) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`ONNX worker exited (code ${code})`)));
  }

  /** Load a model (path or bytes) into a new worker thread; options as for `OnnxModel.load`. */
  static load(source: string | Uint8Array, options: OnnxLoadOptions = {}): Promise<OnnxWorker> {
    const worker = new Worker(entry(), { workerData: { source, options } });
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      worker.once('error', onError);
      worker.once('message', (r: Reply) => {
        worker.off('error', onError);
        if (!r.ok) {
          void worker.terminate();
          reject(new Error(r.error));
          return;
        }
        resolve(new OnnxWorker(worker, r.metadata!, r.props!, r.inputNames!, r.outputNames!));
      });
    });
  }

  /**
   * Run a batch in the worker. Inputs are copied to it (a copy costs far less than the
   * inference, and the caller keeps its arrays); outputs are transferred back.
   */
  run(inputs: Record<string, Float32Array>): Promise<Record<string, OutputTensor>> {
    const id = this.next++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, kind: 'run', inputs });
    }).then((r) => r.out!);
  }

  /** Release the session and stop the worker. */
  async dispose(): Promise<void> {
    const id = this.next++;
    await new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, kind: 'close' });
    }).catch(() => undefined);
    await this.worker.terminate();
  }
}
