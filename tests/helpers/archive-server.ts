// A real HTTP server on 127.0.0.1 serving a data.binance.vision-shaped tree built from the genuine
// hourly bars in ../shared/data (monthly zips in archive format, with .CHECKSUM files).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { strToU8, zipSync } from 'fflate';
import { KLINES } from './shared.js';

export interface ArchiveServer {
  url: string;
  hits: string[];
  close(): Promise<void>;
}

/** Serve `symbol`'s 1h bars for the given months (YYYY-MM) as Binance monthly archive files. */
export async function startArchiveServer(symbol: string, months: string[]): Promise<ArchiveServer> {
  const lines = gunzipSync(readFileSync(join(KLINES, '1h', `${symbol}.csv.gz`))).toString('utf8').trim().split('\n').slice(1);
  const files = new Map<string, Uint8Array | string>();
  for (const month of months) {
    const lo = Date.parse(`${month}-01T00:00:00Z`);
    const [y, m] = month.split('-').map(Number);
    const hi = Date.UTC(y!, m!, 1);
    // Archive rows have 12 columns and no header; the optional columns the source lacks stay empty.
    const rows = lines.filter((l) => {
      const t = Number(l.slice(0, l.indexOf(',')));
      return t >= lo && t < hi;
    }).map((l) => `${l},`);
    const name = `${symbol}-1h-${month}`;
    const zip = zipSync({ [`${name}.csv`]: strToU8(rows.join('\n') + '\n') });
    const path = `/data/spot/monthly/klines/${symbol}/1h/${name}.zip`;
    files.set(path, zip);
    files.set(`${path}.CHECKSUM`, `${createHash('sha256').update(zip).digest('hex')}  ${name}.zip\n`);
  }
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    hits.push(path);
    const body = files.get(path);
    if (body === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, hits, close: () => new Promise((r) => server.close(() => r())) };
}
