// Feature definitions are data: a name, a group, a kernel, its inputs and parameters, and the
// formula in words. A user adds a feature in the config without touching Rust; `regime features
// --list` prints them. Inputs are bar columns or earlier features, so a set is a small DAG
// evaluated in order.
import { z } from 'zod';

/** Bar columns a definition can read. `quote_volume_proxy` is the quote volume where the source has
 * it, else volume × close (the normalized files leave quote volume empty). */
export const BAR_INPUTS = ['open', 'high', 'low', 'close', 'volume', 'quote_volume', 'quote_volume_proxy', 'rv', 'rv_5m', 'trades'] as const;

export const KERNELS = [
  'logret', // ln(x_t / x_{t−1})
  'log_change', // ln x_t − ln x_{t−n}
  'roc', // x_t / x_{t−n} − 1
  'rolling', // rolling stat over a window (mean, sum, var, std, skew, kurt, min, max, zscore)
  'ewm', // exponentially weighted mean or std (adjust=False)
  'map', // elementwise transform of one input: log, sqrt, abs, square, then × scale
  'ratio', // a / b (log: ln(a / b))
  'diff', // a − b
  'sma_log_ratio', // ln(SMA_short(x) / SMA_long(x))
  'adx', // ADX(n) with Wilder smoothing from high, low, close, × scale
  'parkinson', // √(mean_w(ln(H/L)²) / (4 ln 2))
  'garch_sigma', // one-step GARCH(1,1) σ of 100·input, fitted on train, expanding refits at later split starts
  'relative', // x_i − x_ref, ref = the anchor asset (for the anchor: the equal-weight mean of the others) or the market mean
  'corr_ref', // rolling correlation of x_i with the reference series
  'beta_ref', // rolling β of x_i on the reference series
  'avg_pairwise_corr', // market: mean off-diagonal rolling correlation (pairs with full windows)
  'corr_stability', // market: correlation of the correlation matrices' upper triangles at t and t − lag
  'mean_corr', // per asset: mean rolling correlation to the other assets
  'dispersion', // market: cross-sectional std (ddof 1) of the input (optionally log-transformed)
  'rel_to_median', // per asset: ln(x_i / cross-sectional median of x)
  'anchor_share', // market: the anchor's share of the input summed over assets, then a rolling mean
] as const;

export type Kernel = (typeof KERNELS)[number];
export const ROLLING_STATS = ['mean', 'sum', 'var', 'std', 'skew', 'kurt', 'min', 'max', 'zscore'] as const;
export type RollingStat = (typeof ROLLING_STATS)[number];

export const FeatureDefSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'letters, digits and _ (starting with a letter)'),
    group: z.string().min(1),
    kernel: z.enum(KERNELS),
    /** The input: a bar column or an earlier feature. */
    input: z.string().optional(),
    /** Second input for ratio/diff. */
    other: z.string().optional(),
    stat: z.enum(ROLLING_STATS).optional(),
    window: z.number().int().min(1).max(100_000).optional(),
    /** Lag / horizon n for log_change, roc, adx, corr_stability. */
    n: z.number().int().min(1).max(100_000).optional(),
    short: z.number().int().min(1).optional(),
    long: z.number().int().min(1).optional(),
    ddof: z.number().int().min(0).max(1).optional(),
    alpha: z.number().gt(0).max(1).optional(),
    transform: z.enum(['log', 'sqrt', 'abs', 'square']).optional(),
    /** Multiplies the result (e.g. √365 to annualise a daily std). */
    scale: z.number().optional(),
    log: z.boolean().optional(),
    reference: z.enum(['anchor', 'market']).optional(),
    dist: z.enum(['normal', 't']).optional(),
    /** Intermediate features used by others but not stored. */
    output: z.boolean().optional(),
    /** The formula in words, printed by `regime features --list`. */
    formula: z.string().min(1),
  })
  .strict();

export type FeatureDef = z.infer<typeof FeatureDefSchema>;

/** Scope of a kernel's output: one value per asset, or one per time shared by every asset. */
export function scopeOf(k: Kernel): 'asset' | 'market' {
  return k === 'avg_pairwise_corr' || k === 'corr_stability' || k === 'dispersion' || k === 'anchor_share' ? 'market' : 'asset';
}

const REQUIRED: Partial<Record<Kernel, Array<keyof FeatureDef>>> = {
  logret: ['input'],
  log_change: ['input', 'n'],
  roc: ['input', 'n'],
  rolling: ['input', 'stat', 'window'],
  ewm: ['input', 'stat', 'alpha'],
  map: ['input', 'transform'],
  ratio: ['input', 'other'],
  diff: ['input', 'other'],
  sma_log_ratio: ['input', 'short', 'long'],
  adx: ['n'],
  parkinson: ['window'],
  garch_sigma: ['input'],
  relative: ['input', 'reference'],
  corr_ref: ['input', 'window', 'reference'],
  beta_ref: ['input', 'window', 'reference'],
  avg_pairwise_corr: ['input', 'window'],
  corr_stability: ['input', 'window', 'n'],
  mean_corr: ['input', 'window'],
  dispersion: ['input'],
  rel_to_median: ['input'],
  anchor_share: ['input', 'window'],
};

/** Check a set: parameters each kernel needs, unique names, inputs defined before use. */
export function validateDefs(defs: FeatureDef[], where = 'features'): string[] {
  const errors: string[] = [];
  const known = new Set<string>(BAR_INPUTS);
  defs.forEach((d, i) => {
    const at = `${where}[${i}] (${d.name})`;
    for (const key of REQUIRED[d.kernel] ?? []) if (d[key] === undefined) errors.push(`${at}: kernel '${d.kernel}' needs '${key}'`);
    for (const inp of [d.input, d.other]) if (inp !== undefined && !known.has(inp)) errors.push(`${at}: unknown input '${inp}' (a bar column or an earlier feature)`);
    if (d.kernel === 'sma_log_ratio' && d.short !== undefined && d.long !== undefined && d.short >= d.long) errors.push(`${at}: short must be < long`);
    if (known.has(d.name)) errors.push(`${at}: name '${d.name}' is already defined`);
    known.add(d.name);
  });
  return errors;
}
