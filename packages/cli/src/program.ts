// The `regime` command's definition. Exit codes: 0 success, 1 user error (a message, no stack trace),
// 2 internal error (set REGIME_DEBUG=1 for the stack).
import { Command, CommanderError, Option } from 'commander';
import * as engine from '@regime/engine';
import { isInterval, isUserError, UserError, type Interval } from '@regime/data';
import { configToYaml, loadConfig, type Config } from './config.js';
import { makeContext, type Context } from './context.js';
import { makeUi } from './ui.js';
import { formatIngest, runIngest } from './commands/ingest.js';
import { formatSynth, runSynth } from './commands/synth.js';
import { formatInfo, runInfo } from './commands/info.js';
import { runExport } from './commands/export.js';
import { formatFetch, runFetch } from './commands/fetch.js';
import { runPipeline } from './commands/run.js';
import { formatFeatures, runFeatures, runFeaturesList, type SetName } from './commands/features.js';
import { formatLabel, runLabel } from './commands/label.js';
import type { TaskName } from '@regime/regimes';
import { formatTrain, runTrain } from './commands/train.js';
import { formatInfer, runInfer } from './commands/infer.js';

interface Globals {
  workdir: string;
  config?: string;
  printConfig?: boolean;
  json?: boolean;
  quiet?: boolean;
  threads?: string;
}

const intervalArg = (v: string): Interval => {
  if (!isInterval(v)) throw new UserError(`unsupported interval '${v}' (use 1m, 5m, 15m, 1h, 4h, 1d, …)`);
  return v;
};
const intervalsArg = (v: string): Interval[] => v.split(',').map((s) => intervalArg(s.trim()));
const intArg = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UserError(`--${name}: expected a non-negative integer, got '${v}'`);
  return n;
};
const numArg = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UserError(`--${name}: expected a number, got '${v}'`);
  return n;
};
const listArg = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);

function context(cmd: Command): Context {
  const g = cmd.optsWithGlobals() as Globals;
  const config: Config = loadConfig(g.config);
  const threads = g.threads !== undefined ? intArg('threads')(g.threads) : config.threads;
  if (threads) engine.setThreads(threads);
  return makeContext(config, g.workdir, makeUi({ json: !!g.json, quiet: !!g.quiet }));
}

/** With --print-config, print the effective config and stop. */
function printedConfig(ctx: Context, cmd: Command): boolean {
  if (!(cmd.optsWithGlobals() as Globals).printConfig) return false;
  if (ctx.ui.json) process.stdout.write(JSON.stringify(ctx.config, null, 2) + '\n');
  else process.stdout.write(configToYaml(ctx.config));
  return true;
}

