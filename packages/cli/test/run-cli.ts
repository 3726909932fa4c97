// The built `regime` CLI as a child process, as users run it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = resolve(fileURLToPath(import.meta.url), '../../bin/regime.js');
export const tmp = () => mkdtempSync(join(tmpdir(), 'regime-cli-'));

export function regime(args: string[], cwd = tmp()) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, REGIME_DEBUG: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr, cwd };
}
