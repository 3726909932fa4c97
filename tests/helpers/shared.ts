// Access to ../shared (real Binance data and reference fixtures). Where it is absent (a user's
// fresh clone) the tests that need it are skipped with a printed reason; under CI=true they fail.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'vitest';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED = resolve(REPO, '../shared');
export const DATA = join(SHARED, 'data');
export const KLINES = join(DATA, 'klines');
export const FIXTURES = join(SHARED, 'fixtures');
export const HAVE_SHARED = existsSync(join(KLINES, '1d', 'BTCUSDT.csv.gz')) && existsSync(FIXTURES);

/** `describe` for tests that need ../shared. */
export function describeShared(name: string, fn: () => void): void {
  if (HAVE_SHARED) {
    describe(name, fn);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs ../shared beside the repository', () => {
        throw new Error(`../shared not found at ${SHARED}; CI must provide it`);
      });
    });
  } else {
    console.warn(`[skipped] ${name}: ../shared not found at ${SHARED} (real-data tests need it)`);
    describe.skipIf(true)(name, fn);
  }
}

export function fixture<T = any>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as T;
}

/** Binance's known incident bars (../shared/data/README.md): published 1h and 1d may differ on these UTC days. */
export const INCIDENT_DAYS = [
  '2018-11-26', '2018-12-17', '2019-05-08', '2019-10-01', '2019-12-04', '2020-10-27', '2020-12-21',
  '2021-01-11', '2021-01-21', '2021-04-23', '2021-12-24', '2021-12-27', '2022-04-13',
].map((d) => Date.parse(`${d}T00:00:00Z`));
