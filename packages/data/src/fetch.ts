// `regime fetch`: download Binance spot kline archives (the data.binance.vision layout), verify each
// zip against its .CHECKSUM file, and record what was verified so an interrupted run can resume.
// Topic doc: docs/fetch.md.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeJsonAtomic } from './atomic.js';
import { UserError } from './errors.js';
import { INTERVALS, isInterval, type Interval } from './intervals.js';

export const DEFAULT_BASE_URL = 'https://data.binance.vision';
export const MANIFEST_FILE = 'fetch-manifest.json';

export type FetchStatus = 'downloaded' | 'skipped' | 'missing';

export interface FetchOptions {
  symbols: string[];
  interval: Interval;
  /** First UTC day, YYYY-MM-DD, inclusive. */
  from: string;
  /** Last UTC day, YYYY-MM-DD, inclusive. */
  to: string;
  /** Files go to outDir/<SYMBOL>/<interval>/<file>.zip; the manifest to outDir/fetch-manifest.json. */
  outDir: string;
  /** Default 'https://data.binance.vision'. */
  baseUrl?: string;
  /** Retries after the first attempt (default 4); backoff baseDelayMs * 2^attempt with jitter. */
  retries?: number;
  /** Default 500. */
  baseDelayMs?: number;
  /** Files downloaded at once (default 4). */
  concurrency?: number;
  /** "Today" for the monthly/daily plan (default: the clock). */
  now?: Date;
  /** Use daily files for the partial months at the edges of the range instead of whole monthly files. */
  daily?: boolean;
  /** If true, a 404 is recorded in `missing` instead of failing the run. */
  allowMissing?: boolean;
  /** Abort and retry a request that receives no bytes for this long (default 30000). */
  idleTimeoutMs?: number;
  onProgress?: (e: { done: number; total: number; file: string; status: FetchStatus }) => void;
  /** Default: the global fetch. */
  fetchImpl?: typeof fetch;
}

export interface FetchedFile {
  symbol: string;
  file: string;
  /** Local path ('' when missing). */
  path: string;
  url: string;
  /** Verified SHA-256 ('' when missing). */
  sha256: string;
  bytes: number;
  status: FetchStatus;
}

export interface FetchResult {
  /** One entry per planned file, in plan order. */
  files: FetchedFile[];
  /** File names that the archive does not have (only with allowMissing). */
  missing: string[];
  manifestPath: string;
}

export interface ArchiveFile {
  symbol: string;
  /** e.g. BTCUSDT-1h-2024-01.zip */
  file: string;
  /** Path under the base URL, e.g. data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01.zip */
  urlPath: string;
  kind: 'monthly' | 'daily';
  /** YYYY-MM or YYYY-MM-DD */
  period: string;
}

export interface ManifestRecord {
  url: string;
  sha256: string;
  bytes: number;
  /** ISO time at which the file's hash matched the archive's .CHECKSUM. */
  verifiedAt: string;
}

export interface FetchManifest {
  version: 1;
  /** Keyed by the path relative to outDir, '/'-separated: BTCUSDT/1h/BTCUSDT-1h-2024-01.zip */
  files: Record<string, ManifestRecord>;
}

// ---------------------------------------------------------------------------------------------
// Arguments and the plan

const DAY_MS = 86_400_000;
const SYMBOL = /^[A-Z0-9]{2,20}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const received = (v: unknown): string => (v === undefined ? 'undefined' : JSON.stringify(v));

function parseDay(option: 'from' | 'to', s: unknown): number {
  const m = typeof s === 'string' ? DATE.exec(s) : null;
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  // The round trip rejects dates that Date.UTC would silently roll over, like 2024-02-30.
  if (!m || Number.isNaN(t) || isoDay(t) !== s) {
    throw new UserError(`${option}: expected a date YYYY-MM-DD but received ${received(s)}`);
  }
  return t;
}

function checkInteger(option: string, v: unknown, min: number): void {
  if (v !== undefined && !(Number.isInteger(v) && (v as number) >= min)) {
    throw new UserError(`${option}: expected ${min === 0 ? 'a non-negative' : 'a positive'} integer but received ${received(v)}`);
  }
}

