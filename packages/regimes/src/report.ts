// The markdown report of a labelling task: state means in readable units, the transition matrix,
// expected durations, class counts per split, and the persistence rate every classifier must beat.
import { intervalMs } from '@regime/data';
import type { FeatureTable } from '@regime/features';
import { SPLIT_NAMES, type Split } from '@regime/features';
import type { TaskLabels } from './hmm-task.js';
import { adjustedRandIndex, counts, expectedDurations, persistence } from './metrics.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const f = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : '–');

function table(header: string[], rows: Array<Array<string | number>>): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export interface TruthScore {
  split: string;
  ari: number;
  n: number;
}

/** ARI of the task's labels against the synthetic market's true regime per day, pooled over assets, per split. */
export function scoreAgainstTruth(obs: FeatureTable, l: TaskLabels, truth: Uint8Array, truthStart: number): TruthScore[] {
  const step = intervalMs(obs.interval);
  return (['warmup', 'train', 'validation', 'test', 'holdout', 'all'] as const).map((split) => {
    const a: number[] = [];
    const b: number[] = [];
    l.labels.forEach((lab) => {
      for (let i = 0; i < obs.length; i++) {
        if (split !== 'all' && l.splitOfRow(i) !== split) continue;
        const day = Math.round((obs.start + i * step - truthStart) / 86_400_000);
        if (lab[i]! < 0 || day < 0 || day >= truth.length) continue;
        a.push(lab[i]!);
        b.push(truth[day]!);
      }
    });
    return { split, ari: a.length ? adjustedRandIndex(a, b) : NaN, n: a.length };
  });
}

export function taskReport(obs: FeatureTable, l: TaskLabels, extra: { dataHash: string; truth?: TruthScore[] }): string {
  const K = l.names.length;
  const step = intervalMs(obs.interval);
  const day = (i: number) => new Date(obs.start + i * step).toISOString().slice(0, 10);
  const lines: string[] = [`# ${l.task} regime labels`, ''];
  lines.push(`Data: ${obs.symbols.length} assets, ${day(0)} .. ${day(obs.length - 1)}, bars SHA-256 ${extra.dataHash.slice(0, 16)}…`);
  if (l.model) {
    const m = l.model;
    lines.push(
      `Model: Gaussian HMM, K = ${K}, full covariance, GMM-initialised, fitted on ${m.observations} training asset-days (${m.sequences} sequences, one per asset run) in ${m.trainWindow}; ` +
        `${m.fit.nIter} EM iterations, ${m.fit.converged ? 'converged' : 'not converged'} (${m.fit.reason}), log-likelihood ${f(m.fit.finalScore, 2)}.`,
    );
    lines.push('Labels are Viterbi paths decoded within each split with the frozen model (targets only); signals are forward-filtered probabilities.', '');
    const D = m.hmm.nFeatures;
    lines.push('## State means', '');
    const readable = (j: number, v: number) => (m.columns[j]!.startsWith('ln_') ? `${m.columns[j]!.slice(3)} ${pct(Math.exp(v))}` : `${m.columns[j]} ${f(v)}`);
    lines.push(table(['state', ...m.columns.map((c) => `${c} (mean)`), 'readable'], l.names.map((n, i) => [n, ...Array.from({ length: D }, (_, j) => f(m.hmm.means[i * D + j]!)), Array.from({ length: D }, (_, j) => readable(j, m.hmm.means[i * D + j]!)).join(', ')])));
    lines.push('', '## Transition matrix (rows: from, columns: to)', '');
    lines.push(table(['from \\ to', ...l.names], l.names.map((n, i) => [n, ...l.names.map((_, j) => f(m.hmm.transmat[i * K + j]!))])));
    lines.push('', '## Expected durations (days)', '');
    lines.push(table(['state', 'expected duration'], expectedDurations(m.hmm.transmat, K).map((d, i) => [l.names[i]!, f(d, 1)])));
  }
  if (l.thresholds) {
    lines.push(`Rule: avg_pairwise_corr tertiles over ${l.thresholds.trainDays} training days, frozen: divergent < ${f(l.thresholds.q33)} ≤ normal ≤ ${f(l.thresholds.q67)} < convergent.`, '');
  }
  lines.push('', '## Class counts per split (asset-days)', '');
  const bySplit = (s: Split | 'warmup') => {
    const c = new Array<number>(K).fill(0);
    const pers = { same: 0, pairs: 0 };
    l.labels.forEach((lab) => {
      const sub: number[] = [];
      for (let i = 0; i < obs.length; i++) if (l.splitOfRow(i) === s) sub.push(lab[i]!);
      counts(sub, K).forEach((v, j) => (c[j]! += v));
      const p = persistence(sub);
      pers.pairs += p.pairs;
      pers.same += p.pairs ? p.rate * p.pairs : 0;
    });
    return { c, persistence: pers.pairs ? pers.same / pers.pairs : NaN, pairs: pers.pairs };
  };
  const rows = (['warmup', ...SPLIT_NAMES] as Array<Split | 'warmup'>).map((s) => ({ s, ...bySplit(s) })).filter((r) => r.s !== 'warmup' || r.c.some((x) => x > 0));
  lines.push(table(['split', ...l.names, 'total', 'persistence (label = yesterday\'s)'], rows.map((r) => [r.s, ...r.c, r.c.reduce((a, b) => a + b, 0), r.pairs ? pct(r.persistence) : '–'])));
  lines.push('', 'Warm-up days precede the train split: features look back into them, nothing is fitted on them.', 'Persistence is the accuracy of predicting today\'s label with yesterday\'s: the baseline every classifier of this task must beat.');
  const absent = rows.filter((r) => r.c.reduce((a, b) => a + b, 0) > 0).flatMap((r) => l.names.filter((_, j) => r.c[j] === 0).map((n) => `${n} absent from ${r.s}`));
  if (absent.length) lines.push('', `Classes absent from a split: ${absent.join('; ')}.`);
  if (extra.truth) {
    lines.push('', '## Recovered vs true regimes (synthetic market)', '');
    lines.push(table(['split', 'adjusted Rand index', 'asset-days'], extra.truth.map((t) => [t.split, f(t.ari, 3), t.n])));
  }
  if (l.notes.length) lines.push('', '## Notes', '', ...l.notes.map((n) => `- ${n}`));
  return lines.join('\n') + '\n';
}
