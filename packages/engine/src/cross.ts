// Cross-asset kernels (SPEC B3 cross group and GNN node inputs, A10 cross features).
//
// Layout: N aligned series on one time grid as ONE row-major (time-major) Float64Array of T×N
// plus nAssets: asset j at row t is `data[t * nAssets + j]`. Correlation matrices are T×N×N:
// entry (i, j) at row t is `m[(t * nAssets + i) * nAssets + j]`. `timeMajor` and
// `assetColumns` convert from and to one Float64Array per asset.
// NaN marks a missing bar or an asset not yet listed; windowed statistics need full windows.
// Formulas, warm-ups and NaN rules: docs/trend-and-cross.md.
import { raw } from './raw.js';
import { callAsync, callSync } from './errors.js';
import { invalid, positiveInt } from './validate.js';

/** Largest number of assets the cross kernels accept. */
export const MAX_ASSETS = 64;

function assets(nAssets: unknown): number {
  if (typeof nAssets !== 'number' || !Number.isInteger(nAssets) || nAssets < 1 || nAssets > MAX_ASSETS) {
    throw invalid('nAssets', `integer between 1 and ${MAX_ASSETS}`, nAssets);
  }
  return nAssets;
}

/** A T×N row-major Float64Array; returns T. */
function panel(name: string, v: unknown, nAssets: number): number {
  if (!(v instanceof Float64Array)) throw invalid(name, 'Float64Array (row-major T×nAssets)', v);
  if (v.length % nAssets !== 0) throw invalid(name, `Float64Array whose length is a multiple of nAssets (${nAssets})`, v);
  return v.length / nAssets;
}

function matrices(v: unknown, nAssets: number): number {
  if (!(v instanceof Float64Array)) throw invalid('matrices', 'Float64Array (T×nAssets×nAssets)', v);
  const nn = nAssets * nAssets;
  if (v.length % nn !== 0) throw invalid('matrices', `Float64Array whose length is a multiple of nAssets² (${nn})`, v);
  return v.length / nn;
}

function windowArg(window: unknown): number {
  if (typeof window !== 'number' || !Number.isInteger(window) || window < 2) throw invalid('window', 'integer >= 2', window);
  return window;
}

function assetIndex(name: string, v: unknown, nAssets: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= nAssets) {
    throw invalid(name, `asset index between 0 and ${nAssets - 1}`, v);
  }
  return v;
}

/** The reference series: an asset's own column, or a given series of length T. */
function referenceSeries(reference: unknown, returns: Float64Array, nAssets: number, rows: number): Float64Array {
  if (reference instanceof Float64Array) {
    if (reference.length !== rows) throw invalid('reference', `Float64Array of length ${rows} (rows of returns)`, reference);
    return reference;
  }
  return assetColumn(returns, nAssets, assetIndex('reference', reference, nAssets));
}

/** Interleave one Float64Array per asset (all of length T) into the row-major T×N layout. */
export function timeMajor(columns: Float64Array[]): Float64Array {
  if (!Array.isArray(columns) || columns.length < 1 || columns.length > MAX_ASSETS) {
    throw invalid('columns', `array of 1 to ${MAX_ASSETS} Float64Arrays`, columns);
  }
  const n = columns.length;
  const t = columns[0] instanceof Float64Array ? columns[0].length : 0;
  columns.forEach((c, j) => {
    if (!(c instanceof Float64Array) || c.length !== t) throw invalid(`columns[${j}]`, `Float64Array of length ${t}`, c);
  });
  const out = new Float64Array(t * n);
  for (let j = 0; j < n; j++) {
    const c = columns[j]!;
    for (let r = 0; r < t; r++) out[r * n + j] = c[r]!;
  }
  return out;
}

/** Column j of a row-major T×N panel, as a new Float64Array of length T. */
export function assetColumn(data: Float64Array, nAssets: number, j: number): Float64Array {
  const t = panel('data', data, assets(nAssets));
  assetIndex('j', j, nAssets);
  const out = new Float64Array(t);
  for (let r = 0; r < t; r++) out[r] = data[r * nAssets + j]!;
  return out;
}

/** Split a row-major T×N panel into one Float64Array per asset. */
export function assetColumns(data: Float64Array, nAssets: number): Float64Array[] {
  assets(nAssets);
  panel('data', data, nAssets);
  return Array.from({ length: nAssets }, (_, j) => assetColumn(data, nAssets, j));
}

/** The series of entry (i, j) of T×N×N matrices over time (length T). */
export function pairSeries(m: Float64Array, nAssets: number, i: number, j: number): Float64Array {
  const t = matrices(m, assets(nAssets));
  assetIndex('i', i, nAssets);
  assetIndex('j', j, nAssets);
  const out = new Float64Array(t);
  const nn = nAssets * nAssets;
  for (let r = 0; r < t; r++) out[r] = m[r * nn + i * nAssets + j]!;
  return out;
}

/**
 * Sliding Pearson correlation matrices of T×N returns over `window` rows (SPEC: 30), computed
 * incrementally on the thread pool, off the JS thread. Returns T×N×N (symmetric; diagonal 1
 * where the asset's window is full). Entry (i, j) at t is NaN unless both assets have all
 * `window` values in t−window+1..t; the first possible value is at row window−1.
 */
export function rollingCorrMatrix(returns: Float64Array, nAssets: number, window = 30): Promise<Float64Array> {
  panel('returns', returns, assets(nAssets));
  windowArg(window);
  return callAsync(() => raw.rollingCorrMatrix(returns, nAssets, window));
}

