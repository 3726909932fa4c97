import { ingest, hashInputs, recordStep, stepIsFresh, writeBars, UserError, type Interval, type IngestReport } from '@regime/data';
import type { Context } from '../context.js';

export interface IngestArgs {
  paths: string[];
  intervals?: Interval[];
  repair?: boolean;
  minCoverage?: number;
  symbol?: string;
  interval?: Interval;
  /** Skip when the inputs and settings match the last ingest (used by `run`). */
  skipIfFresh?: boolean;
}

export interface IngestSummary {
  skipped: boolean;
  outputs: string[];
  intervals: Record<string, { assets: number; rowsPerAsset: number; start: string }>;
  repairs: string[];
  mismatches: Array<{ symbol: string; interval: string; mismatched: number; compared: number; first: string[] }>;
}

export async function runIngest(ctx: Context, a: IngestArgs): Promise<IngestSummary> {
  if (a.paths.length === 0) throw new UserError('ingest needs at least one file or folder of klines');
  const settings = {
    intervals: a.intervals ?? (ctx.config.data.intervals as Interval[]),
    repair: a.repair ?? ctx.config.data.repair,
    minCoverage: a.minCoverage ?? ctx.config.data.minCoverage,
    symbol: a.symbol,
    interval: a.interval,
  };
  const hash = await hashInputs(a.paths, settings);
  if (a.skipIfFresh && stepIsFresh(ctx.workdir, 'ingest', hash)) {
    ctx.ui.say('ingest: inputs unchanged, skipped');
    return { skipped: true, outputs: [], intervals: {}, repairs: [], mismatches: [] };
  }
  let bar: ReturnType<typeof ctx.ui.progress> | undefined;
  const r = await ingest(a.paths, {
    ...settings,
    onProgress: (done, total, label) => {
      bar ??= ctx.ui.progress('reading', total);
      bar.update(done, label);
    },
  });
  bar?.stop();
  const outputs = writeBars(ctx.workdir, r.sets, r.report);
  recordStep(ctx.workdir, 'ingest', { inputHash: hash, config: settings, outputs });
  return summarize(r.sets, r.report, outputs);
}

function summarize(sets: Map<Interval, import('@regime/data').BarSet>, report: IngestReport, outputs: string[]): IngestSummary {
  const intervals: IngestSummary['intervals'] = {};
  for (const [iv, s] of sets) intervals[iv] = { assets: s.assets.length, rowsPerAsset: s.length, start: new Date(s.start).toISOString() };
  const mismatches: IngestSummary['mismatches'] = [];
  for (const [symbol, byIv] of Object.entries(report.symbols)) {
    for (const [iv, b] of Object.entries(byIv)) {
      if (b?.merge && b.merge.mismatched > 0) {
        mismatches.push({
          symbol,
          interval: iv,
          mismatched: b.merge.mismatched,
          compared: b.merge.compared,
          first: b.merge.firstMismatches.map((t) => new Date(t).toISOString()),
        });
      }
    }
  }
  return { skipped: false, outputs, intervals, repairs: report.repairs, mismatches };
}

export function formatIngest(s: IngestSummary): string {
  if (s.skipped) return 'ingest: inputs unchanged, nothing to do';
  const lines = Object.entries(s.intervals).map(([iv, x]) => `  ${iv.padEnd(4)} ${x.assets} assets × ${x.rowsPerAsset} bars from ${x.start}`);
  const out = ['ingested:', ...lines];
  for (const r of s.repairs) out.push(`repaired: ${r}`);
  for (const m of s.mismatches) {
    out.push(
      `note: ${m.symbol} ${m.interval}: ${m.mismatched} of ${m.compared} native bars differ from the aggregate of finer bars (first: ${m.first.slice(0, 3).join(', ')}); the native bars are kept`,
    );
  }
  out.push(`written: ${s.outputs.join(', ')}`);
  return out.join('\n');
}
