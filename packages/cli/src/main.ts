#!/usr/bin/env node
// Entry point of the `regime` command; see program.ts.
import { main } from './program.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`internal error: ${String(e)}\n`);
    process.exitCode = 2;
  },
);
