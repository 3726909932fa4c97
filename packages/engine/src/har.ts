// HAR-RV (Corsi 2009) on a daily realized-variance series with the crypto windows 1/7/30 days,
// by OLS with classical and HAC (Bartlett) standard errors, in statsmodels' conventions; and a
// causal forecast that applies fitted coefficients to new data.
// Design, forms and measured accuracy: docs/volatility-models.md.
import { raw, type Raw } from './raw.js';
import { callSync } from './errors.js';
import { describe, invalid, nonNegativeInt } from './validate.js';

/**
 * 'level': x = RV. 'log': x = ln RV, window means of logs. 'logOfMeans' (Corsi's log-HAR):
 * y = ln RV_{t+1}, regressors the logs of the level window means.
 */
export type HarForm = 'level' | 'log' | 'logOfMeans';

export interface HarCoefficients {
  const: number;
  daily: number;
  weekly: number;
  monthly: number;
}

export interface HarWindows {
  /** Weekly window in days (default 7). */
  week?: number;
  /** Monthly window in days (default 30). */
  month?: number;
}

export interface HarFitOptions extends HarWindows {
  /** Default 'level'. */
  form?: HarForm;
  /** Lags of the Bartlett HAC covariance (default 5). */
  hacLags?: number;
}

export interface HarFit {
  form: HarForm;
  week: number;
  month: number;
  params: HarCoefficients;
  /** Classical standard errors, σ̂² = SSR/(n − 4). */
  bse: HarCoefficients;
  tvalues: HarCoefficients;
  hacLags: number;
  /** HAC standard errors (Bartlett kernel, no small-sample correction). */
  bseHac: HarCoefficients;
  tvaluesHac: HarCoefficients;
  rsquared: number;
  rsquaredAdj: number;
  ssr: number;
  /** Gaussian log-likelihood. */
  llf: number;
  nobs: number;
  dfResid: number;
  /** Fitted values and residuals of the regression rows; row r predicts day firstTarget + r. */
  fitted: Float64Array;
  resid: Float64Array;
  firstTarget: number;
}

/** What harForecast needs: a HarFit, or coefficients with their form (and windows). */
export interface HarModel extends HarWindows {
  form: HarForm;
  params: HarCoefficients;
}

export interface HarForecast {
  /**
   * forecast[t] predicts day t from days ≤ t−1 (NaN before the monthly window is full and where a
   * window holds a missing day). RV for 'level', ln RV for the log forms.
   */
  forecast: Float64Array;
  /** Prediction for the day after the series. */
  next: number;
}

const KEYS = ['const', 'daily', 'weekly', 'monthly'] as const;

function formArg(v: unknown): HarForm {
  if (v !== 'level' && v !== 'log' && v !== 'logOfMeans') throw invalid('form', "'level', 'log' or 'logOfMeans'", v);
  return v;
}

function windowsArg(o: HarWindows): Raw.JsHarSpec & { week: number; month: number } {
  const w = (name: string, v: unknown, d: number): number => {
    if (v === undefined) return d;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 2) throw invalid(name, 'integer >= 2', v);
    return v;
  };
  const week = w('week', o.week, 7);
  const month = w('month', o.month, 30);
  if (month <= week) throw invalid('month', `integer greater than week (${week})`, month);
  return { form: 'level', week, month };
}

/** RV values: finite (NaN allowed when `allowNaN`: a missing day), ≥ 0, and > 0 for log forms. */
function rvArg(v: unknown, form: HarForm, allowNaN: boolean): Float64Array {
  let a: Float64Array;
  if (v instanceof Float64Array) a = v;
  else if (Array.isArray(v) && v.every((x) => typeof x === 'number')) a = Float64Array.from(v as number[]);
  else throw invalid('rv', 'Float64Array or array of numbers', v);
  const log = form !== 'level';
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    if (Number.isNaN(x) && allowNaN) continue;
    if (!Number.isFinite(x)) throw new TypeError(`Expected finite values for rv but received ${describe(x)} at index ${i}`);
    if (x < 0 || (log && x === 0)) {
      const what = log ? 'positive values for rv (log form)' : 'non-negative values for rv';
      throw new TypeError(`Expected ${what} but received ${x} at index ${i}`);
    }
  }
  return a;
}

const coefs = (v: number[]): HarCoefficients => ({ const: v[0]!, daily: v[1]!, weekly: v[2]!, monthly: v[3]! });

/**
 * OLS HAR-RV on a daily RV series: rows t = month−1 .. D−2, y = x_{t+1},
 * X = [1, x_t, mean(x_{t−week+1..t}), mean(x_{t−month+1..t})]. Needs finite RV (≥ 0; > 0 for the
 * log forms) and at least month + 5 days.
 */
export function harFit(rv: Float64Array | readonly number[], options: HarFitOptions = {}): HarFit {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  const form = formArg(options.form ?? 'level');
  const spec = { ...windowsArg(options), form };
  const hacLags = nonNegativeInt('hacLags', options.hacLags ?? 5);
  const x = rvArg(rv, form, false);
  if (x.length < spec.month + 5) throw invalid('rv.length', `at least ${spec.month + 5} days (month window + 5 rows)`, x.length);
  const f = callSync(() => raw.harFitSync(x, spec, hacLags));
  return {
    form: f.form as HarForm,
    week: f.week,
    month: f.month,
    params: coefs(f.params),
    bse: coefs(f.bse),
    tvalues: coefs(f.tvalues),
    hacLags: f.hacLags,
    bseHac: coefs(f.bseHac),
    tvaluesHac: coefs(f.tvaluesHac),
    rsquared: f.rsquared,
    rsquaredAdj: f.rsquaredAdj,
    ssr: f.ssr,
    llf: f.llf,
    nobs: f.nobs,
    dfResid: f.dfResid,
    fitted: f.fitted,
    resid: f.resid,
    firstTarget: f.firstTarget,
  };
}

/**
 * Apply HAR coefficients (e.g. fitted on a training period) to an RV series causally:
 * forecast[t] uses days ≤ t−1 only. NaN in rv marks a missing day.
 */
export function harForecast(rv: Float64Array | readonly number[], model: HarModel): HarForecast {
  if (typeof model !== 'object' || model === null) throw invalid('model', 'an object { form, params }', model);
  const form = formArg(model.form);
  const spec = { ...windowsArg(model), form };
  const p = model.params;
  if (typeof p !== 'object' || p === null) throw invalid('model.params', 'an object { const, daily, weekly, monthly }', p);
  const params = KEYS.map((k) => {
    const v = p[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`model.params.${k}`, 'finite number', v);
    return v;
  });
  const x = rvArg(rv, form, true);
  return callSync(() => raw.harForecastSync(x, params, spec));
}
