#!/usr/bin/env node
// `npm test`: build what is stale (Nx cache), then every test tier that runs in CI:
//   1. the Rust core's unit and property tests (cargo test -p regime-core)
//   2. every Vitest project (engine, data, cli, e2e)
// and print one line `tests: N passed, N failed` with the real counts. Exit non-zero on any
// failure, including a runner that crashed before reporting.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' };
let passed = 0;
let failed = 0;
let crashed = [];

function run(cmd, args, opts = {}) {
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  return spawnSync(cmd, args, { cwd: root, env, stdio: opts.capture ? ['inherit', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8', maxBuffer: 1 << 28 });
}

const build = run('npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static']);
if (build.status !== 0) {
  console.log('\ntests: 0 passed, 1 failed (build failed)');
  process.exit(1);
}

// 1. Rust core
const cargo = run('cargo', ['test', '--manifest-path', 'native/Cargo.toml', '-p', 'regime-core'], { capture: true });
process.stdout.write(cargo.stdout ?? '');
let cargoCounted = false;
for (const m of (cargo.stdout ?? '').matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
  passed += Number(m[1]);
  failed += Number(m[2]);
  cargoCounted = true;
}
if (cargo.status !== 0 && !cargoCounted) crashed.push('cargo test');
else if (cargo.status !== 0 && failed === 0) crashed.push('cargo test');

// 2. Vitest
const out = join(root, '.test-results');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const vitestJson = join(out, 'vitest.json');
const vt = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJson}`]);
try {
  const r = JSON.parse(readFileSync(vitestJson, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  // A test file that fails to load has no failed tests but is a failure all the same.
  const brokenFiles = (r.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).every((a) => a.status !== 'failed'));
  failed += brokenFiles.length;
  for (const f of brokenFiles) console.log(`failed to run: ${f.name}: ${(f.message ?? '').split('\n')[0]}`);
} catch (e) {
  crashed.push(`vitest (${e.message})`);
}
if (vt.status !== 0 && failed === 0 && crashed.length === 0) crashed.push('vitest exited non-zero');

failed += crashed.length;
for (const c of crashed) console.log(`runner failed: ${c}`);
console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
