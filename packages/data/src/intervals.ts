// Bar intervals by their Binance names.

export const INTERVALS = {
  '1m': 60_000,
  '3m': 180_000,
  '5m': 300_000,
  '15m': 900_000,
  '30m': 1_800_000,
  '1h': 3_600_000,
  '2h': 7_200_000,
  '4h': 14_400_000,
  '6h': 21_600_000,
  '8h': 28_800_000,
  '12h': 43_200_000,
  '1d': 86_400_000,
} as const;

export type Interval = keyof typeof INTERVALS;

export function isInterval(s: string): s is Interval {
  return Object.prototype.hasOwnProperty.call(INTERVALS, s);
}

export function intervalMs(s: string): number {
  if (!isInterval(s)) throw new TypeError(`Expected an interval (${Object.keys(INTERVALS).join(', ')}) but received ${JSON.stringify(s)}`);
  return INTERVALS[s];
}

export function intervalName(ms: number): Interval | undefined {
  return (Object.keys(INTERVALS) as Interval[]).find((k) => INTERVALS[k] === ms);
}

export function sortIntervals<T extends string>(list: T[]): T[] {
  return [...list].sort((a, b) => intervalMs(a) - intervalMs(b));
}
