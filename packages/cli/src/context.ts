import { resolve } from 'node:path';
import type { Config } from './config.js';
import type { Ui } from './ui.js';
import { version as coreVersion } from '@regime/engine';

/** What every command gets: the effective config, the work directory and the output channel. */
export interface Context {
  config: Config;
  workdir: string;
  ui: Ui;
  /** Code version recorded with artifacts. */
  version: string;
}

export function makeContext(config: Config, workdir: string, ui: Ui): Context {
  return { config, workdir: resolve(workdir), ui, version: coreVersion() };
}
