// @regime/data: kline readers and validation, gap grids, resampling, alignment, Arrow storage,
// Binance archive fetch, and the synthetic market.
export * from './intervals.js';
export * from './errors.js';
export * from './atomic.js';
export * from './discover.js';
export * from './arrow.js';
export * from './arrow-input.js';
export * from './build.js';
export * from './ingest.js';
export * from './synthetic.js';
export * from './info.js';
export * from './export.js';
export * from './store.js';
export * from './fetch.js';
