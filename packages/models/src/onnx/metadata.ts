// Typed model metadata stored in the ONNX file's metadata_props.
//
// Every field is a JSON string under a `regime.*` key so the file is self-describing for any
// ONNX tool (Netron, onnx.load) while this package gets typed values back. ORT's Node binding
// does not expose custom metadata, so reading goes through our own protobuf decoder.
import { decodeModelProto } from './proto.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type ModelKind = 'lstm' | 'graph';

export interface ModelMetadata {
  /** What the model predicts, e.g. "vol", "trend", "cross". */
  task: string;
  kind: ModelKind;
  /** Per-step (lstm) or per-node (graph) input features, in input order. */
  featureNames: string[];
  classNames: string[];
  /** Standardisation applied to the features before the network: (x − mean) / std. */
  scaler: { mean: number[]; std: number[] };
  /** Train/validation/test boundaries (free-form, e.g. ISO dates per split). */
  splits: { [key: string]: JsonValue };
  dataHash: string;
  seed: number;
  metrics: { [key: string]: JsonValue };
  /** ISO-8601 timestamp. */
  createdAt: string;
  /** Architecture and training hyper-parameters. */
  spec: { [key: string]: JsonValue };
  /** graph only: market-level feature names (input `market`), in order. */
  marketFeatureNames?: string[];
  /** graph only: the asset behind each node index. */
  nodeNames?: string[];
}

/** metadata_props key of each ModelMetadata field. */
export const METADATA_KEYS = {
  task: 'regime.task',
  kind: 'regime.kind',
  featureNames: 'regime.featureNames',
  classNames: 'regime.classNames',
  scaler: 'regime.scaler',
  splits: 'regime.splits',
  dataHash: 'regime.dataHash',
  seed: 'regime.seed',
  metrics: 'regime.metrics',
  createdAt: 'regime.createdAt',
  spec: 'regime.spec',
  marketFeatureNames: 'regime.marketFeatureNames',
  nodeNames: 'regime.nodeNames',
} as const satisfies Record<keyof ModelMetadata, string>;

/** Version of the metadata layout, stored under `regime.metadataVersion`. */
export const METADATA_VERSION = '1';
const VERSION_KEY = 'regime.metadataVersion';

/** Encodes typed metadata as the string map the exporters store in metadata_props. */
export function metadataToProps(meta: ModelMetadata): Record<string, string> {
  const props: Record<string, string> = { [VERSION_KEY]: METADATA_VERSION };
  for (const [field, key] of Object.entries(METADATA_KEYS) as [keyof ModelMetadata, string][]) {
    const value = meta[field];
    if (value !== undefined) props[key] = JSON.stringify(value);
  }
  return props;
}

const isObject = (v: unknown): v is { [key: string]: JsonValue } => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
const isNumberArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((s) => typeof s === 'number');

/** Parses and validates the `regime.*` entries of metadata_props; throws naming the bad key. */
export function propsToMetadata(props: Readonly<Record<string, string>>): ModelMetadata {
  const version = props[VERSION_KEY];
  if (version !== undefined && version !== METADATA_VERSION) {
    throw new Error(`model metadata version ${version} is not supported (expected ${METADATA_VERSION})`);
  }
  const read = (field: keyof ModelMetadata, optional = false): unknown => {
    const key = METADATA_KEYS[field];
    const raw = props[key];
    if (raw === undefined) {
      if (optional) return undefined;
      throw new Error(`model metadata is missing '${key}' (not a regime model, or exported without metadata)`);
    }
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      throw new Error(`model metadata '${key}' is not valid JSON`);
    }
  };
  // Explicitly typed so that `if (!ok) bad(...)` narrows the value afterwards.
  const bad: (field: keyof ModelMetadata, want: string) => never = (field, want) => {
    throw new Error(`model metadata '${METADATA_KEYS[field]}' must be ${want}`);
  };

  const task = read('task');
  if (typeof task !== 'string') bad('task', 'a string');
  const kind = read('kind');
  if (kind !== 'lstm' && kind !== 'graph') bad('kind', '"lstm" or "graph"');
  const featureNames = read('featureNames');
  if (!isStringArray(featureNames)) bad('featureNames', 'an array of strings');
  const classNames = read('classNames');
  if (!isStringArray(classNames)) bad('classNames', 'an array of strings');
  const scaler = read('scaler');
  if (!isObject(scaler)) bad('scaler', '{ mean: number[], std: number[] }');
  const mean = scaler['mean'];
  const std = scaler['std'];
  if (!isNumberArray(mean) || !isNumberArray(std)) bad('scaler', '{ mean: number[], std: number[] }');
  const splits = read('splits');
  if (!isObject(splits)) bad('splits', 'an object');
  const dataHash = read('dataHash');
  if (typeof dataHash !== 'string') bad('dataHash', 'a string');
  const seed = read('seed');
  if (typeof seed !== 'number') bad('seed', 'a number');
  const metrics = read('metrics');
  if (!isObject(metrics)) bad('metrics', 'an object');
  const createdAt = read('createdAt');
  if (typeof createdAt !== 'string') bad('createdAt', 'a string');
  const spec = read('spec');
  if (!isObject(spec)) bad('spec', 'an object');
  const marketFeatureNames = read('marketFeatureNames', true);
  if (marketFeatureNames !== undefined && !isStringArray(marketFeatureNames)) bad('marketFeatureNames', 'an array of strings');
  const nodeNames = read('nodeNames', true);
  if (nodeNames !== undefined && !isStringArray(nodeNames)) bad('nodeNames', 'an array of strings');

  const meta: ModelMetadata = { task, kind, featureNames, classNames, scaler: { mean, std }, splits, dataHash, seed, metrics, createdAt, spec };
  if (marketFeatureNames !== undefined) meta.marketFeatureNames = marketFeatureNames;
  if (nodeNames !== undefined) meta.nodeNames = nodeNames;
  return meta;
}

/** All metadata_props of an ONNX model as a plain map. */
export function readOnnxMetadataProps(modelBytes: Uint8Array): Record<string, string> {
  const model = decodeModelProto(modelBytes);
  const props: Record<string, string> = {};
  for (const { key, value } of model.metadata_props ?? []) props[key] = value;
  return props;
}

/** Typed regime metadata of an ONNX model (throws if the `regime.*` keys are missing/invalid). */
export function readModelMetadata(modelBytes: Uint8Array): ModelMetadata {
  return propsToMetadata(readOnnxMetadataProps(modelBytes));
}
