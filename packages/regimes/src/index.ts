// @regime/regimes: regime labelling (HMM vol and trend tasks, the cross-sectional threshold task),
// stable state names, filtered probabilities, reports and storage.
export * from './observations.js';
export * from './metrics.js';
export * from './hmm-task.js';
export * from './label.js';
export * from './report.js';
export * from './store.js';
