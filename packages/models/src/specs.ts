// Model specs: the YAML files in the repository's `models/` folder (sizes, inputs, windows,
// optimizer, seeds), validated. A spec names everything training needs; nothing is implicit.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import { UserError } from '@regime/data';

const name = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes');
const feature = z.string().min(1);

const Training = z
  .object({
    lr: z.number().positive().default(1e-3),
    weight_decay: z.number().min(0).default(1e-5),
    batch_size: z.number().int().min(1).max(65_536).default(64),
    max_epochs: z.number().int().min(1).max(10_000).default(100),
    patience: z.number().int().min(1).default(10),
    clip_norm: z.number().positive().default(1),
    seeds: z.array(z.number().int().min(0)).min(1).default([0, 1, 2]),
  })
  .strict();

const Common = {
  name,
  /** The labelling task whose labels are the targets (vol, trend, cross). */
  task: z.string().min(1),
  /** Days ahead of the input's last day whose label is the target: 0 nowcast, 7 the SPEC's forecast head. */
  horizon: z.number().int().min(0).max(365).default(0),
  inputs: z.array(feature).min(1),
  /** Inputs scaled as ln(x) (they must be positive). */
  log_inputs: z.array(feature).default([]),
  /** Rows before each split start whose samples are dropped (SPEC B2: 30 days). */
  embargo: z.number().int().min(0).default(30),
  /** Input whose train quantiles, cut at the train class shares, give the threshold baseline. */
  baseline_feature: feature.optional(),
};

export const LstmSpecSchema = z
  .object({
    ...Common,
    kind: z.literal('lstm'),
    window: z.number().int().min(1).max(1_000).default(30),
    /** SPEC B3 selection on train rows: inputs become candidates; of each pair with |Spearman ρ| above the threshold the less important is dropped. */
    selection: z.object({ max_abs_spearman: z.number().gt(0).lt(1).default(0.85) }).strict().optional(),
    network: z
      .object({ hidden1: z.number().int().min(1).max(4096).default(64), hidden2: z.number().int().min(1).max(4096).default(32), dropout: z.number().min(0).lt(1).default(0.3) })
      .strict(),
    training: Training,
  })
  .strict();

export const GraphSpecSchema = z
  .object({
    ...Common,
    kind: z.literal('graph'),
    market_inputs: z.array(feature).default([]),
    /** Days of log returns behind each edge weight max(0, ρ_ij). */
    edge_window: z.number().int().min(3).max(1_000).default(30),
    network: z
      .object({ hidden: z.number().int().min(1).max(4096).default(64), readout: z.number().int().min(1).max(4096).default(64), dropout: z.number().min(0).lt(1).default(0.3) })
      .strict(),
    training: Training.extend({ batch_size: z.number().int().min(1).max(65_536).default(32) }),
  })
  .strict();

export const ModelSpecSchema = z.discriminatedUnion('kind', [LstmSpecSchema, GraphSpecSchema]).superRefine((s, ctx) => {
  for (const f of s.log_inputs) if (!s.inputs.includes(f)) ctx.addIssue({ code: 'custom', path: ['log_inputs'], message: `'${f}' is not one of the inputs` });
  if (new Set(s.inputs).size !== s.inputs.length) ctx.addIssue({ code: 'custom', path: ['inputs'], message: 'duplicate input' });
  if (s.baseline_feature && !s.inputs.includes(s.baseline_feature) && !(s.kind === 'graph' && s.market_inputs.includes(s.baseline_feature))) {
    ctx.addIssue({ code: 'custom', path: ['baseline_feature'], message: `'${s.baseline_feature}' is not an input` });
  }
});

export type ModelSpec = z.infer<typeof ModelSpecSchema>;
export type LstmModelSpec = z.infer<typeof LstmSpecSchema>;
export type GraphModelSpec = z.infer<typeof GraphSpecSchema>;

/** The repository's `models/` folder (next to `packages/`), where the default specs live. */
export function defaultSpecDir(): string {
  return resolve(fileURLToPath(new URL('../../../models', import.meta.url)));
}

/** Parse one spec; errors name the file and each bad key. */
export function parseSpec(text: string, file: string): ModelSpec {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new UserError(`${file}: not valid YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  const r = ModelSpecSchema.safeParse(doc);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new UserError(`${file}: invalid model spec\n${lines.join('\n')}`);
  }
  if (`${r.data.name}.yaml` !== basename(file) && `${r.data.name}.yml` !== basename(file)) {
    throw new UserError(`${file}: spec name '${r.data.name}' must match the file name`);
  }
  return r.data;
}

/** All specs of a folder, sorted by name; `only` picks some by name (unknown names are an error). */
export function loadSpecs(dir: string = defaultSpecDir(), only?: string[]): ModelSpec[] {
  if (!existsSync(dir)) throw new UserError(`${dir}: no model spec folder`);
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  const specs = files.map((f) => parseSpec(readFileSync(join(dir, f), 'utf8'), join(dir, f))).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (!only) return specs;
  const known = new Set(specs.map((s) => s.name));
  const unknown = only.filter((n) => !known.has(n));
  if (unknown.length) throw new UserError(`unknown model${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
  return specs.filter((s) => only.includes(s.name));
}