function validateRange(o: Pick<FetchOptions, 'symbols' | 'interval' | 'from' | 'to'>): { from: number; to: number; symbols: string[] } {
  if (!Array.isArray(o.symbols) || o.symbols.length === 0) {
    throw new UserError(`symbols: expected at least one symbol like BTCUSDT but received ${received(o.symbols)}`);
  }
  for (const s of o.symbols) {
    if (typeof s !== 'string' || !SYMBOL.test(s)) {
      throw new UserError(`symbols: expected 2-20 uppercase letters or digits (like BTCUSDT) but received ${received(s)}`);
    }
  }
  if (typeof o.interval !== 'string' || !isInterval(o.interval)) {
    throw new UserError(`interval: expected one of ${Object.keys(INTERVALS).join(', ')} but received ${received(o.interval)}`);
  }
  const from = parseDay('from', o.from);
  const to = parseDay('to', o.to);
  if (from > to) throw new UserError(`from: expected a date on or before to (${o.to}) but received ${received(o.from)}`);
  // Duplicates would make two workers write the same .part file.
  return { from, to, symbols: [...new Set(o.symbols)] };
}

const isoDay = (t: number): string => new Date(t).toISOString().slice(0, 10);
const nextMonth = (t: number): number => {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
};

function archiveFile(symbol: string, interval: Interval, kind: 'monthly' | 'daily', period: string): ArchiveFile {
  const file = `${symbol}-${interval}-${period}.zip`;
  return { symbol, file, kind, period, urlPath: `data/spot/${kind}/klines/${symbol}/${interval}/${file}` };
}

/**
 * The archive files covering [from, to] for each symbol. A month that ended before the current UTC
 * month is one monthly file (Binance publishes it in the first days of the next month); days of the
 * current month are daily files, as its monthly file does not exist yet. With `daily`, a partial month
 * at the edge of the range is fetched day by day instead. Months after the current one are planned as
 * monthly files so that asking for them gives the archive's own 404.
 */
