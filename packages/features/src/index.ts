// @regime/features: feature definitions and sets, evaluation on aligned bars, the train-only
// scaler, windowing, and the feature store.
export * from './definitions.js';
export * from './sets.js';
export * from './compute.js';
export * from './scaler.js';
export * from './windowing.js';
export * from './store.js';
export * from './list.js';
export * from './errors.js';
export { K as featureKernels } from './kernels.js';
export * from './selection.js';