/** Blocking `rollingCorrMatrix`. */
export function rollingCorrMatrixSync(returns: Float64Array, nAssets: number, window = 30): Float64Array {
  panel('returns', returns, assets(nAssets));
  windowArg(window);
  return callSync(() => raw.rollingCorrMatrixSync(returns, nAssets, window));
}

/**
 * Sliding correlation of each asset with a reference over `window` rows: T×N. The reference
 * is an asset index (e.g. BTC's column; its own value is 1) or any series of length T (e.g. an
 * equal-weight market return). Defined where both windows are full.
 */
export function corrTo(returns: Float64Array, nAssets: number, reference: number | Float64Array, window = 30): Promise<Float64Array> {
  const rows = panel('returns', returns, assets(nAssets));
  windowArg(window);
  const ref = referenceSeries(reference, returns, nAssets, rows);
  return callAsync(() => raw.rollingVsReference(returns, nAssets, ref, window, 'corr'));
}

/** Blocking `corrTo`. */
export function corrToSync(returns: Float64Array, nAssets: number, reference: number | Float64Array, window = 30): Float64Array {
  const rows = panel('returns', returns, assets(nAssets));
  windowArg(window);
  const ref = referenceSeries(reference, returns, nAssets, rows);
  return callSync(() => raw.rollingVsReferenceSync(returns, nAssets, ref, window, 'corr'));
}

/**
 * Sliding β of each asset to a reference, cov(asset, ref)/var(ref) over `window` rows (SPEC:
 * β to BTC over 30 days): T×N. Reference as in `corrTo`. Defined where both windows are full
 * and the reference's window is not constant.
 */
export function betaTo(returns: Float64Array, nAssets: number, reference: number | Float64Array, window = 30): Promise<Float64Array> {
  const rows = panel('returns', returns, assets(nAssets));
  windowArg(window);
  const ref = referenceSeries(reference, returns, nAssets, rows);
  return callAsync(() => raw.rollingVsReference(returns, nAssets, ref, window, 'beta'));
}

/** Blocking `betaTo`. */
export function betaToSync(returns: Float64Array, nAssets: number, reference: number | Float64Array, window = 30): Float64Array {
  const rows = panel('returns', returns, assets(nAssets));
  windowArg(window);
  const ref = referenceSeries(reference, returns, nAssets, rows);
  return callSync(() => raw.rollingVsReferenceSync(returns, nAssets, ref, window, 'beta'));
}

/**
 * SPEC `avg_pairwise_corr`: per row, the mean of the defined off-diagonal correlations of the
 * matrices from `rollingCorrMatrix` (length T); NaN where fewer than two assets have full windows.
 */
export function avgPairwiseCorr(m: Float64Array, nAssets: number): Float64Array {
  matrices(m, assets(nAssets));
  return callSync(() => raw.avgPairwiseCorr(m, nAssets));
}

/** Per row and asset, the mean of its defined correlations to the other assets (T×N; GNN node input). */
export function meanCorrToOthers(m: Float64Array, nAssets: number): Float64Array {
  matrices(m, assets(nAssets));
  return callSync(() => raw.meanCorrToOthers(m, nAssets));
}

/**
 * SPEC `corr_stability`: the Pearson correlation between the upper triangles of the matrices at
 * t and t−lag, over the pairs defined at both (length T). NaN for t < lag and where fewer than
 * three pairs are common or either triangle is constant.
 */
export function corrStability(m: Float64Array, nAssets: number, lag = 30): Float64Array {
  matrices(m, assets(nAssets));
  positiveInt('lag', lag);
  return callSync(() => raw.corrStability(m, nAssets, lag));
}

/**
 * SPEC `vol_dispersion`: per row, the cross-sectional standard deviation (ddof 1) of ln(vol) over
 * the assets whose vol is finite and positive (length T); NaN where fewer than two qualify.
 */
export function volDispersion(vols: Float64Array, nAssets: number): Float64Array {
  panel('vols', vols, assets(nAssets));
  return callSync(() => raw.volDispersion(vols, nAssets));
}

/** Per row, the median of the finite values (mean of the middle two for an even count); length T. */
export function crossSectionalMedian(values: Float64Array, nAssets: number): Float64Array {
  panel('values', values, assets(nAssets));
  return callSync(() => raw.crossSectionalMedian(values, nAssets));
}

/**
 * GNN node input ln(vol / cross-sectional median), the median over the finite positive vols of
 * the row (T×N); NaN where the asset's vol is not finite and positive.
 */
export function logRatioToMedian(vols: Float64Array, nAssets: number): Float64Array {
  panel('vols', vols, assets(nAssets));
  return callSync(() => raw.logRatioToMedian(vols, nAssets));
}

/**
 * SPEC `btc_volume_share` (a proxy, NOT market-cap dominance): per row, the reference asset's
 * quote volume over the total of the assets present (finite volume) that row, then its trailing
 * mean over `window` rows (all `window` shares must be defined); length T.
 */
export function volumeShare(quoteVolume: Float64Array, nAssets: number, reference: number, window = 7): Float64Array {
  panel('quoteVolume', quoteVolume, assets(nAssets));
  assetIndex('reference', reference, nAssets);
  positiveInt('window', window);
  return callSync(() => raw.volumeShare(quoteVolume, nAssets, reference, window));
}
