// The `regime` command as users run it: a child process on the built CLI.
import { describe, expect, it } from 'vitest';
import { regime, tmp } from './run-cli.js';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const small = (dir: string) => {
  const p = join(dir, 'regime.yaml');
  writeFileSync(p, "seed: 7\nsynthetic:\n  assets: 4\n  days: 60\n  start: '2020-01-01'\n");
  return p;
};

describe('regime CLI', () => {
  it('prints help and version with exit 0; a usage error exits 1', () => {
    const h = regime(['--help']);
    expect(h.code).toBe(0);
    expect(h.out).toContain('Usage: regime');
    for (const verb of ['run', 'fetch', 'ingest', 'synth', 'features', 'label', 'train', 'infer', 'info', 'export']) expect(h.out).toContain(verb);
    expect(regime(['--version']).out.trim()).toMatch(/^regime \d+\.\d+\.\d+$/);
    const bad = regime(['frobnicate']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("unknown command 'frobnicate'");
  });

  it('run on the synthetic default: writes bars and regimes, then skips unchanged steps', () => {
    const dir = tmp();
    const cfg = small(dir);
    const a = regime(['-c', cfg, 'run'], dir);
    expect(a.code, a.err).toBe(0);
    expect(a.out).toContain('synthetic market: 4 assets (SYN00…SYN03), 60 days, seed 7');
    expect(existsSync(join(dir, '.regime/bars/1h.arrow'))).toBe(true);
    expect(existsSync(join(dir, '.regime/bars/1d.arrow'))).toBe(true);
    expect(existsSync(join(dir, '.regime/synth/regimes.arrow'))).toBe(true);
    const b = regime(['-c', cfg, 'run', '--json'], dir);
    expect(b.code).toBe(0);
    const j = JSON.parse(b.out);
    expect(j.steps[0]).toMatchObject({ step: 'bars', skipped: true });
    expect(j.info[1].assets[0]).toMatchObject({ symbol: 'SYN00', present: 60, missing: 0 });
    // A different seed is a different input: the step runs again.
    const c = regime(['-c', cfg, 'run', '--seed', '8', '--json'], dir);
    expect(JSON.parse(c.out).steps[0].skipped).toBe(false);
  });

  it('a bad kline row is a user error: exit 1, the file, line, column and value, no stack trace', () => {
    const dir = tmp();
    const f = join(dir, 'BTCUSDT-1h-2024-01.csv');
    writeFileSync(f, '1704067200000,100,101,99,100.5,1,1704070799999,,,,\n1704070800000,100,101,99,abc,1,1704074399999,,,,\n');
    const r = regime(['ingest', f], dir);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`error: ${f}:2: column 'close': not a number (value 'abc')\n`);
  });

  it('duplicates need --repair, and the repair is reported', () => {
    const dir = tmp();
    const f = join(dir, 'BTCUSDT-1h-2024-01.csv');
    const row = (t: number) => `${t},100,101,99,100.5,1,${t + 3_599_999},,,,`;
    writeFileSync(f, [row(1704067200000), row(1704070800000), row(1704070800000), row(1704074400000)].join('\n'));
    const r = regime(['ingest', f], dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${f}:3: duplicate open_time 1704070800000`);
    const ok = regime(['ingest', '--repair', f], dir);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain('repaired: BTCUSDT 1h: sorted 0 out-of-order row(s), dropped 1 duplicate(s)');
  });

  it('export writes a long CSV starting open_time,symbol sorted by time then symbol', () => {
    const dir = tmp();
    const cfg = small(dir);
    expect(regime(['-c', cfg, 'synth'], dir).code).toBe(0);
    const out = join(dir, 'bars.csv');
    const r = regime(['export', 'bars', '--interval', '1d', '--format', 'csv', '--out', out], dir);
    expect(r.code, r.err).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]!.startsWith('open_time,symbol,open,high,low,close,volume')).toBe(true);
    // 4 assets × 60 days, less the 12 days before SYN03 lists (the default market lists its last quarter late).
    expect(lines.length - 1).toBe(4 * 60 - 12);
    const keys = lines.slice(1).map((l) => l.split(',').slice(0, 2));
    expect(keys[0]).toEqual([String(Date.parse('2020-01-01T00:00:00Z')), 'SYN00']);
    expect(keys[1]![1]).toBe('SYN01');
    const sorted = [...keys].sort((a, b) => Number(a[0]) - Number(b[0]) || (a[1]! < b[1]! ? -1 : 1));
    expect(keys).toEqual(sorted);
    const bad = regime(['export', 'models', '--interval', '1d', '--out', out], dir);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("unknown artifact 'models': available: bars, features, labels");
  });

  it('features: --list prints definitions with formulas; run computes them; export writes SPEC B3 names', () => {
    const list = regime(['features', '--list']);
    expect(list.code, list.err).toBe(0);
    expect(list.out).toContain('daily (1d): SPEC B3');
    expect(list.out).toContain('realized_vol_20d [vol] rolling(input=logret stat=std window=20 ddof=1 scale=19.105)');
    expect(list.out).toContain('std_{ddof=1}(r_{t−19..t}) · √365');
    expect(list.out).toContain('btc_volume_share [cross]');
    expect(list.out).toContain('hourly (1h): SPEC A10');
    const dir = tmp();
    writeFileSync(join(dir, 'regime.yaml'), 'synthetic:\n  assets: 4\n  days: 800\nfeatures:\n  custom:\n    daily:\n      - {name: vol_10d, group: vol, kernel: rolling, input: logret, stat: std, window: 10, formula: "std of r over 10 days"}\n');
    const r = regime(['-c', 'regime.yaml', 'run', '--json'], dir);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.features.map((f: { set: string; skipped: boolean }) => [f.set, f.skipped])).toEqual([['daily', false], ['hourly', false]]);
    expect(j.features[0].features).toContain('vol_10d');
    const again = JSON.parse(regime(['-c', 'regime.yaml', 'run', '--json'], dir).out);
    expect(again.features.every((f: { skipped: boolean }) => f.skipped)).toBe(true);
    const out = join(dir, 'f.csv');
    const e = regime(['-c', 'regime.yaml', 'export', 'features', '--interval', '1d', '--format', 'csv', '--out', out], dir);
    expect(e.code, e.err).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe(
      'open_time,symbol,realized_vol_20d,GARCH_sigma,HAR_daily,HAR_weekly,HAR_monthly,vol_ratio,rate_of_change,close_normalized,momentum_50d,' +
        'return_skewness_30d,trend_strength,volume_trend,avg_pairwise_corr,btc_volume_share,vol_dispersion,corr_stability,mean_corr_30d,beta_btc_30d,log_vol_rel_median,vol_10d',
    );
    // Market-level features repeat on every symbol's row of a day.
    const day = lines.filter((l) => l.startsWith(String(Date.parse('2021-06-01T00:00:00Z')) + ','));
    expect(day.length).toBe(4);
    const col = (l: string, name: string) => l.split(',')[lines[0]!.split(',').indexOf(name)];
    expect(new Set(day.map((l) => col(l, 'avg_pairwise_corr'))).size).toBe(1);
    expect(Number(col(day[0]!, 'avg_pairwise_corr'))).toBeGreaterThan(0);
  });

  it('label: writes labels, models and reports; export labels; --task and --seed; a bad task is a user error', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'regime.yaml'), 'synthetic:\n  assets: 5\n  days: 1200\n');
    expect(regime(['-c', 'regime.yaml', 'synth'], dir).code).toBe(0);
    const r = regime(['-c', 'regime.yaml', 'label', '--json'], dir);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.tasks.map((t: { task: string }) => t.task)).toEqual(['vol', 'trend', 'cross']);
    expect(j.tasks[1].names).toEqual(['strong_bear', 'weak_bear', 'neutral', 'weak_bull', 'strong_bull']);
    expect(typeof j.tasks[0].ari).toBe('number');
    for (const f of ['labels/daily.arrow', 'models/labels-vol.json', 'reports/labels-vol.md', 'reports/labels-trend.md', 'reports/labels-cross.md']) {
      expect(existsSync(join(dir, '.regime', f)), f).toBe(true);
    }
    const report = readFileSync(join(dir, '.regime/reports/labels-vol.md'), 'utf8');
    expect(report).toContain('## Recovered vs true regimes (synthetic market)');
    const model = JSON.parse(readFileSync(join(dir, '.regime/models/labels-vol.json'), 'utf8'));
    expect(model.kind).toBe('gaussian-hmm');
    expect(Object.values(model.mapping)).toEqual(model.names);
    const out = join(dir, 'labels.csv');
    const e = regime(['-c', 'regime.yaml', 'export', 'labels', '--interval', '1d', '--format', 'csv', '--out', out], dir);
    expect(e.code, e.err).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]!.startsWith('open_time,symbol,split,vol_regime,vol_p_low,vol_p_normal,vol_p_high')).toBe(true);
    expect(lines[0]).toContain(',trend_regime,trend_p_strong_bear,');
    expect(lines[0]).toContain(',cross_regime,cross_p_divergent,cross_p_normal,cross_p_convergent');
    const row = lines.find((l) => l.startsWith(String(Date.parse('2021-06-01T00:00:00Z')) + ',SYN00,'))!.split(',');
    const header = lines[0]!.split(',');
    const probs = header.map((h, i) => [h, row[i]] as const).filter(([h]) => h.startsWith('vol_p_')).map(([, v]) => Number(v));
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    expect(header.indexOf('vol_regime') >= 0 && ['low', 'normal', 'high', 'spike'].includes(row[header.indexOf('vol_regime')]!)).toBe(true);
    const one = regime(['-c', 'regime.yaml', 'label', '--task', 'cross', '--seed', '3', '--json'], dir);
    expect(JSON.parse(one.out).tasks.map((t: { task: string }) => t.task)).toEqual(['cross']);
    const bad = regime(['-c', 'regime.yaml', 'label', '--task', 'colour'], dir);
    expect(bad.code).toBe(1);
    expect(bad.err).toBe("error: unknown labelling task 'colour' (vol, trend, cross)\n");
  });

  it('config: --print-config shows defaults; an invalid config names the key', () => {
    const p = regime(['--print-config']);
    expect(p.code).toBe(0);
    expect(p.out).toContain('seed: 42');
    expect(p.out).toContain('minCoverage: 0.95');
    const dir = tmp();
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'data:\n  minCoverage: 2\nsynthetic:\n  colour: blue\n');
    const r = regime(['-c', bad, 'info'], dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`error: ${bad}: invalid config`);
    expect(r.err).toContain('data.minCoverage');
    expect(r.err).toContain('synthetic');
  });

  it('info without bars is a user error that says what to run', () => {
    const r = regime(['info']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('no bars in');
    expect(r.err).toContain('regime run');
  });
});
