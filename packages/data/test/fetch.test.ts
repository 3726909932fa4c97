// fetchKlines against a real HTTP server on 127.0.0.1 that serves a data.binance.vision-shaped tree,
// built here from the genuine BTCUSDT hourly bars in ../shared/data.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { fetchKlines, planArchiveFiles, type FetchOptions } from '../src/fetch.js';
import { UserError } from '../src/errors.js';

const SHARED = fileURLToPath(new URL('../../../../shared/data', import.meta.url));
const SOURCE = join(SHARED, 'klines/1h/BTCUSDT.csv.gz');
const HAVE_DATA = existsSync(SOURCE);
const IN_CI = process.env.CI === 'true';
if (!HAVE_DATA && !IN_CI) console.warn(`fetch.test.ts: skipping the HTTP server tests: ${SOURCE} not found (the shared data folder is absent)`);

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const MONTHLY = '/data/spot/monthly/klines/BTCUSDT/1h';
const NOW = new Date('2024-03-15T12:00:00Z'); // Jan and Feb 2024 have ended, so they are monthly files

/** Await a promise that must reject, and return the error. */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the promise to reject');
}

describe('planArchiveFiles', () => {
  it('uses monthly files for ended months and daily files for the current month', () => {
    const plan = planArchiveFiles({ symbols: ['BTCUSDT'], interval: '1h', from: '2024-02-20', to: '2024-03-02', now: NOW });
    expect(plan.map((p) => p.urlPath)).toEqual([
      'data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-02.zip',
      'data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-03-01.zip',
      'data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-03-02.zip',
    ]);
    expect(plan.map((p) => p.file)).toEqual(['BTCUSDT-1h-2024-02.zip', 'BTCUSDT-1h-2024-03-01.zip', 'BTCUSDT-1h-2024-03-02.zip']);
  });

  it('with daily, fetches a partial ended month day by day but keeps whole months monthly', () => {
    const plan = planArchiveFiles({ symbols: ['ETHUSDT', 'ETHUSDT'], interval: '1d', from: '2023-12-30', to: '2024-01-31', now: NOW, daily: true });
    expect(plan.map((p) => p.file)).toEqual(['ETHUSDT-1d-2023-12-30.zip', 'ETHUSDT-1d-2023-12-31.zip', 'ETHUSDT-1d-2024-01.zip']);
  });

  it('plans months after the current one as monthly files (the archive answers them with a 404)', () => {
    const plan = planArchiveFiles({ symbols: ['BTCUSDT'], interval: '1h', from: '2024-03-31', to: '2024-04-01', now: NOW });
    expect(plan.map((p) => p.file)).toEqual(['BTCUSDT-1h-2024-03-31.zip', 'BTCUSDT-1h-2024-04.zip']);
  });
});

describe('argument validation', () => {
  const ok: FetchOptions = { symbols: ['BTCUSDT'], interval: '1h', from: '2024-01-01', to: '2024-02-29', outDir: '/nonexistent/never-created' };
  const cases: Array<[string, Partial<FetchOptions> | Record<string, unknown>, string]> = [
    ['lowercase symbol', { symbols: ['btcusdt'] }, 'symbols: expected 2-20 uppercase letters or digits (like BTCUSDT) but received "btcusdt"'],
    ['no symbols', { symbols: [] }, 'symbols: expected at least one symbol like BTCUSDT but received []'],
    ['unknown interval', { interval: '7m' }, 'interval: expected one of 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d but received "7m"'],
    ['impossible date', { from: '2024-02-30' }, 'from: expected a date YYYY-MM-DD but received "2024-02-30"'],
    ['wrong date format', { to: '2024/02/01' }, 'to: expected a date YYYY-MM-DD but received "2024/02/01"'],
    ['from after to', { from: '2024-03-01', to: '2024-02-01' }, 'from: expected a date on or before to (2024-02-01) but received "2024-03-01"'],
    ['negative retries', { retries: -1 }, 'retries: expected a non-negative integer but received -1'],
    ['zero concurrency', { concurrency: 0 }, 'concurrency: expected a positive integer but received 0'],
    ['bad base URL', { baseUrl: 'ftp://example.com' }, 'baseUrl: expected an http(s) URL but received "ftp://example.com"'],
  ];
  for (const [name, patch, message] of cases) {
    it(`rejects ${name}`, async () => {
      const e = await rejection(fetchKlines({ ...ok, ...patch } as FetchOptions));
      expect(e).toBeInstanceOf(UserError);
      expect(e.message).toBe(message);
    });
  }
  it('planArchiveFiles validates the same way', () => {
    expect(() => planArchiveFiles({ ...ok, symbols: ['BTC-USDT'] })).toThrow(
      new UserError('symbols: expected 2-20 uppercase letters or digits (like BTCUSDT) but received "BTC-USDT"'),
    );
  });
});

