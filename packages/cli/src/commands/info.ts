import { describeSet, loadBars, storedIntervals, UserError, type Interval, type SetInfo } from '@regime/data';
import type { Context } from '../context.js';
import { table } from '../ui.js';

export function runInfo(ctx: Context, interval?: Interval): SetInfo[] {
  const intervals = interval ? [interval] : storedIntervals(ctx.workdir);
  if (intervals.length === 0) throw new UserError(`no bars in ${ctx.workdir}: run \`regime ingest <files>\`, \`regime synth\` or \`regime run\` first`);
  return intervals.map((iv) => describeSet(loadBars(ctx.workdir, iv)));
}

export function formatInfo(sets: SetInfo[]): string {
  return sets
    .map((s) =>
      [
        `${s.interval}: ${s.assets.length} assets, grid ${s.start} .. ${s.end} (${s.rowsPerAsset} bars each; valid needs ≥ ${s.minCoverage * 100}% coverage)`,
        table(
          ['symbol', 'first', 'last', 'present', 'missing', 'gaps', 'longest', 'zero-vol', 'low-cov', 'valid'],
          s.assets.map((a) => [a.symbol, a.first ?? '-', a.last ?? '-', a.present, a.missing, a.gaps, a.longestGap, a.zeroVolume, a.lowCoverage, a.valid]),
        ),
      ].join('\n'),
    )
    .join('\n\n');
}
