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
  /**
   * Expanding refits at each later split start (SPEC B3): rows from `fromRow` on use parameters
   * fitted on [trainFrom, fromRow). Absent when the data ends inside the validation split.
   */
  refits?: Array<{ fromRow: number; nObs: number; params: Record<string, number>; converged: boolean }>;
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
   * GARCH(1,1) on 100·x, per asset, with expanding refits (SPEC B3). `fitEnds` are the row starts
   * of the validation, test and holdout splits: rows before fitEnds[1] use parameters fitted on
   * the asset's finite values in [trainFrom, fitEnds[0]) (train only); rows in [fitEnds[i],
   * fitEnds[i+1]) use parameters fitted on [trainFrom, fitEnds[i]). Each parameter set filters the
   * whole history (training backcast), and a row takes the value of its segment's run: the value
   * at t is σ_{t+1|t} = √(ω + α e_t² + β σ_t²), the one-step forecast made at t's close from data up
   * to t with parameters fitted on data before t's split — causal. Missing values are skipped.
   * Assets with fewer than GARCH_MIN_TRAIN training observations are left NaN.
   */
  async garchSigmaMany(xs: Series, trainFrom: number, fitEnds: number[], dist: 'normal' | 't'): Promise<Array<{ sigma: Float64Array; summary: GarchFitSummary | { skipped: string } }>> {
    const T = xs[0]?.length ?? 0;
    const ends = fitEnds.filter((e, i) => i === 0 || e < T);
    const finite = xs.map((s) => Array.from(s.keys()).filter((t) => Number.isFinite(s[t]!)));
    const fitIdx = (k: number, end: number) => finite[k]!.filter((t) => t >= trainFrom && t < end);
    const assets = xs.map((_, k) => k).filter((k) => fitIdx(k, ends[0]!).length >= GARCH_MIN_TRAIN);
    // One batch of fits for every (asset, segment), in parallel on the engine's pool.
    const jobs = assets.flatMap((k) => ends.map((end, seg) => ({ k, seg, idx: fitIdx(k, end) })));
    const fits = await E.garchFitMany(
      jobs.map((j) => Float64Array.from(j.idx, (t) => 100 * xs[j.k]![t]!)),
      { dist },
    );
    const clean = (o: object) => Object.fromEntries(Object.entries(o as Record<string, number>).filter(([, v]) => v !== undefined));
    return xs.map((s, k) => {
      const sigma = new Float64Array(s.length).fill(NaN);
      if (!assets.includes(k)) return { sigma, summary: { skipped: `${fitIdx(k, ends[0]!).length} training observations (< ${GARCH_MIN_TRAIN})` } };
      const idx = finite[k]!;
      const y = Float64Array.from(idx, (t) => 100 * s[t]!);
      const mine = jobs.map((j, n) => ({ ...j, fit: fits[n]! })).filter((j) => j.k === k);
      for (const { seg, fit } of mine) {
        const lo = seg === 0 ? 0 : ends[seg]!;
        const hi = seg + 1 < ends.length ? ends[seg + 1]! : Infinity;
        const f = E.garchFilter(y, fit.params, { backcast: fit.backcast, dist });
        // conditionalVol[j] is σ for observation j from data up to j − 1; row idx[j] gets σ_{j+1|j}.
        for (let j = 0; j < idx.length; j++) {
          const t = idx[j]!;
          if (t >= lo && t < hi) sigma[t] = j + 1 < idx.length ? f.conditionalVol[j + 1]! : Math.sqrt(f.forecastVariance);
        }
      }
      const train = mine[0]!.fit;
      const summary: GarchFitSummary = {
        dist,
        params: clean(train.params),
        stdErrors: clean(train.stdErrRobust),
        loglik: train.loglik,
        converged: train.convergence.converged,
        iterations: train.convergence.iterations,
        nObs: train.nobs,
      };
      if (mine.length > 1) summary.refits = mine.slice(1).map((j) => ({ fromRow: ends[j.seg]!, nObs: j.fit.nobs, params: clean(j.fit.params), converged: j.fit.convergence.converged }));
      return { sigma, summary };
    });
  },
};
