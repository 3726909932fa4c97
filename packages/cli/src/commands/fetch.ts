import { join } from 'node:path';
import { fetchKlines, type FetchResult, type Interval } from '@regime/data';
import type { Context } from '../context.js';

export interface FetchArgs {
  symbols?: string[];
  interval?: Interval;
  from?: string;
  to?: string;
  baseUrl?: string;
  out?: string;
  allowMissing?: boolean;
}

export async function runFetch(ctx: Context, a: FetchArgs): Promise<FetchResult & { outDir: string }> {
  const f = ctx.config.fetch;
  const outDir = a.out ?? join(ctx.workdir, 'downloads');
  let bar: ReturnType<typeof ctx.ui.progress> | undefined;
  const r = await fetchKlines({
    symbols: a.symbols ?? f.symbols,
    interval: (a.interval ?? f.interval) as Interval,
    from: a.from ?? f.from,
    to: a.to ?? f.to,
    baseUrl: a.baseUrl ?? f.baseUrl,
    retries: f.retries,
    outDir,
    allowMissing: !!a.allowMissing,
    onProgress: (e) => {
      bar ??= ctx.ui.progress('fetch', e.total);
      bar.update(e.done, `${e.file} ${e.status}`);
    },
  });
  bar?.stop();
  return { ...r, outDir };
}

export function formatFetch(r: FetchResult & { outDir: string }): string {
  const n = (s: string) => r.files.filter((f) => f.status === s).length;
  const lines = [`fetched into ${r.outDir}: ${n('downloaded')} downloaded, ${n('skipped')} already verified, ${r.missing.length} missing`];
  for (const m of r.missing) lines.push(`missing: ${m}`);
  lines.push(`checksums recorded in ${r.manifestPath}`);
  return lines.join('\n');
}