export function buildProgram(): Command {
  const program = new Command('regime')
    .description(
      'Discover market regimes in crypto markets and allocate by them.\n' +
        'Bars, features, labels and models live in one work directory; `regime run` runs the whole pipeline.',
    )
    .version(`regime ${engine.version()}`, '-V, --version')
    .option('-w, --workdir <dir>', 'work directory for every artifact', './.regime')
    .option('-c, --config <file>', 'YAML config (see `regime --print-config` for every key and its default)')
    .option('--print-config', 'print the effective config (defaults + file + flags) and exit')
    .option('--json', 'machine-readable output on stdout')
    .option('-q, --quiet', 'no progress or summaries, errors only')
    .option('--threads <n>', 'native kernel threads (default: all cores, or REGIME_THREADS)')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('run')
    .description('the main job: bars (ingest the given files, or the synthetic market when none) → info → features → labels → models (train, then the latest regimes); unchanged steps are skipped')
    .argument('[paths...]', 'kline files or folders (Binance archive .zip/.csv, normalized .csv.gz, Arrow IPC)')
    .option('--seed <n>', 'seed for the synthetic market (default: config seed, 42)', intArg('seed'))
    .action(async (paths: string[], o: { seed?: number }, cmd: Command) => {
      const ctx = context(cmd);
      if (printedConfig(ctx, cmd)) return;
      const r = await runPipeline(ctx, { paths, ...(o.seed !== undefined ? { seed: o.seed } : {}) });
      ctx.ui.result(r, () => `done: ${r.steps.map((s) => `${s.step}${s.skipped ? ' (skipped)' : ''} ${Math.round(s.ms)} ms`).join(', ')} → ${r.workdir}`);
    });

  program
    .command('fetch')
    .description("download klines from Binance's public archive (data.binance.vision), verifying every SHA-256 checksum; resumes interrupted runs")
    .option('--symbols <list>', 'comma-separated symbols, e.g. BTCUSDT,ETHUSDT', listArg)
    .option('--interval <i>', 'bar interval (1m, 1h, 1d, …)', intervalArg)
    .option('--from <date>', 'first UTC date, YYYY-MM-DD')
    .option('--to <date>', 'last UTC date, YYYY-MM-DD (inclusive)')
    .option('--base-url <url>', 'archive base URL (default https://data.binance.vision)')
    .option('--out <dir>', 'download folder (default <workdir>/downloads)')
    .option('--allow-missing', 'record months absent from the archive instead of failing')
    .addHelpText('after', '\nExample:\n  regime fetch --symbols BTCUSDT,ETHUSDT --interval 1h --from 2023-01-01 --to 2023-12-31\n  regime ingest .regime/downloads')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const ctx = context(cmd);
      if (printedConfig(ctx, cmd)) return;
      const r = await runFetch(ctx, o as Parameters<typeof runFetch>[1]);
      ctx.ui.result(r, () => formatFetch(r));
    });

  program
    .command('ingest')
    .description('read kline files or folders, validate every row, mark gaps, resample 1m→1h→1d and align all assets; writes <workdir>/bars/*.arrow')
    .argument('<paths...>', 'files or folders: BTCUSDT-1h-2022-01.zip, klines/1h/BTCUSDT.csv.gz, BTCUSDT-1h.arrow, …')
    .option('--intervals <list>', 'intervals to produce (default from config: 1m,1h,1d)', intervalsArg)
    .option('--repair', 'sort unsorted rows and drop duplicates (keeping the first) instead of failing; every repair is reported')
    .option('--min-coverage <x>', 'share of sub-bars a bar needs to be valid (default 0.95)', numArg('min-coverage'))
    .option('--symbol <s>', 'symbol of files whose names do not tell it')
    .option('--interval <i>', 'interval of files whose names do not tell it', intervalArg)
    .addHelpText('after', '\nExamples:\n  regime ingest ../shared/data/klines\n  regime ingest --repair BTCUSDT-1h-2022-01.zip BTCUSDT-1h-2022-02.zip')
    .action(async (paths: string[], o: Record<string, unknown>, cmd: Command) => {
      const ctx = context(cmd);
      if (printedConfig(ctx, cmd)) return;
      const r = await runIngest(ctx, { paths, ...(o as object) });
      ctx.ui.result(r, () => formatIngest(r));
    });

  program
    .command('synth')
    .description('generate the seeded synthetic market (Markov-switching regimes, fat tails, late listings) with its true regime path')
    .option('--assets <n>', 'number of assets (default 13)', intArg('assets'))
    .option('--days <n>', 'number of days (default 1919: 2019-10-01..2024-12-31, a quarter of warm-up then the default splits)', intArg('days'))
    .option('--base-interval <i>', 'interval the generator draws at (default 1h; 1m for minute data)', intervalArg)
    .option('--start <date>', 'first UTC day, YYYY-MM-DD (default 2019-10-01)')
    .option('--seed <n>', 'seed (default: config seed, 42)', intArg('seed'))
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const ctx = context(cmd);
      if (printedConfig(ctx, cmd)) return;
      const r = await runSynth(ctx, o as Parameters<typeof runSynth>[1]);
      ctx.ui.result(r, () => formatSynth(r));
    });

  program
    .command('features')
    .description('compute feature sets from the stored bars (daily: SPEC B3 on 1d; hourly: SPEC A10 on 1h) into <workdir>/features/<set>.arrow')
    .option('--set <names>', 'comma-separated sets: daily, hourly (default from config: both)', listArg)
    .option('--list', 'print every feature of the sets with its kernel, parameters and formula, and exit')
    .addHelpText('after', '\nExamples:\n  regime features --list\n  regime features --set daily\n  regime export features --interval 1d --format csv --out features.csv')
    .action(async (o: { set?: string[]; list?: boolean }, cmd: Command) => {
      const ctx = context(cmd);
      if (printedConfig(ctx, cmd)) return;
      const sets = (o.set ?? ctx.config.features.sets) as SetName[];
      for (const s of sets) if (s !== 'daily' && s !== 'hourly') throw new UserError(`unknown feature set '${s}' (daily, hourly)`);
      if (o.list) {
        process.stdout.write(runFeaturesList(ctx, sets) + '\n');
        return;
      }
      const r = await runFeatures(ctx, sets);
      ctx.ui.result(r, () => formatFeatures(r));
    });

  program
    .command('label')
    .description('label daily regimes (SPEC B4): vol (HMM, K=4 low/normal/high/spike), trend (HMM, K=5 strong_bear…strong_bull), cross (train tertiles of avg pairwise correlation); fitted on train only')
    .option('--task <names>', 'comma-separated tasks: vol, trend, cross (default all)', listArg)
    .option('--seed <n>', 'seed of the GMM initialisation (default: config seed, 42)', intArg('seed'))
    .addHelpText('after', '\nWrites <workdir>/labels/daily.arrow, models/labels-<task>.json and reports/labels-<task>.md.\nExamples:\n  regime label\n  regime label --task vol --seed 7\n  regime export labels --interval 1d --format csv --out labels.csv')
    .action(async (o: { task?: string[]; seed?: number }, cmd: Command) => {
      const ctx = context(cmd);
      if (printedConfig(ctx, cmd)) return;
      const r = await runLabel(ctx, { ...(o.task ? { tasks: o.task as TaskName[] } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}) });
      ctx.ui.result(r, () => formatLabel(r));
    });

  program
    .command('train')
    .description('train the regime classifiers of models/*.yaml (SPEC B5: vol and trend LSTM+attention, cross-sectional graph network, nowcast and t+7 heads) on the stored daily features and labels; natively, with early stopping on validation macro-F1; exports ONNX')
    .option('--models <names>', 'comma-separated spec names (default all, or config train.models)', listArg)
    .option('--seeds <list>', "override every spec's seeds, e.g. 0 or 0,1,2", (v: string) => listArg(v).map((s) => intArg('seeds')(s)))
    .option('--max-epochs <n>', "override every spec's epoch limit", intArg('max-epochs'))
    .option('--specs <dir>', 'folder of model specs (default the repository models/)')
    .addHelpText(
      'after',
      '\nWrites <workdir>/models/<name>.onnx (+ .json sidecar with metrics and history) and reports/<name>.md, ' +
        'where each split shows the model beside the majority, persistence and threshold baselines.\n' +
        'Examples:\n  regime train\n  regime train --models vol-lstm --seeds 0 --max-epochs 20\n  regime infer --asset BTCUSDT',
    )
    .action(async (o: { models?: string[]; seeds?: number[]; maxEpochs?: number; specs?: string }, cmd: Command) => {
      const ctx = context(cmd);
      if (printedConfig(ctx, cmd)) return;
      const r = await runTrain(ctx, o);
      ctx.ui.result(r, () => formatTrain(r));
    });

  program
    .command('infer')
    .description("print an asset's latest regime probabilities from every trained model (ONNX Runtime), with its last bar's date and a warning when that bar is stale")
    .requiredOption('--asset <symbol>', 'asset, e.g. BTCUSDT')
    .option('--models <names>', 'comma-separated model names (default all in <workdir>/models)', listArg)
    .addOption(new Option('--device <d>', 'ONNX Runtime device (cuda needs onnxruntime-node with CUDA binaries)').choices(['cpu', 'cuda']))
    .addHelpText('after', '\nExample:\n  regime infer --asset BTCUSDT\n  regime infer --asset ETHUSDT --models vol-lstm,trend-lstm --json')
    .action(async (o: { asset: string; models?: string[]; device?: 'cpu' | 'cuda' }, cmd: Command) => {
      const ctx = context(cmd);
      if (printedConfig(ctx, cmd)) return;
      const r = await runInfer(ctx, o);
      ctx.ui.result(r, () => formatInfer(r));
    });

  program
    .command('info')
    .description('assets, ranges, gaps and coverage of the stored bars')
    .option('--interval <i>', 'one interval only', intervalArg)
    .action(async (o: { interval?: Interval }, cmd: Command) => {
      const ctx = context(cmd);
      if (printedConfig(ctx, cmd)) return;
      const r = runInfo(ctx, o.interval);
      ctx.ui.result(r, () => formatInfo(r));
    });

  program
    .command('export')
    .description('write a stored artifact as a long table (open_time in ms UTC, symbol, …) to CSV or Arrow IPC')
    .argument('<artifact>', 'what to export: bars, features, labels')
    .requiredOption('--interval <i>', 'interval of the table', intervalArg)
    .requiredOption('--out <file>', 'output file')
    .addOption(new Option('--format <f>', 'output format').choices(['csv', 'arrow']).default('csv'))
    .option('--include-missing', 'also write rows for missing bars (present=false) after listing')
    .option('--symbols <list>', 'only these symbols', listArg)
    .option('--from <date>', 'first open_time (UTC date or ISO time)')
    .option('--to <date>', 'end of range (exclusive)')
    .addHelpText('after', '\nExamples:\n  regime export bars --interval 1d --format csv --out bars.csv\n  regime export features --interval 1d --format csv --out features.csv\n  regime export labels --interval 1d --format csv --out labels.csv')
    .action(async (artifact: string, o: Record<string, unknown>, cmd: Command) => {
      const ctx = context(cmd);
      if (printedConfig(ctx, cmd)) return;
      const r = await runExport(ctx, { artifact, ...(o as object) } as Parameters<typeof runExport>[1]);
      ctx.ui.result(r, () => `wrote ${r.rows} rows of ${r.artifact} (${r.interval}) to ${r.out}`);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    const args = argv.slice(2);
    const verbs = new Set(program.commands.map((c) => c.name()));
    if (args.length === 0) {
      program.outputHelp();
      return 0;
    }
    if (args.includes('--print-config') && !args.some((a) => verbs.has(a))) {
      // `regime --print-config [-c file]` without a verb: parse the globals only.
      program.parseOptions(args);
      const g = program.opts() as Globals;
      const config = loadConfig(g.config);
      process.stdout.write(g.json ? JSON.stringify(config, null, 2) + '\n' : configToYaml(config));
      return 0;
    }
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 1; // commander already printed the usage error
    }
    if (isUserError(e)) {
      process.stderr.write(`error: ${(e as Error).message}\n`);
      return 1;
    }
    process.stderr.write(`internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    if (process.env.REGIME_DEBUG) process.stderr.write(`${e instanceof Error ? e.stack : ''}\n`);
    else process.stderr.write('(set REGIME_DEBUG=1 for details; please report this)\n');
    return 2;
  }
}