export function planArchiveFiles(o: Pick<FetchOptions, 'symbols' | 'interval' | 'from' | 'to' | 'now' | 'daily'>): ArchiveFile[] {
  const { from, to, symbols } = validateRange(o);
  const now = o.now ?? new Date();
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new UserError(`now: expected a valid Date but received ${String(o.now)}`);
  const currentMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const out: ArchiveFile[] = [];
  for (const symbol of symbols) {
    for (let month = Date.UTC(new Date(from).getUTCFullYear(), new Date(from).getUTCMonth(), 1); month <= to; month = nextMonth(month)) {
      const lastDay = nextMonth(month) - DAY_MS;
      const whole = from <= month && to >= lastDay;
      const ended = lastDay < currentMonth;
      if (month > currentMonth || (ended && (whole || !o.daily))) {
        out.push(archiveFile(symbol, o.interval, 'monthly', isoDay(month).slice(0, 7)));
      } else {
        for (let day = Math.max(month, from); day <= Math.min(lastDay, to); day += DAY_MS) {
          out.push(archiveFile(symbol, o.interval, 'daily', isoDay(day)));
        }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// HTTP with retries

/** Worth another attempt: network errors, HTTP 5xx and 429, a checksum that does not match. */
class TransientError extends Error {
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
  }
}

/** The archive has no such file: never retried. */
class NotFoundError extends Error {
  constructor(readonly url: string) {
    super(`HTTP 404 at ${url}`);
  }
}

const MAX_DELAY_MS = 60_000;

/** Exponential backoff with "equal jitter": at least half the nominal delay, so retries from many clients spread out. */
function backoffMs(attempt: number, baseDelayMs: number, retryAfterMs = 0): number {
  const nominal = baseDelayMs * 2 ** attempt;
  return Math.min(MAX_DELAY_MS, Math.max(nominal / 2 + (Math.random() * nominal) / 2, retryAfterMs));
}

function retryAfter(res: Response): number | undefined {
  const v = res.headers.get('retry-after');
  if (!v) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

function networkError(url: string, e: unknown): TransientError {
  // Node's fetch throws TypeError('fetch failed') with the useful part (ECONNRESET, ...) in `cause`.
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause : e;
  return new TransientError(`network error at ${url}: ${cause instanceof Error ? cause.message : String(cause)}`);
}

interface Context {
  baseUrl: string;
  interval: Interval;
  outDir: string;
  retries: number;
  baseDelayMs: number;
  idleTimeoutMs: number;
  allowMissing: boolean;
  fetchImpl: typeof fetch;
}

interface Job extends ArchiveFile {
  /** e.g. 'BTCUSDT 1h 2024-01', the prefix of every error about this file. */
  label: string;
  url: string;
  path: string;
  key: string;
}

/**
 * Runs `body` with an AbortSignal that fires when `touch` has not been called for idleTimeoutMs:
 * a stalled connection is retried instead of hanging the run, while a slow but steady one is not cut.
 */
async function withIdleTimeout<T>(ctx: Context, url: string, body: (signal: AbortSignal, touch: () => void) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const touch = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => ac.abort(), ctx.idleTimeoutMs);
  };
  touch();
  try {
    return await body(ac.signal, touch);
  } catch (e) {
    if (ac.signal.aborted) throw new TransientError(`no data from ${url} for ${ctx.idleTimeoutMs} ms`);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

async function request(job: Job, url: string, ctx: Context, signal: AbortSignal): Promise<Response> {
  let res: Response;
  try {
    res = await ctx.fetchImpl(url, { signal });
  } catch (e) {
    throw networkError(url, e);
  }
  if (res.ok) return res;
  await res.body?.cancel().catch(() => undefined); // free the connection
  if (res.status === 404) throw new NotFoundError(url);
  if (res.status === 429 || res.status >= 500) throw new TransientError(`HTTP ${res.status} at ${url}`, retryAfter(res));
  throw new UserError(`${job.label}: HTTP ${res.status} at ${url}`);
}

async function getText(job: Job, url: string, ctx: Context): Promise<string> {
  return withIdleTimeout(ctx, url, async (signal) => {
    const res = await request(job, url, ctx, signal);
    try {
      return await res.text();
    } catch (e) {
      throw networkError(url, e);
    }
  });
}

/** Streams the body to `dest`, hashing on the way, so a large 1m month never sits in memory. */
async function getToFile(job: Job, url: string, dest: string, ctx: Context): Promise<{ sha256: string; bytes: number }> {
  return withIdleTimeout(ctx, url, async (signal, touch) => {
    const res = await request(job, url, ctx, signal);
    if (!res.body) throw new TransientError(`empty response body at ${url}`);
    const reader = res.body.getReader();
    const hash = createHash('sha256');
    let bytes = 0;
    const fh = await open(dest, 'w');
    try {
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (e) {
          throw networkError(url, e);
        }
        if (chunk.done) break;
        touch();
        hash.update(chunk.value);
        bytes += chunk.value.byteLength;
        await fh.write(chunk.value);
      }
      await fh.sync(); // the bytes must be on disk before the rename makes the file look complete
    } finally {
      await fh.close();
    }
    return { sha256: hash.digest('hex'), bytes };
  });
}

async function withRetries<T>(job: Job, ctx: Context, attempt: () => Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof TransientError)) throw e;
      if (n >= ctx.retries) throw new UserError(`${job.label}: ${e.message} (gave up after ${n + 1} attempts)`);
      await new Promise((r) => setTimeout(r, backoffMs(n, ctx.baseDelayMs, e.retryAfterMs)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Verification, manifest and the run

function parseChecksum(text: string, file: string, url: string): string {
  // Binance writes `sha256sum` output: "<64 hex>  <file name>\n".
  const m = /^([0-9a-fA-F]{64}) [ *]?(\S+)$/.exec(text.trim());
  if (!m || m[2] !== file) {
    throw new TransientError(`unreadable checksum file at ${url}: expected "<sha256>  ${file}" but received ${JSON.stringify(text.slice(0, 120))}`);
  }
  return m[1]!.toLowerCase();
}

/** One attempt: read the expected hash, download to .part, and rename only if the hashes match. */
async function downloadVerified(job: Job, ctx: Context): Promise<{ sha256: string; bytes: number }> {
  const checksumUrl = `${job.url}.CHECKSUM`;
  const expected = parseChecksum(await getText(job, checksumUrl, ctx), job.file, checksumUrl);
  const part = `${job.path}.part`;
  let got: { sha256: string; bytes: number };
  try {
    got = await getToFile(job, job.url, part, ctx);
  } catch (e) {
    rmSync(part, { force: true });
    throw e;
  }
  if (got.sha256 !== expected) {
    rmSync(part, { force: true });
    throw new TransientError(
      `checksum mismatch for ${job.file}: expected sha256 ${expected} (from ${checksumUrl}), got ${got.sha256}; the corrupt download was deleted`,
    );
  }
  renameSync(part, job.path);
  return got;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function readManifest(path: string): FetchManifest {
  if (!existsSync(path)) return { version: 1, files: {} };
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Partial<FetchManifest> | null;
    if (m && m.version === 1 && typeof m.files === 'object' && m.files !== null) return m as FetchManifest;
  } catch {
    // reported below
  }
  throw new UserError(`${path}: not a fetch manifest (expected JSON with "version": 1); delete it to download and verify every file again`);
}

function notFoundMessage(job: Job, url: string): string {
  const why =
    job.kind === 'monthly'
      ? 'the symbol may not have been listed yet, or the month is in the future'
      : 'the symbol may not have been listed yet, or the day has not ended yet (daily files are published the day after)';
  return `${job.label}: no such file in the archive (HTTP 404 at ${url}) — ${why}`;
}

function resolveContext(o: FetchOptions): Context {
  checkInteger('retries', o.retries, 0);
  checkInteger('concurrency', o.concurrency, 1);
  checkInteger('baseDelayMs', o.baseDelayMs, 0);
  checkInteger('idleTimeoutMs', o.idleTimeoutMs, 1);
  const baseUrl = (o.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(baseUrl)) throw new UserError(`baseUrl: expected an http(s) URL but received ${received(o.baseUrl)}`);
  if (typeof o.outDir !== 'string' || o.outDir === '') throw new UserError(`outDir: expected a directory path but received ${received(o.outDir)}`);
  return {
    baseUrl,
    interval: o.interval,
    outDir: o.outDir,
    retries: o.retries ?? 4,
    baseDelayMs: o.baseDelayMs ?? 500,
    idleTimeoutMs: o.idleTimeoutMs ?? 30_000,
    allowMissing: o.allowMissing ?? false,
    fetchImpl: o.fetchImpl ?? fetch,
  };
}

/**
 * Downloads and verifies every planned file. Verified files already on disk are skipped without any
 * request; each newly verified file is recorded in the manifest at once, so a run stopped at any
 * point resumes where it was. On the first failure no new file is started, the ones in flight finish,
 * and the error is thrown.
 */
export async function fetchKlines(o: FetchOptions): Promise<FetchResult> {
  const plan = planArchiveFiles(o);
  const ctx = resolveContext(o);
  try {
    mkdirSync(ctx.outDir, { recursive: true });
  } catch (e) {
    throw new UserError(`outDir: cannot create ${received(ctx.outDir)} (${e instanceof Error ? e.message : String(e)})`);
  }
  const manifestPath = join(ctx.outDir, MANIFEST_FILE);
  const manifest = readManifest(manifestPath);

  const fetchOne = async (item: ArchiveFile): Promise<FetchedFile> => {
    const key = `${item.symbol}/${ctx.interval}/${item.file}`;
    const job: Job = {
      ...item,
      key,
      label: `${item.symbol} ${ctx.interval} ${item.period}`,
      url: `${ctx.baseUrl}/${item.urlPath}`,
      path: join(ctx.outDir, item.symbol, ctx.interval, item.file),
    };
    const base = { symbol: job.symbol, file: job.file, url: job.url, path: job.path };
    const rec = manifest.files[key];
    if (rec && existsSync(job.path) && (await sha256File(job.path)) === rec.sha256) {
      return { ...base, sha256: rec.sha256, bytes: statSync(job.path).size, status: 'skipped' };
    }
    // Present but unverified (no record, or changed since): remove it so no unverified zip lingers.
    rmSync(job.path, { force: true });
    mkdirSync(dirname(job.path), { recursive: true });
    try {
      const got = await withRetries(job, ctx, () => downloadVerified(job, ctx));
      manifest.files[key] = { url: job.url, sha256: got.sha256, bytes: got.bytes, verifiedAt: new Date().toISOString() };
      writeJsonAtomic(manifestPath, manifest); // synchronous, so concurrent workers never interleave writes
      return { ...base, ...got, status: 'downloaded' };
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      if (!ctx.allowMissing) throw new UserError(notFoundMessage(job, e.url));
      return { ...base, path: '', sha256: '', bytes: 0, status: 'missing' };
    }
  };

  const files: FetchedFile[] = new Array<FetchedFile>(plan.length);
  let next = 0;
  let done = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure && next < plan.length) {
      const i = next++;
      const item = plan[i]!;
      try {
        const f = await fetchOne(item);
        files[i] = f;
        done++;
        o.onProgress?.({ done, total: plan.length, file: f.file, status: f.status });
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const concurrency = Math.min(o.concurrency ?? 4, plan.length);
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failure) throw failure.error;
  return { files, missing: files.filter((f) => f.status === 'missing').map((f) => f.file), manifestPath };
}
