#!/usr/bin/env node
// `npm run bench`: every benchmark in its own process (so one's memory does not skew another's),
// one after the other; prints a single JSON document {data, features, hmm} on stdout and writes it
// to bench-results/. Pass names to run a subset: `npm run -s bench -- features hmm`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const here = new URL('.', import.meta.url).pathname;
const root = join(here, '..', '..');
const ALL = { data: 'run.mjs', features: 'features.mjs', hmm: 'hmm.mjs', nn: 'nn.mjs' };
const want = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(ALL);
const result = { benchmark: 'regime', started: new Date().toISOString() };
let failed = false;
for (const name of want) {
  const file = ALL[name];
  if (!file) {
    process.stderr.write(`unknown benchmark '${name}' (${Object.keys(ALL).join(', ')})\n`);
    process.exit(1);
  }
  if (!existsSync(join(here, file))) {
    result[name] = { skipped: `${file} not present` };
    continue;
  }
  process.stderr.write(`\n=== bench ${name} ===\n`);
  const r = spawnSync(process.execPath, [join(here, file)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 28 });
  try {
    result[name] = JSON.parse(r.stdout);
  } catch {
    result[name] = { failed: `exit ${r.status}`, stdout: r.stdout.slice(0, 2000) };
    failed = true;
  }
}
const dir = join(root, 'bench-results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `bench-${result.started.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
process.stderr.write(`\nwritten: ${file}\n`);
process.exit(failed ? 1 : 0);
