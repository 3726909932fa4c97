import { resolve } from 'node:path';
import type { Config } from './config.js';
import type { Ui } from './ui.js';

/** What every command gets: the effective config, the work directory and the output channel. */
export interface Context {
  config: Config;
  workdir: string;
  ui: Ui;
}

export function makeContext(config: Config, workdir: string, ui: Ui): Context {
  return { config, workdir: resolve(workdir), ui };
}