describe.skipIf(!HAVE_DATA && !IN_CI)('fetchKlines against a local archive server', () => {
  /** Served files by URL path. */
  const tree = new Map<string, Buffer>();
  /** Requests per URL path. */
  const hits = new Map<string, number>();
  /** Per URL path, what to do on the next requests, consumed one per request; 'corrupt' and 'reset' have no end when set as `always`. */
  const faults = new Map<string, Array<number | 'corrupt' | 'reset'>>();
  const alwaysCorrupt = new Set<string>();
  let server: Server;
  let base = '';
  let csv = new Map<string, string>(); // month -> archive CSV text
  const dirs: string[] = [];

  const hitCount = (): number => [...hits.values()].reduce((a, b) => a + b, 0);
  const outDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'regime-fetch-'));
    dirs.push(d);
    return d;
  };
  const opts = (o: Partial<FetchOptions> = {}): FetchOptions => ({
    symbols: ['BTCUSDT'], interval: '1h', from: '2024-01-01', to: '2024-02-29', outDir: o.outDir ?? outDir(),
    baseUrl: base, now: NOW, baseDelayMs: 5, retries: 3, concurrency: 2, ...o,
  });
  const zipPath = (month: string): string => `${MONTHLY}/BTCUSDT-1h-${month}.zip`;
  const url = (p: string): string => `${base}${p}`;
  const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'fetch-manifest.json'), 'utf8')) as {
    version: number; files: Record<string, { url: string; sha256: string; bytes: number; verifiedAt: string }>;
  };

  beforeAll(async () => {
    if (!HAVE_DATA) throw new Error(`CI=true but ${SOURCE} is missing: the shared data folder is required in CI`);
    // Genuine bars, rewritten in the archive's format: no header, 12 columns (the source leaves the
    // last four empty; the 12th, "ignore", is empty too: no value is invented).
    const rows = gunzipSync(readFileSync(SOURCE)).toString('utf8').trim().split('\n').slice(1);
    csv = new Map();
    for (const month of ['2024-01', '2024-02']) {
      const lo = Date.parse(`${month}-01T00:00:00Z`);
      const hi = Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5)), 1);
      const lines = rows.filter((r) => { const t = Number(r.slice(0, r.indexOf(','))); return t >= lo && t < hi; }).map((r) => `${r},`);
      csv.set(month, lines.join('\n') + '\n');
      const name = `BTCUSDT-1h-${month}`;
      const zip = Buffer.from(zipSync({ [`${name}.csv`]: strToU8(csv.get(month)!) }));
      tree.set(zipPath(month), zip);
      tree.set(`${zipPath(month)}.CHECKSUM`, Buffer.from(`${sha256(zip)}  ${name}.zip\n`));
    }
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      const body = tree.get(path);
      const fault = faults.get(path)?.shift();
      if (typeof fault === 'number') return void res.writeHead(fault).end(`fault ${fault}`);
      if (!body) return void res.writeHead(404).end('<Error><Code>NoSuchKey</Code></Error>');
      if (fault === 'reset') {
        // Send the headers and half the body, then drop the connection.
        res.writeHead(200, { 'content-length': body.length });
        res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
        return;
      }
      if (fault === 'corrupt' || alwaysCorrupt.has(path)) {
        const bad = Buffer.from(body);
        bad[bad.length >> 1]! ^= 0xff;
        return void res.writeHead(200).end(bad);
      }
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('downloads both months, verifies them and records each checksum in the manifest', async () => {
    const dir = outDir();
    const events: string[] = [];
    const before = hitCount();
    const r = await fetchKlines(opts({ outDir: dir, onProgress: (e) => events.push(`${e.done}/${e.total} ${e.status}`) }));
    expect(hitCount() - before).toBe(4); // a .CHECKSUM and a .zip per month
    expect(r.missing).toEqual([]);
    expect(r.manifestPath).toBe(join(dir, 'fetch-manifest.json'));
    expect(events.sort()).toEqual(['1/2 downloaded', '2/2 downloaded']);
    const m = manifest(dir);
    expect(m.version).toBe(1);
    for (const [i, month] of ['2024-01', '2024-02'].entries()) {
      const served = tree.get(zipPath(month))!;
      const file = `BTCUSDT-1h-${month}.zip`;
      const path = join(dir, 'BTCUSDT', '1h', file);
      expect(r.files[i]).toEqual({ symbol: 'BTCUSDT', file, path, url: url(zipPath(month)), sha256: sha256(served), bytes: served.length, status: 'downloaded' });
      const rec = m.files[`BTCUSDT/1h/${file}`]!;
      expect({ url: rec.url, sha256: rec.sha256, bytes: rec.bytes }).toEqual({ url: url(zipPath(month)), sha256: sha256(served), bytes: served.length });
      expect(new Date(rec.verifiedAt).toISOString()).toBe(rec.verifiedAt);
      // The saved zip holds the genuine bars: every hour of the month, starting at its first hour.
      const text = strFromU8(unzipSync(readFileSync(path))[`BTCUSDT-1h-${month}.csv`]!);
      expect(text).toBe(csv.get(month));
      expect(text.split('\n')[0]!.split(',')).toHaveLength(12);
      expect(text.split('\n')[0]!.startsWith(String(Date.parse(`${month}-01T00:00:00Z`)))).toBe(true);
    }
    expect(csv.get('2024-01')!.trim().split('\n')).toHaveLength(31 * 24);
    expect(csv.get('2024-02')!.trim().split('\n')).toHaveLength(29 * 24);
    expect(readdirSync(join(dir, 'BTCUSDT', '1h')).sort()).toEqual(['BTCUSDT-1h-2024-01.zip', 'BTCUSDT-1h-2024-02.zip']);
  });

  it('resumes: a second run makes no request; a changed or unrecorded file is downloaded again', async () => {
    const dir = outDir();
    await fetchKlines(opts({ outDir: dir }));
    const recorded = manifest(dir);

    let before = hitCount();
    const again = await fetchKlines(opts({ outDir: dir }));
    expect(hitCount() - before).toBe(0);
    expect(again.files.map((f) => [f.file, f.status, f.sha256])).toEqual([
      ['BTCUSDT-1h-2024-01.zip', 'skipped', sha256(tree.get(zipPath('2024-01'))!)],
      ['BTCUSDT-1h-2024-02.zip', 'skipped', sha256(tree.get(zipPath('2024-02'))!)],
    ]);
    expect(manifest(dir)).toEqual(recorded); // nothing re-verified

    // Damage February on disk: its hash no longer matches the record, so only it is fetched again.
    writeFileSync(join(dir, 'BTCUSDT', '1h', 'BTCUSDT-1h-2024-02.zip'), 'not a zip');
    before = hitCount();
    const repaired = await fetchKlines(opts({ outDir: dir }));
    expect(hitCount() - before).toBe(2);
    expect(repaired.files.map((f) => f.status)).toEqual(['skipped', 'downloaded']);
    expect(readFileSync(join(dir, 'BTCUSDT', '1h', 'BTCUSDT-1h-2024-02.zip')).equals(tree.get(zipPath('2024-02'))!)).toBe(true);

    // A file on disk that the manifest does not vouch for is downloaded again too.
    const m = manifest(dir);
    delete m.files['BTCUSDT/1h/BTCUSDT-1h-2024-01.zip'];
    writeFileSync(join(dir, 'fetch-manifest.json'), JSON.stringify(m));
    before = hitCount();
    const unrecorded = await fetchKlines(opts({ outDir: dir }));
    expect(hitCount() - before).toBe(2);
    expect(unrecorded.files.map((f) => f.status)).toEqual(['downloaded', 'skipped']);
  });

  it('keeps the progress of an interrupted run: the connection drops mid-file, the rerun fetches only that file', async () => {
    const dir = outDir();
    faults.set(zipPath('2024-02'), ['reset']);
    const e = await rejection(fetchKlines(opts({ outDir: dir, retries: 0, concurrency: 1 })));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(new RegExp(`^BTCUSDT 1h 2024-02: network error at ${url(zipPath('2024-02'))}: .+ \\(gave up after 1 attempts\\)$`));
    expect(Object.keys(manifest(dir).files)).toEqual(['BTCUSDT/1h/BTCUSDT-1h-2024-01.zip']);
    expect(readdirSync(join(dir, 'BTCUSDT', '1h'))).toEqual(['BTCUSDT-1h-2024-01.zip']); // no .part left behind

    const before = hitCount();
    const r = await fetchKlines(opts({ outDir: dir }));
    expect(hitCount() - before).toBe(2);
    expect(r.files.map((f) => f.status)).toEqual(['skipped', 'downloaded']);
  });

  it('rejects a corrupt download after the retries, naming the file and both hashes, and keeps nothing of it', async () => {
    const dir = outDir();
    const p = zipPath('2024-02');
    alwaysCorrupt.add(p);
    const before = hits.get(p) ?? 0;
    try {
      const e = await rejection(fetchKlines(opts({ outDir: dir, retries: 2 })));
      const good = tree.get(p)!;
      const bad = Buffer.from(good);
      bad[bad.length >> 1]! ^= 0xff;
      expect(e).toBeInstanceOf(UserError);
      expect(e.message).toBe(
        `BTCUSDT 1h 2024-02: checksum mismatch for BTCUSDT-1h-2024-02.zip: expected sha256 ${sha256(good)} (from ${url(p)}.CHECKSUM), ` +
          `got ${sha256(bad)}; the corrupt download was deleted (gave up after 3 attempts)`,
      );
    } finally {
      alwaysCorrupt.delete(p);
    }
    expect((hits.get(p) ?? 0) - before).toBe(3);
    expect(readdirSync(join(dir, 'BTCUSDT', '1h'))).toEqual(['BTCUSDT-1h-2024-01.zip']);
    expect(Object.keys(manifest(dir).files)).toEqual(['BTCUSDT/1h/BTCUSDT-1h-2024-01.zip']);
  });

  it('retries a download that was corrupt once and keeps the good copy', async () => {
    const dir = outDir();
    const p = zipPath('2024-01');
    faults.set(p, ['corrupt']);
    const before = hits.get(p) ?? 0;
    const r = await fetchKlines(opts({ outDir: dir }));
    expect((hits.get(p) ?? 0) - before).toBe(2);
    expect(r.files[0]!.sha256).toBe(sha256(tree.get(p)!));
    expect(readFileSync(join(dir, 'BTCUSDT', '1h', 'BTCUSDT-1h-2024-01.zip')).equals(tree.get(p)!)).toBe(true);
  });

  it('fails on a month the archive does not have, or records it as missing with allowMissing', async () => {
    const checksum = url(`${zipPath('2023-12')}.CHECKSUM`);
    const e = await rejection(fetchKlines(opts({ from: '2023-12-01' })));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe(
      `BTCUSDT 1h 2023-12: no such file in the archive (HTTP 404 at ${checksum}) — the symbol may not have been listed yet, or the month is in the future`,
    );

    const before = hits.get(`${zipPath('2023-12')}.CHECKSUM`) ?? 0;
    const dir = outDir();
    const r = await fetchKlines(opts({ outDir: dir, from: '2023-12-01', allowMissing: true }));
    expect(hits.get(`${zipPath('2023-12')}.CHECKSUM`)! - before).toBe(1); // a 404 is not retried
    expect(r.missing).toEqual(['BTCUSDT-1h-2023-12.zip']);
    expect(r.files.map((f) => [f.file, f.status])).toEqual([
      ['BTCUSDT-1h-2023-12.zip', 'missing'],
      ['BTCUSDT-1h-2024-01.zip', 'downloaded'],
      ['BTCUSDT-1h-2024-02.zip', 'downloaded'],
    ]);
    expect(Object.keys(manifest(dir).files).sort()).toEqual(['BTCUSDT/1h/BTCUSDT-1h-2024-01.zip', 'BTCUSDT/1h/BTCUSDT-1h-2024-02.zip']);
  });

  it('retries HTTP 503 and 429 with backoff and succeeds', async () => {
    const p = zipPath('2024-01');
    faults.set(p, [503, 429]);
    faults.set(`${zipPath('2024-02')}.CHECKSUM`, [503]);
    const before = { zip: hits.get(p) ?? 0, sum: hits.get(`${zipPath('2024-02')}.CHECKSUM`) ?? 0 };
    const r = await fetchKlines(opts());
    expect(r.files.map((f) => f.status)).toEqual(['downloaded', 'downloaded']);
    expect((hits.get(p) ?? 0) - before.zip).toBe(3);
    expect((hits.get(`${zipPath('2024-02')}.CHECKSUM`) ?? 0) - before.sum).toBe(2);
  });

  it('gives up on a persistent 503 with the status and URL', async () => {
    const p = `${zipPath('2024-01')}.CHECKSUM`;
    faults.set(p, [503, 503]);
    const e = await rejection(fetchKlines(opts({ to: '2024-01-31', retries: 1 })));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe(`BTCUSDT 1h 2024-01: HTTP 503 at ${url(p)} (gave up after 2 attempts)`);
  });
});
