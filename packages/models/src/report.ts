// The model report (markdown): per split the model beside its baselines, per-class figures,
// confusion matrix, per-asset accuracy, the seeds' spread and, for LSTMs, the attention profile
// with its shuffled-time control.
import type { Metrics } from './evaluate.js';
import type { TrainedModel } from './train.js';
import type { Dataset } from './dataset.js';
import { describeDataset } from './dataset.js';

const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(1) : '–');

function row(name: string, m: Metrics): string {
  return `| ${name} | ${pct(m.accuracy)} | ${pct(m.balancedAccuracy)} | ${pct(m.macroF1)} |`;
}

function confusion(m: Metrics): string[] {
  const names = m.perClass.map((c) => c.name);
  return [
    `| true \\ predicted | ${names.join(' | ')} |`,
    `|---|${names.map(() => '---:').join('|')}|`,
    ...m.confusion.map((r, i) => `| ${names[i]} | ${r.join(' | ')} |`),
  ];
}

export function modelReport(t: TrainedModel, d: Dataset): string {
  const s = d.spec;
  const out: string[] = [];
  out.push(`# ${t.name}: ${s.task} regime, ${s.kind === 'lstm' ? 'LSTM + attention' : 'graph network (GraphSAGE-mean)'}${s.horizon ? `, forecast t+${s.horizon}` : ', nowcast'}`);
  out.push('');
  out.push(`Target: the \`${s.task}\` label ${s.horizon ? `${s.horizon} days after` : 'on'} the last input day. Classes: ${t.classNames.join(', ')}.`);
  out.push(`Inputs (${d.featureNames.length}${d.marketNames.length ? ` per node + ${d.marketNames.length} market` : ''}): ${d.featureNames.join(', ')}${d.marketNames.length ? `; market: ${d.marketNames.join(', ')}` : ''}. Scaler fitted on train rows only.`);
  out.push(`Samples: ${describeDataset(d)} (embargo ${s.embargo} days before each split start).`);
  if (d.selection) {
    const sel = d.selection;
    out.push('');
    out.push(`## Feature selection (train rows only, ${sel.rows} rows)`);
    out.push('');
    out.push('Candidates ranked by importance — here the univariate ANOVA F statistic across the classes, a stand-in for SPEC B3\'s LightGBM mean |SHAP| (no tree library in the project yet) — then, of each pair with |Spearman ρ| above the threshold, the less important is dropped.');
    out.push('');
    out.push('| candidate | ANOVA F | kept | dropped for (ρ) |');
    out.push('|---|---:|---|---|');
    for (const name of s.inputs) {
      const drop = sel.dropped.find((x) => x.name === name);
      out.push(`| ${name} | ${sel.importance[name]!.toFixed(1)} | ${drop ? 'no' : 'yes'} | ${drop ? `${drop.for} (${drop.rho.toFixed(3)})` : ''} |`);
    }
  }
  out.push('');
  out.push('## Seeds');
  out.push('');
  out.push('| seed | best epoch | epochs run | val macro-F1 | seconds |');
  out.push('|---:|---:|---:|---:|---:|');
  for (const r of t.seeds) out.push(`| ${r.seed}${r.seed === t.seed ? ' (kept)' : ''} | ${r.bestEpoch} | ${r.epochs}${r.stoppedEarly ? ' (early stop)' : ''} | ${pct(r.bestValMacroF1)} | ${r.seconds.toFixed(1)} |`);
  const f1s = t.seeds.map((r) => r.bestValMacroF1);
  const mean = f1s.reduce((a, b) => a + b, 0) / f1s.length;
  const sd = Math.sqrt(f1s.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, f1s.length - 1));
  out.push('');
  out.push(`Validation macro-F1 over seeds: ${pct(mean)} ± ${pct(sd)} (mean ± sd). The kept seed is chosen on validation; test is read once.`);
  for (const [split, e] of Object.entries(t.evaluation)) {
    out.push('');
    out.push(`## ${split} (${e.n} samples)`);
    out.push('');
    out.push('| predictor | accuracy | balanced accuracy | macro-F1 |');
    out.push('|---|---:|---:|---:|');
    out.push(row('**model**', e.model));
    out.push(row('majority class (train)', e.baselines.majority));
    out.push(row(s.horizon ? `persistence (label at t = label at t+${s.horizon})` : 'persistence (label at t−1)', e.baselines.persistence));
    if (e.baselines.threshold) out.push(row(`threshold on ${s.baseline_feature} (train cuts)`, e.baselines.threshold));
    out.push('');
    out.push(`Verdict: ${e.verdict.text}.`);
    out.push('');
    out.push('| class | precision | recall | F1 | support |');
    out.push('|---|---:|---:|---:|---:|');
    for (const c of e.model.perClass) out.push(`| ${c.name} | ${pct(c.precision)} | ${pct(c.recall)} | ${pct(c.f1)} | ${c.support} |`);
    out.push('');
    out.push(...confusion(e.model));
    if (e.perAsset) {
      out.push('');
      out.push(`Per-asset accuracy: ${Object.entries(e.perAsset).map(([a, v]) => `${a} ${pct(v.accuracy)} (${v.n})`).join(', ')}.`);
    }
  }
  if (t.attention) {
    const a = t.attention;
    out.push('');
    out.push(`## Attention profile (${a.split})`);
    out.push('');
    out.push('Mean attention weight by lag (0 = the last day). The control shuffles each window\'s days: a peak that stays at the same lag is positional (initial state, first step), not learned from content (SPEC B10.9).');
    out.push('');
    out.push('| lag | ' + a.byLag.map((_, l) => String(l)).join(' | ') + ' |');
    out.push('|---|' + a.byLag.map(() => '---:').join('|') + '|');
    out.push('| α | ' + a.byLag.map((v) => v.toFixed(3)).join(' | ') + ' |');
    out.push('| α, time shuffled | ' + a.shuffledByLag.map((v) => v.toFixed(3)).join(' | ') + ' |');
    out.push('');
    out.push(`Peak lag ${a.peakLag} (shuffled: ${a.shuffledPeakLag}). Macro-F1 with time shuffled: ${pct(a.shuffledMacroF1)}.`);
  }
  out.push('');
  return out.join('\n');
}
