/**
 * `avbench bench --corpus DIR [--scanner NAME]... [--mode M]... [--sut URL]...
 *                [--concurrency N]... [--repeat N] [--warmup N] [--limit N] [--out DIR] [--config FILE]`
 *
 * Runs the matrix (src/bench/runner.ts), writes DIR/results.json (and the report when
 * src/report provides one), and prints the table. Exit 0 when the bench ran (even if a
 * scanner missed), 2 on unusable input.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadConfig } from '../../config/config.js';
import { BenchInputError, MODES, runBench, type BenchEvent } from '../../bench/runner.js';
import type { Results } from '../../bench/results.js';
import { formatTable } from '../../bench/table.js';
import { writeResultsFile } from '../../bench/write.js';
import type { ModeName } from '../../modes/types.js';
import type { CliState } from '../main.js';
import { progress, type Progress } from '../progress.js';

interface BenchArgs {
  corpus: string;
  scanner?: string[];
  mode?: string[];
  sut?: string[];
  concurrency?: number[];
  repeat: number;
  warmup: number;
  limit?: number;
  out?: string;
  config?: string;
  baseline: boolean;
}

/** Default output folder: out/bench-<UTC timestamp>/. */
export function defaultOutDir(now = new Date()): string {
  return join('out', `bench-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`);
}

/**
 * Render the report when src/report exports `writeReport(results, outDir)`; returns the
 * report's path (or undefined while no report module exists).
 */
async function tryWriteReport(results: Results, outDir: string): Promise<string | undefined> {
  let mod: { writeReport?: (r: Results, dir: string) => Promise<unknown> };
  try {
    const spec = '../../report/index.js';
    mod = (await import(spec)) as typeof mod;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw err;
  }
  if (typeof mod.writeReport !== 'function') return undefined;
  const out = await mod.writeReport(results, outDir);
  return typeof out === 'string' ? out : join(outDir, 'report.html');
}

/** Live progress per run on a terminal (quiet in CI and pipes), skip notices always. */
function progressPrinter(): (e: BenchEvent) => void {
  let bar: Progress | undefined;
  return (e) => {
    switch (e.type) {
      case 'skip':
        bar?.done();
        process.stderr.write(`avbench: skipping ${e.name}: ${e.reason}\n`);
        break;
      case 'run-start':
        bar = undefined;
        break;
      case 'pass':
        if (e.done <= 16 || bar === undefined) {
          bar?.done();
          bar = progress(`[${e.id}] ${e.warmup ? 'warm-up' : `repeat ${e.pass}`}/${e.passes}`, e.messages);
        }
        bar.tick(e.done);
        break;
      case 'run-end':
      case 'run-failed':
        bar?.done();
        bar = undefined;
        break;
    }
  };
}

/** The yargs module of `avbench bench`. */
export function benchCommand(state: CliState): CommandModule<object, BenchArgs> {
  return {
    command: 'bench',
    describe: 'Benchmark scanners × modes × concurrency over a corpus → results.json, table (and report)',
    builder: (y: Argv) =>
      y
        .option('corpus', { type: 'string', demandOption: true, describe: 'corpus folder (manifest.json for detection figures), mbox or Maildir' })
        .option('scanner', { alias: 's', type: 'string', array: true, describe: 'scanner name (repeatable); default: every available scanner' })
        .option('mode', { alias: 'm', type: 'string', array: true, choices: [...MODES], describe: 'interception mode (repeatable); default: all' })
        .option('sut', { type: 'string', array: true, describe: 'third-party system under test: smtp://HOST:PORT[?sink=PORT], milter://HOST:PORT, milter+unix:///PATH, lda:COMMAND' })
        .option('concurrency', { alias: 'n', type: 'number', array: true, describe: 'messages in flight (repeatable); default 1' })
        .option('repeat', { alias: 'r', type: 'number', default: 3, describe: 'measured repeats per run (the median is reported)' })
        .option('warmup', { type: 'number', default: 1, describe: 'unmeasured warm-up passes per run' })
        .option('limit', { type: 'number', describe: 'bench only the first N messages of the corpus' })
        .option('baseline', { type: 'boolean', default: true, describe: 'no-scan baseline per mode (--no-baseline to skip)' })
        .option('out', { alias: 'o', type: 'string', describe: 'output folder (default out/bench-<timestamp>/)' })
        .option('config', { alias: 'c', type: 'string', describe: 'config file (default: ./avbench.config.json when present)' })
        .example('$0 bench --corpus corpora/quick', 'every available scanner in every mode')
        .example('$0 bench --corpus corpora/full -s clamd -m direct -m smtp -n 1 -n 8', 'clamd, two modes, two concurrency levels')
        .example('$0 bench --corpus corpora/quick --sut "smtp://127.0.0.1:10025?sink=10026&name=clamsmtpd"', 'a clamsmtpd whose OutAddress is 127.0.0.1:10026') as unknown as Argv<BenchArgs>,
    handler: async (args: ArgumentsCamelCase<BenchArgs>) => {
      state.exitCode = await bench(args);
    },
  };
}

async function bench(args: BenchArgs): Promise<number> {
  const { config, path: configPath } = await loadConfig(args.config);
  const outDir = resolve(args.out ?? defaultOutDir());
  let results: Results;
  try {
    results = await runBench({
      corpus: args.corpus,
      ...(args.scanner === undefined ? {} : { scanners: args.scanner }),
      ...(args.mode === undefined ? {} : { modes: args.mode as ModeName[] }),
      ...(args.sut === undefined ? {} : { suts: args.sut }),
      ...(args.concurrency === undefined ? {} : { concurrency: args.concurrency }),
      repeat: args.repeat,
      warmup: args.warmup,
      ...(args.limit === undefined ? {} : { limit: args.limit }),
      baseline: args.baseline,
      config,
      ...(configPath === undefined ? {} : { configPath }),
      command: ['avbench', ...process.argv.slice(2)].join(' '),
      onEvent: progressPrinter(),
    });
  } catch (err) {
    if (err instanceof BenchInputError) {
      process.stderr.write(`avbench: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, 'results.json');
  await writeResultsFile(file, results);
  process.stdout.write(`${formatTable(results)}\n`);
  const report = await tryWriteReport(results, outDir);
  process.stdout.write(`results: ${file}\n`);
  if (report !== undefined) process.stdout.write(`report: ${report}\n`);
  return 0;
}
