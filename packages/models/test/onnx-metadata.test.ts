// Typed `regime.*` metadata: props round trip, storage in the ONNX file, validation errors.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decodeModelProto,
  exportGraphOnnx,
  exportLstmOnnx,
  METADATA_KEYS,
  metadataToProps,
  OnnxModel,
  propsToMetadata,
  readModelMetadata,
  readOnnxMetadataProps,
  type ModelMetadata,
} from '../src/index.js';
import { graphLayout, lstmLayout, mulberry32, randomParams, sampleMetadata } from './helpers/reference-forward.js';

const LSTM_SPEC = { features: 6, window: 30, hidden1: 64, hidden2: 32, classes: 5 };
const GRAPH_SPEC = { nodes: 13, features: 14, market: 4, hidden: 64, readout: 64, classes: 3 };

const lstmMeta = (): ModelMetadata => sampleMetadata('lstm', 6, 5);
const graphMeta = (): ModelMetadata => ({
  ...sampleMetadata('graph', 14, 3),
  marketFeatureNames: ['m0', 'm1', 'm2', 'm3'],
  nodeNames: Array.from({ length: 13 }, (_, i) => `ASSET${i}`),
});

function lstmBytes(metadata: Record<string, string>) {
  const { layout, size } = lstmLayout(LSTM_SPEC);
  return exportLstmOnnx({ spec: LSTM_SPEC, layout, params: randomParams(layout, size, mulberry32(1)), metadata });
}

describe('metadata props', () => {
  it('round-trips through metadataToProps / propsToMetadata', () => {
    for (const meta of [lstmMeta(), graphMeta()]) expect(propsToMetadata(metadataToProps(meta))).toEqual(meta);
  });

  it('stores every field as JSON under regime.* keys', () => {
    const props = metadataToProps(lstmMeta());
    expect(props['regime.metadataVersion']).toBe('1');
    expect(props[METADATA_KEYS.task]).toBe('"vol"');
    expect(JSON.parse(props['regime.featureNames'] ?? 'null')).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'f5']);
    expect(JSON.parse(props['regime.scaler'] ?? 'null')).toEqual({ mean: [0, 0.5, 1, 1.5, 2, 2.5], std: [1, 2, 3, 4, 5, 6] });
    expect(props['regime.nodeNames']).toBeUndefined(); // optional fields are omitted, not "undefined"
    expect(Object.keys(props).every((k) => k.startsWith('regime.'))).toBe(true);
  });

  it('round-trips through the ONNX file (lstm and graph)', () => {
    expect(readModelMetadata(lstmBytes(metadataToProps(lstmMeta())))).toEqual(lstmMeta());
    const { layout, size } = graphLayout(GRAPH_SPEC);
    const g = exportGraphOnnx({ spec: GRAPH_SPEC, layout, params: randomParams(layout, size, mulberry32(2)), metadata: metadataToProps(graphMeta()) });
    expect(readModelMetadata(g)).toEqual(graphMeta());
    // Non-regime keys are kept verbatim next to the typed ones.
    const props = readOnnxMetadataProps(lstmBytes({ ...metadataToProps(lstmMeta()), author: 'me' }));
    expect(props['author']).toBe('me');
    expect(decodeModelProto(lstmBytes({ a: '1' })).metadata_props).toEqual([{ key: 'a', value: '1' }]);
  });

  it('rejects missing, malformed or mistyped entries with the key name', () => {
    const props = metadataToProps(lstmMeta());
    const without = (k: string) => Object.fromEntries(Object.entries(props).filter(([key]) => key !== k));
    expect(() => propsToMetadata(without('regime.classNames'))).toThrow(/missing 'regime.classNames'/);
    expect(() => propsToMetadata({ ...props, 'regime.seed': '{oops' })).toThrow(/'regime.seed' is not valid JSON/);
    expect(() => propsToMetadata({ ...props, 'regime.kind': '"cnn"' })).toThrow(/'regime.kind' must be "lstm" or "graph"/);
    expect(() => propsToMetadata({ ...props, 'regime.scaler': '{"mean":[1]}' })).toThrow(/'regime.scaler' must be/);
    expect(() => propsToMetadata({ ...props, 'regime.featureNames': '["a",1]' })).toThrow(/'regime.featureNames' must be an array of strings/);
    expect(() => propsToMetadata({ ...props, 'regime.metadataVersion': '2' })).toThrow(/version 2 is not supported/);
    expect(() => readModelMetadata(lstmBytes({}))).toThrow(/missing 'regime.task'.*not a regime model/);
  });
});

describe('OnnxModel metadata', () => {
  it('load(path) reads typed metadata from a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regime-onnx-'));
    const file = join(dir, 'vol.onnx');
    writeFileSync(file, lstmBytes(metadataToProps(lstmMeta())));
    const model = await OnnxModel.load(file, { threads: 1 });
    expect(model.metadata).toEqual(lstmMeta());
    expect(model.metadataProps['regime.task']).toBe('"vol"');
    expect(model.inputNames).toEqual(['x']);
    expect(model.outputNames).toEqual(['probs', 'attention']);
    expect(model.inputShape('x')).toEqual([30, 6]);
    await model.dispose();
  });

  it('load refuses a model whose metadata disagrees with its input width', async () => {
    const meta = { ...lstmMeta(), featureNames: ['a', 'b'] };
    await expect(OnnxModel.load(lstmBytes(metadataToProps(meta)))).rejects.toThrow(/metadata lists 2 features but input 'x' has 6/);
  });

  it('load refuses a model without regime metadata', async () => {
    await expect(OnnxModel.load(lstmBytes({}))).rejects.toThrow(/missing 'regime.task'/);
  });
});
