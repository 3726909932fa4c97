// Output: human text on stdout (or one JSON document with --json), progress bars on stderr
// when it is a terminal, nothing decorative when piped.
import cliProgress from 'cli-progress';

export interface Ui {
  json: boolean;
  quiet: boolean;
  /** A human line (suppressed by --json / --quiet). */
  say(line: string): void;
  /** A warning on stderr (always shown, except --quiet). */
  warn(line: string): void;
  /** The final result: JSON with --json, else the human formatter. */
  result(value: unknown, human: () => string): void;
  progress(label: string, total: number): Progress;
}

export interface Progress {
  update(done: number, detail?: string): void;
  stop(): void;
}

export function makeUi(opts: { json?: boolean; quiet?: boolean }): Ui {
  const json = !!opts.json;
  const quiet = !!opts.quiet;
  const tty = !!process.stderr.isTTY && !json && !quiet;
  return {
    json,
    quiet,
    say: (line) => {
      if (!json && !quiet) process.stdout.write(line + '\n');
    },
    warn: (line) => {
      if (!quiet) process.stderr.write(`warning: ${line}\n`);
    },
    result: (value, human) => {
      if (json) process.stdout.write(JSON.stringify(value, null, 2) + '\n');
      else if (!quiet) process.stdout.write(human() + '\n');
    },
    progress: (label, total) => {
      if (!tty) return { update: () => {}, stop: () => {} };
      const bar = new cliProgress.SingleBar(
        { format: `${label.padEnd(10)} [{bar}] {value}/{total} {detail}`, hideCursor: true, clearOnComplete: false, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { detail: '' });
      return {
        update: (done, detail = '') => bar.update(done, { detail }),
        stop: () => bar.stop(),
      };
    },
  };
}

/** A fixed-width text table. */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const w = header.map((_, j) => Math.max(...cells.map((r) => (r[j] ?? '').length)));
  return cells.map((r) => r.map((c, j) => (j === 0 ? c.padEnd(w[j]!) : c.padStart(w[j]!))).join('  ')).join('\n');
}
