// The worker side of OnnxWorker: one ORT session in a worker thread, answering `run` requests.
// Outputs are transferred back, not copied.
import { parentPort, workerData } from 'node:worker_threads';
import { OnnxModel, type OnnxLoadOptions, type OutputTensor } from './infer.js';

interface Init {
  source: string | Uint8Array;
  options: OnnxLoadOptions;
}

type Request = { id: number; kind: 'run'; inputs: Record<string, Float32Array> } | { id: number; kind: 'close' };

const port = parentPort;
if (!port) throw new Error('onnx-worker must run in a worker thread');
const init = workerData as Init;

const ready = OnnxModel.load(init.source, init.options);
ready.then(
  (m) => port.postMessage({ id: 0, ok: true, metadata: m.metadata, props: m.metadataProps, inputNames: m.inputNames, outputNames: m.outputNames }),
  (e: unknown) => port.postMessage({ id: 0, ok: false, error: e instanceof Error ? e.message : String(e) }),
);

port.on('message', (r: Request) => {
  void ready.then(async (m) => {
    if (r.kind === 'close') {
      await m.dispose();
      port.postMessage({ id: r.id, ok: true });
      port.close();
      return;
    }
    try {
      const out: Record<string, OutputTensor> = await m.run(r.inputs);
      port.postMessage({ id: r.id, ok: true, out }, Object.values(out).map((t) => t.data.buffer as ArrayBuffer));
    } catch (e) {
      port.postMessage({ id: r.id, ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  });
});
