// The native kernels the feature evaluator calls, in the per-asset layout it works in (one
// Float64Array per asset on the shared grid). Cross-asset kernels take the row-major T×N panel
// of @regime/engine's cross module.
import * as E from '@regime/engine';
import type { RollingStat } from './definitions.js';

type Series = Float64Array[];

/** Fewest training observations for a GARCH fit; a year of days. Fewer leave the feature NaN. */
export const GARCH_MIN_TRAIN = 250;

export interface GarchFitSummary {
  dist: 'normal' | 't';
  params: Record<string, number>;
  loglik: number;
  converged: boolean;
  iterations: number;
  /** Observations the fit used (finite values before the train end). */
  nObs: number;
  stdErrors?: Record<string, number>;
}

/** Correlation matrices are shared between the kernels that need them (same input and window). */
const matrixCache = new WeakMap<Series, Map<number, Promise<Float64Array>>>();

export const K = {
  logChange: (x: Float64Array, n: number) => E.logMomentum(x, n),
  roc: (x: Float64Array, n: number) => E.rateOfChange(x, n),
  smaLogRatio: (x: Float64Array, short: number, long: number) => E.volumeTrend(x, short, long),
  adx: (h: Float64Array, l: Float64Array, c: Float64Array, n: number) => E.adx(h, l, c, n).adx,

  rollingMany: (xs: Series, stat: RollingStat, window: number, ddof: number): Promise<Series> =>
    E.rollingMany(xs, stat, window, stat === 'std' || stat === 'var' || stat === 'zscore' ? { ddof } : {}),
  ewmMean: (x: Float64Array, alpha: number) => E.ewmMean(x, { alpha }),
  ewmStd: (x: Float64Array, alpha: number) => E.ewmStd(x, { alpha }),
  rollingCorr: (x: Float64Array, ref: Float64Array, window: number) => E.rollingCorr(x, ref, window),
  rollingBeta: (x: Float64Array, ref: Float64Array, window: number) => E.betaToSync(x, 1, ref, window),

  corrMatrix(xs: Series, window: number): Promise<Float64Array> {
    let byWindow = matrixCache.get(xs);
    if (!byWindow) matrixCache.set(xs, (byWindow = new Map()));
    let m = byWindow.get(window);
    if (!m) byWindow.set(window, (m = E.rollingCorrMatrix(E.timeMajor(xs), xs.length, window)));
    return m;
  },
  avgPairwiseCorr: (m: Float64Array, n: number) => E.avgPairwiseCorr(m, n),
  corrStability: (m: Float64Array, n: number, lag: number) => E.corrStability(m, n, lag),
  meanCorr: (m: Float64Array, n: number): Series => E.assetColumns(E.meanCorrToOthers(m, n), n),
  /** Cross-sectional std (ddof 1) over assets with finite values; of ln x when `log` (vol_dispersion). */
  crossStd(xs: Series, log: boolean): Float64Array {
    if (log) return E.volDispersion(E.timeMajor(xs), xs.length);
    const T = xs[0]?.length ?? 0;
    return Float64Array.from({ length: T }, (_, t) => {
      const v = xs.map((s) => s[t]!).filter(Number.isFinite);
      if (v.length < 2) return NaN;
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
    });
  },
  logRelMedian: (xs: Series): Series => E.assetColumns(E.logRatioToMedian(E.timeMajor(xs), xs.length), xs.length),
  anchorShare: (xs: Series, anchor: number, window: number) => E.volumeShare(E.timeMajor(xs), xs.length, anchor, window),

  /**
   * GARCH(1,1) on 100·x fitted on each asset's finite values in rows [trainFrom, trainRows), then filtered
   * over all its finite values with the frozen parameters and the training backcast. The value
   * at t is σ_{t+1|t} = √(ω + α e_t² + β σ_t²): the one-step-ahead forecast made at t's close,
   * from data up to t (so it is causal). Missing values are skipped (the recursion runs over the
   * observations that exist). Assets with fewer than GARCH_MIN_TRAIN observations are left NaN.
   */
  async garchSigmaMany(xs: Series, trainFrom: number, trainRows: number, dist: 'normal' | 't'): Promise<Array<{ sigma: Float64Array; summary: GarchFitSummary | { skipped: string } }>> {
    const finite = xs.map((s) => Array.from(s.keys()).filter((t) => Number.isFinite(s[t]!)));
    const trainIdx = finite.map((idx) => idx.filter((t) => t >= trainFrom && t < trainRows));
    const fitIdx = trainIdx.map((idx, k) => (idx.length >= GARCH_MIN_TRAIN ? k : -1)).filter((k) => k >= 0);
    const fits = await E.garchFitMany(
      fitIdx.map((k) => Float64Array.from(trainIdx[k]!, (t) => 100 * xs[k]![t]!)),
      { dist },
    );
    return xs.map((s, k) => {
      const sigma = new Float64Array(s.length).fill(NaN);
      const at = fitIdx.indexOf(k);
      if (at < 0) return { sigma, summary: { skipped: `${trainIdx[k]!.length} training observations (< ${GARCH_MIN_TRAIN})` } };
      const fit = fits[at]!;
      const idx = finite[k]!;
      const y = Float64Array.from(idx, (t) => 100 * s[t]!);
      const f = E.garchFilter(y, fit.params, { backcast: fit.backcast, dist });
      // conditionalVol[j] is σ for observation j from data up to j − 1; row idx[j] gets σ_{j+1|j}.
      for (let j = 0; j < idx.length; j++) {
        sigma[idx[j]!] = j + 1 < idx.length ? f.conditionalVol[j + 1]! : Math.sqrt(f.forecastVariance);
      }
      const p = fit.params as unknown as Record<string, number>;
      return {
        sigma,
        summary: {
          dist,
          params: Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)),
          stdErrors: Object.fromEntries(Object.entries(fit.stdErrRobust as unknown as Record<string, number>).filter(([, v]) => v !== undefined)),
          loglik: fit.loglik,
          converged: fit.convergence.converged,
          iterations: fit.convergence.iterations,
          nObs: fit.nobs,
        },
      };
    });
  },
};
