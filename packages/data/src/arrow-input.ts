// Kline input from Arrow IPC files (one symbol per file, named like the csv files). Columns are
// matched by name (open_time, open, high, low, close, volume, and optionally quote_volume, trades,
// taker_buy_base, taker_buy_quote); nulls become NaN explicitly and then fail validation in the
// required columns, so a null price is reported, not passed into a kernel.
import { tableFromIPC, type Vector } from 'apache-arrow';
import { readFileSync } from 'node:fs';
import { klinesFromColumnsSync, type ReadKlinesResult, type KlineColumns } from '@regime/engine';
import { toFloat64 } from './arrow.js';
import { UserError } from './errors.js';

export function readArrowKlines(path: string, options: { intervalMs?: number; repair?: boolean } = {}): ReadKlinesResult {
  let table;
  try {
    table = tableFromIPC(readFileSync(path));
  } catch (e) {
    throw new UserError(`${path}: not a readable Arrow IPC file (${e instanceof Error ? e.message : String(e)})`);
  }
  const col = (name: string, required: boolean): Float64Array | undefined => {
    const c: Vector | null = table.getChild(name);
    if (!c) {
      if (required) throw new UserError(`${path}: column '${name}' is missing (have: ${table.schema.fields.map((f) => f.name).join(', ')})`);
      return undefined;
    }
    return toFloat64(c);
  };
  const columns: KlineColumns = {
    openTime: col('open_time', true)!,
    open: col('open', true)!,
    high: col('high', true)!,
    low: col('low', true)!,
    close: col('close', true)!,
    volume: col('volume', true)!,
  };
  const optional = { quoteVolume: 'quote_volume', trades: 'trades', takerBuyBase: 'taker_buy_base', takerBuyQuote: 'taker_buy_quote' } as const;
  for (const [key, name] of Object.entries(optional)) {
    const v = col(name, false);
    if (v) (columns as unknown as Record<string, Float64Array>)[key] = v;
  }
  return klinesFromColumnsSync(columns, path, options);
}
