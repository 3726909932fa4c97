// Worker thread of run.mjs: writes one asset's present 1-minute bars as a normalized kline CSV
// (the format of ../shared/data/klines: 11 columns, header, last four columns empty), fast:
// rows are concatenated into ~2 MB strings and written with one writeSync per chunk.
// Prices are written with String(x), the shortest text that round-trips to the same double.
import { parentPort } from 'node:worker_threads';
import { closeSync, openSync, writeSync } from 'node:fs';

export const HEADER = 'open_time,open,high,low,close,volume,close_time,quote_volume,trades,taker_buy_base,taker_buy_quote\n';

function writeCsv({ path, start, intervalMs, open, high, low, close, volume, present }) {
  const fd = openSync(path, 'w');
  let bytes = writeSync(fd, HEADER);
  let rows = 0;
  let s = '';
  let inChunk = 0;
  const n = present.length;
  const closeOffset = intervalMs - 1;
  try {
    for (let i = 0, t = start; i < n; i++, t += intervalMs) {
      if (!present[i]) continue;
      s += t + ',' + open[i] + ',' + high[i] + ',' + low[i] + ',' + close[i] + ',' + volume[i] + ',' + (t + closeOffset) + ',,,,\n';
      rows++;
      if (++inChunk === 16384) {
        bytes += writeSync(fd, s);
        s = '';
        inChunk = 0;
      }
    }
    if (s) bytes += writeSync(fd, s);
  } finally {
    closeSync(fd);
  }
  return { rows, bytes };
}

parentPort?.on('message', (job) => {
  try {
    parentPort.postMessage({ ok: true, path: job.path, ...writeCsv(job) });
  } catch (e) {
    parentPort.postMessage({ ok: false, path: job.path, error: String(e?.stack ?? e) });
  }
});
