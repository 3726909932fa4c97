// End to end, as a user runs it: the built CLI on the real data, and fetch → ingest against a
// real local HTTP server.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { KLINES, REPO, describeShared } from './helpers/shared.js';
import { startArchiveServer, type ArchiveServer } from './helpers/archive-server.js';

const CLI = join(REPO, 'packages/cli/bin/regime.js');

// Async spawn: the archive server runs in this process and must keep serving while the CLI runs.
function regime(args: string[], cwd: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

describeShared('regime on real data', () => {
  let server: ArchiveServer;
  beforeAll(async () => {
    server = await startArchiveServer('ETHUSDT', ['2023-01', '2023-02']);
  });
  afterAll(async () => server.close());

  it('run ../shared/data/klines: 13 assets at 1m/1h/1d, exported daily bars equal the source file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regime-e2e-'));
    // One seed and two epochs per model: the pipeline, not the models' quality, is under test here.
    writeFileSync(join(dir, 'quick.yaml'), 'train:\n  seeds: [0]\n  maxEpochs: 2\n');
    const r = await regime(['-c', 'quick.yaml', 'run', KLINES, '--json'], dir);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.source).toBe('files');
    expect(j.info.map((s: { interval: string }) => s.interval)).toEqual(['1m', '1h', '1d']);
    expect(j.info[2].assets).toHaveLength(13);
    const btc = j.info[2].assets.find((a: { symbol: string }) => a.symbol === 'BTCUSDT');
    expect(btc).toMatchObject({ first: '2017-08-17T00:00:00Z', last: '2024-12-31T00:00:00Z', present: 2694, missing: 0 });
    // Step 5: every model trained on the real labels, evaluated beside its baselines, and the
    // latest regimes printed from the ONNX models.
    expect(j.models.models.map((m: { name: string; skipped: boolean }) => [m.name, m.skipped])).toEqual(
      ['cross-gnn', 'cross-gnn-h7', 'trend-lstm', 'trend-lstm-h7', 'vol-lstm', 'vol-lstm-h7'].map((n) => [n, false]),
    );
    for (const m of j.models.models) {
      expect(m.test.macroF1).toBeGreaterThan(0);
      expect(m.test.persistence).toBeGreaterThan(0);
    }
    const report = readFileSync(join(dir, '.regime/reports/vol-lstm.md'), 'utf8');
    expect(report).toMatch(/## test \(\d+ samples\)/);
    expect(report).toContain('| persistence (label at t−1) |');
    expect(report).toContain('| majority class (train) |');
    expect(report).toContain('Attention profile');
    expect(j.latest[0].asset).toBe('BTCUSDT');
    expect(j.latest[0].lastBar).toBe('2024-12-31');
    expect(j.latest[0].stale).toBe(true);
    expect(r.err).toMatch(/warning: the last BTCUSDT bar is 2024-12-31, \d+ days ago/);
    const again = await regime(['-c', 'quick.yaml', 'run', KLINES, '--json'], dir);
    const j2 = JSON.parse(again.out);
    expect(j2.steps[0].skipped).toBe(true);
    expect(j2.models.models.every((m: { skipped: boolean }) => m.skipped)).toBe(true);

    // `regime train` on its own, then `regime infer` from the ONNX files.
    const t = await regime(['train', '--models', 'vol-lstm', '--seeds', '1', '--max-epochs', '2', '--json'], dir);
    expect(t.code, t.err).toBe(0);
    expect(JSON.parse(t.out).models[0]).toMatchObject({ name: 'vol-lstm', skipped: false, seed: 1 });
    const inf = await regime(['infer', '--asset', 'ETHUSDT', '--json'], dir);
    expect(inf.code, inf.err).toBe(0);
    const ji = JSON.parse(inf.out);
    expect(ji.models).toHaveLength(6);
    for (const m of ji.models) {
      const p = Object.values(m.probabilities) as number[];
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(m.inputDay).toBe('2024-12-31');
    }
    const human = await regime(['infer', '--asset', 'ETHUSDT'], dir);
    expect(human.out).toMatch(/ETHUSDT: last bar 2024-12-31 \(STALE/);
    expect(human.out).toMatch(/vol-lstm +vol now \(inputs to 2024-12-31\): [A-Z_]+ — low \d/);

    const out = join(dir, 'btc.csv');
    const e = await regime(['export', 'bars', '--interval', '1d', '--symbols', 'BTCUSDT', '--out', out], dir);
    expect(e.code, e.err).toBe(0);
    const ours = readFileSync(out, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').slice(0, 7));
    const src = gunzipSync(readFileSync(join(KLINES, '1d/BTCUSDT.csv.gz'))).toString().trim().split('\n').slice(1).map((l) => l.split(','));
    expect(ours.length).toBe(src.length);
    // open_time, symbol, then O/H/L/C/V exactly as published (same decimal strings).
    for (let i = 0; i < src.length; i += 97) expect(ours[i]).toEqual([src[i]![0], 'BTCUSDT', ...src[i]!.slice(1, 6)]);
  });

  it('fetch from a local archive server, then ingest the downloads: bars equal the published hourly file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regime-e2e-fetch-'));
    const f = await regime(
      ['fetch', '--symbols', 'ETHUSDT', '--interval', '1h', '--from', '2023-01-01', '--to', '2023-02-28', '--base-url', server.url, '--json'],
      dir,
    );
    expect(f.code, f.err).toBe(0);
    const fr = JSON.parse(f.out);
    expect(fr.files.map((x: { file: string; status: string }) => [x.file, x.status])).toEqual([
      ['ETHUSDT-1h-2023-01.zip', 'downloaded'],
      ['ETHUSDT-1h-2023-02.zip', 'downloaded'],
    ]);
    const i = await regime(['ingest', join(dir, '.regime/downloads'), '--intervals', '1h,1d', '--json'], dir);
    expect(i.code, i.err).toBe(0);
    expect(JSON.parse(i.out).intervals['1h']).toMatchObject({ assets: 1, rowsPerAsset: 59 * 24 });
    const out = join(dir, 'eth.csv');
    expect((await regime(['export', 'bars', '--interval', '1h', '--out', out], dir)).code).toBe(0);
    const ours = readFileSync(out, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').slice(0, 7).join(','));
    const lo = Date.parse('2023-01-01T00:00:00Z');
    const hi = Date.parse('2023-03-01T00:00:00Z');
    const src = gunzipSync(readFileSync(join(KLINES, '1h/ETHUSDT.csv.gz'))).toString().trim().split('\n').slice(1)
      .map((l) => l.split(','))
      .filter((c) => Number(c[0]) >= lo && Number(c[0]) < hi)
      .map((c) => [c[0], 'ETHUSDT', ...c.slice(1, 6)].join(','));
    expect(ours).toEqual(src);
    // A second fetch finds every file verified and downloads nothing.
    const before = server.hits.length;
    const again = await regime(['fetch', '--symbols', 'ETHUSDT', '--interval', '1h', '--from', '2023-01-01', '--to', '2023-02-28', '--base-url', server.url], dir);
    expect(again.code).toBe(0);
    expect(again.out).toContain('0 downloaded, 2 already verified, 0 missing');
    expect(server.hits.length).toBe(before);
    // A month the archive does not have is a user error naming it.
    const miss = await regime(['fetch', '--symbols', 'ETHUSDT', '--interval', '1h', '--from', '2023-03-01', '--to', '2023-03-31', '--base-url', server.url], dir);
    expect(miss.code).toBe(1);
    expect(miss.err).toContain('error: ETHUSDT 1h 2023-03: no such file in the archive (HTTP 404 at');
  });
});
