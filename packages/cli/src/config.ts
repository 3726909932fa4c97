// The one YAML config, validated by a schema with defaults for everything. The CLI's flags
// override it; `--print-config` shows the effective result.
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { UserError, isInterval } from '@regime/data';
import { FeatureDefSchema } from '@regime/features';

const interval = z.string().refine(isInterval, { message: 'not a Binance interval (1m, 5m, 1h, 4h, 1d, …)' });
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD');

export const ConfigSchema = z
  .object({
    /** Seed for every step with randomness; a fixed default so runs reproduce. */
    seed: z.number().int().min(0).default(42),
    /** Kernel threads; default all cores (or REGIME_THREADS). */
    threads: z.number().int().min(1).max(1024).optional(),
    data: z
      .object({
        /** Files or folders of klines for `run`; empty means the synthetic market. */
        sources: z.array(z.string()).default([]),
        intervals: z.array(interval).min(1).default(['1m', '1h', '1d']),
        /** Share of sub-bars a bar needs to be valid (SPEC B2: 1368/1440 minutes). */
        minCoverage: z.number().min(0).max(1).default(0.95),
        /** Sort unsorted input and drop duplicates instead of failing (reported). */
        repair: z.boolean().default(false),
      })
      .strict()
      .default({ sources: [], intervals: ['1m', '1h', '1d'], minCoverage: 0.95, repair: false }),
    synthetic: z
      .object({
        assets: z.number().int().min(1).max(64).default(13),
        days: z.number().int().min(1).max(20_000).default(1919),
        baseInterval: interval.default('1h'),
        start: isoDate.default('2019-10-01'),
        regimes: z
          .array(z.object({ driftAnnual: z.number(), volAnnual: z.number().positive(), corr: z.number().min(0).lt(1) }).strict())
          .optional(),
        transition: z.array(z.array(z.number().min(0).max(1))).optional(),
        dof: z.number().gt(2).optional(),
        /** Expected exchange maintenance windows per year (bars missing for every asset). */
        maintenancePerYear: z.number().min(0).max(365).optional(),
      })
      .strict()
      .default({ assets: 13, days: 1919, baseInterval: '1h', start: '2019-10-01' }),
    /** Date splits (inclusive last days); the holdout runs from the day after testEnd. */
    splits: z
      .object({
        /** First training day; earlier days are warm-up (SPEC B2: train 2020-01-01..2022-12-31). */
        trainStart: isoDate.default('2020-01-01'),
        trainEnd: isoDate.default('2022-12-31'),
        validationEnd: isoDate.default('2023-12-31'),
        testEnd: isoDate.default('2024-12-31'),
      })
      .strict()
      .refine((s) => s.trainStart <= s.trainEnd && s.trainEnd < s.validationEnd && s.validationEnd < s.testEnd, {
        message: 'splits must satisfy trainStart ≤ trainEnd < validationEnd < testEnd',
      })
      .default({ trainStart: '2020-01-01', trainEnd: '2022-12-31', validationEnd: '2023-12-31', testEnd: '2024-12-31' }),
    features: z
      .object({
        /** Sets `run` and `features` compute (daily: SPEC B3 on 1d bars; hourly: SPEC A10 on 1h bars). */
        sets: z.array(z.enum(['daily', 'hourly'])).min(1).default(['daily', 'hourly']),
        /** Reference asset of the "vs BTC" features; default BTCUSDT when present, else the first symbol. */
        anchor: z.string().optional(),
        /** Extra definitions appended to a set, e.g. daily: [{name: rv_10d, group: vol, kernel: rolling, input: logret, stat: std, window: 10, formula: ...}]. */
        custom: z.object({ daily: z.array(FeatureDefSchema).optional(), hourly: z.array(FeatureDefSchema).optional() }).strict().default({}),
      })
      .strict()
      .default({ sets: ['daily', 'hourly'], custom: {} }),
    train: z
      .object({
        /** Folder of model specs (YAML); default the repository's models/. */
        specs: z.string().optional(),
        /** Specs to train by name; default all in the folder. */
        models: z.array(z.string()).optional(),
        /** Override every spec's seeds (e.g. [0] for a quick run). */
        seeds: z.array(z.number().int().min(0)).min(1).optional(),
        /** Override every spec's epoch limit. */
        maxEpochs: z.number().int().min(1).max(10_000).optional(),
        /** ONNX Runtime device for inference; cuda needs onnxruntime-node's CUDA binaries. */
        device: z.enum(['cpu', 'cuda']).default('cpu'),
      })
      .strict()
      .default({ device: 'cpu' }),
    fetch: z
      .object({
        baseUrl: z.string().url().default('https://data.binance.vision'),
        symbols: z.array(z.string().regex(/^[A-Z0-9]{2,20}$/)).default(['BTCUSDT', 'ETHUSDT', 'BNBUSDT']),
        interval: interval.default('1h'),
        from: isoDate.default('2020-01-01'),
        to: isoDate.default('2024-12-31'),
        retries: z.number().int().min(0).max(20).default(4),
      })
      .strict()
      .default({ baseUrl: 'https://data.binance.vision', symbols: ['BTCUSDT', 'ETHUSDT', 'BNBUSDT'], interval: '1h', from: '2020-01-01', to: '2024-12-31', retries: 4 }),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;

export function defaultConfig(): Config {
  return ConfigSchema.parse({});
}

/** Load and validate a YAML config; errors name the file and the path of each bad key. */
export function loadConfig(path?: string): Config {
  if (!path) return defaultConfig();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UserError(`${path}: cannot read config file`);
  }
  let doc: unknown;
  try {
    doc = parse(text) ?? {};
  } catch (e) {
    throw new UserError(`${path}: not valid YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  const r = ConfigSchema.safeParse(doc);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new UserError(`${path}: invalid config\n${lines.join('\n')}`);
  }
  return r.data;
}

export function configToYaml(c: Config): string {
  return stringify(c);
}
