/**
 * `avbench bench --corpus DIR [--scanner NAME]... [--mode M]... [--sut URL]...
 *                [--concurrency N]... [--connection per-message|kept-open] [--rate N] [--repeat N] [--warmup N]
 *                [--limit N] [--mode-limit MODE=N]... [--timeout S] [--out DIR] [--config FILE]`
 *
 * Runs the matrix (src/bench/runner.ts), writes DIR/results.json and the report
 * (report.html, summary.md, PNG charts: src/report), and prints the table. Exit 0 when the bench ran (even if a
 * scanner missed), 2 on unusable input.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadConfig } from '../../config/config.js';
import { BenchInputError, MODES, runBench, type BenchEvent } from '../../bench/runner.js';
import type { Results } from '../../results/types.js';
import { startBenchLab, useRunningLab, type BenchLab } from '../../bench/lab-daemons.js';
import { openCorpus } from '../../corpus/read.js';
import { formatTable } from '../../bench/table.js';
import { writeResultsFile } from '../../bench/write.js';
import type { ModeName } from '../../modes/types.js';
import { writeReport } from '../../report/index.js';
import { CONFIG_OPTION } from '../options.js';
import type { CliState } from '../types.js';
import { progress, type Progress } from '../progress.js';

export interface BenchArgs {
  corpus: string;
  scanner?: string[];
  mode?: string[];
  sut?: string[];
  concurrency?: number[];
  repeat: number;
  warmup: number;
  /** A cold pass per round (default true; `--no-cold` to skip). */
  cold?: boolean;
  limit?: number;
  modeLimit?: string[];
  out?: string;
  config?: string;
  baseline: boolean;
  lab: boolean;
  labDir?: string;
  timeout: number;
  /** smtp runs: a connection per message (default) or kept-open sessions. */
  connection?: 'per-message' | 'kept-open';
  /** smtp runs: messages per second (0 or absent: flat out). */
  rate?: number;
}

/** Default output folder: out/bench-<UTC timestamp>/. */
export function defaultOutDir(now = new Date()): string {
  return join('out', `bench-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`);
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
        bar?.done();
        bar = undefined;
        break;
      case 'pass':
        if (e.done <= 16 || bar === undefined) {
          bar?.done();
          bar = progress(`[${e.id}] ${e.cold === true ? 'cold' : e.warmup ? 'warm-up' : 'warm'} ${e.pass}/${e.passes}`, e.messages);
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
        .option('scanner', { alias: 's', type: 'string', array: true, nargs: 1, describe: 'scanner name (repeatable); default: every available scanner' })
        .option('mode', { alias: 'm', type: 'string', array: true, nargs: 1, choices: [...MODES], describe: 'interception mode (repeatable); default: all' })
        .option('sut', { type: 'string', array: true, nargs: 1, describe: 'third-party system under test: smtp://HOST:PORT[?sink=PORT], milter://HOST:PORT, milter+unix:///PATH, lda:COMMAND; URL options: name=LABEL, pid=PID,PID (its processes: CPU, RSS, versions), deadline=S (its own time limit: errors near it are counted as timeouts, apart from throughput), grace=S (smtp: how long an accepted message may take to reach the sink; default 5)' })
        .option('concurrency', { alias: 'n', type: 'number', array: true, nargs: 1, describe: 'messages in flight (repeatable); default 1' })
        .option('connection', {
          type: 'string',
          choices: ['per-message', 'kept-open'] as const,
          default: 'per-message' as const,
          describe:
            'smtp runs: per-message = connect, EHLO, MAIL, RCPT, DATA, QUIT, close for every message (what a gateway on port 25 gets from internet MTAs, and smtp-source\'s default); kept-open = --concurrency sessions opened once and reused with PIPELINING (an MTA\'s connection cache, a content filter behind Postfix)',
        })
        .option('rate', {
          type: 'number',
          default: 0,
          describe:
            'smtp runs: messages per second across all sessions, sent on a fixed open-loop schedule (message k is due k/N s after the start, late ones go out at once; at most --concurrency at a time); 0 = flat out. msgs/s then shows what was achieved, latency what the SUT costs at that load',
        })
        .option('repeat', { alias: 'r', type: 'number', default: 3, describe: 'measured repeats per run (the median is reported)' })
        .option('warmup', { type: 'number', default: 1, describe: 'unmeasured warm-up passes before each measured warm pass' })
        .option('cold', {
          type: 'boolean',
          default: true,
          describe: 'a measured cold pass per round before the warm-up: unique bytes per message (X-Avbench-Pass header) and, with --lab, clamd RELOADed first (--no-cold to skip)',
        })
        .option('limit', { type: 'number', describe: 'bench only the first N messages of the corpus' })
        .option('mode-limit', { type: 'string', array: true, nargs: 1, describe: 'MODE=N: bench only the first N messages in that mode (e.g. lda=30)' })
        .option('lab', { type: 'boolean', default: false, describe: 'start a lab clamd (+ c-icap) on loopback for the bench and point clamd, clamdscan, clamscan, icap and yara at it' })
        .option('lab-dir', {
          type: 'string',
          describe: 'use the lab `avbench lab up --dir DIR` runs (its config, its clamd RELOADed before cold passes, also for the gateways of state.json that scan through it): scanners alone and gateways on one clamd',
        })
        .check((a) => {
          // (yargs' conflicts() counts --lab's default false as given.)
          if (a['lab'] === true && a['lab-dir'] !== undefined) throw new Error('--lab starts a lab for the bench, --lab-dir uses a running one: give one of them');
          return true;
        })
        .option('timeout', {
          type: 'number',
          default: 60,
          describe: "seconds a driver waits for each message's answer; keep it above the system under test's own timeouts (clamsmtpd TimeOut, milter timeouts) or what it would still answer counts as lost",
        })
        .option('baseline', { type: 'boolean', default: true, describe: 'no-scan baseline per mode (--no-baseline to skip)' })
        .option('out', { alias: 'o', type: 'string', describe: 'output folder (default out/bench-<timestamp>/)' })
        .option('config', CONFIG_OPTION)
        .example('$0 bench --corpus corpora/quick', 'every available scanner in every mode')
        .example('$0 bench --corpus corpora/full -s clamd -m direct -m smtp -n 1 -n 8', 'clamd, two modes, two concurrency levels')
        .example('$0 bench --corpus corpora/quick --sut "smtp://127.0.0.1:10025?sink=10026&name=clamsmtpd"', 'a clamsmtpd whose OutAddress is 127.0.0.1:10026')
        .example('$0 bench --corpus corpora/full -s clamd -m smtp -n 20 --rate 50', 'our SMTP proxy at 50 msgs/s, a new connection per message, at most 20 at a time')
        .example('$0 bench --corpus corpora/full -s clamd -m smtp -n 4 --connection kept-open', 'four kept-open sessions, flat out') as unknown as Argv<BenchArgs>,
    handler: async (args: ArgumentsCamelCase<BenchArgs>) => {
      state.exitCode = await bench(args);
    },
  };
}

/** Quote a word for a POSIX shell when it needs it. */
function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`;
}

/** The command line that reproduces this bench (from the parsed options, for results.json). */
export function commandLine(args: BenchArgs): string {
  const words = ['avbench', 'bench', '--corpus', args.corpus];
  for (const s of args.scanner ?? []) words.push('--scanner', s);
  for (const m of args.mode ?? []) words.push('--mode', m);
  for (const u of args.sut ?? []) words.push('--sut', u);
  for (const c of args.concurrency ?? []) words.push('--concurrency', String(c));
  words.push('--repeat', String(args.repeat), '--warmup', String(args.warmup));
  if (args.limit !== undefined) words.push('--limit', String(args.limit));
  for (const l of args.modeLimit ?? []) words.push('--mode-limit', l);
  if (args.timeout !== 60) words.push('--timeout', String(args.timeout));
  // The load shape matters to smtp runs only; written out whenever there are some (defaults may change).
  const smtpRuns = args.mode === undefined || args.mode.includes('smtp') || (args.sut ?? []).some((u) => /^(smtp|lmtp):/.test(u));
  if (smtpRuns) words.push('--connection', args.connection ?? 'per-message');
  if (smtpRuns && args.rate !== undefined && args.rate > 0) words.push('--rate', String(args.rate));
  if (args.cold === false) words.push('--no-cold');
  if (!args.baseline) words.push('--no-baseline');
  if (args.lab) words.push('--lab');
  if (args.labDir !== undefined) words.push('--lab-dir', args.labDir);
  if (args.config !== undefined) words.push('--config', args.config);
  return words.map(shellWord).join(' ');
}

/** `lda=30` → { lda: 30 }; throws BenchInputError for anything else. */
export function parseModeLimits(values: readonly string[]): Partial<Record<ModeName, number>> {
  const out: Partial<Record<ModeName, number>> = {};
  for (const v of values) {
    const m = /^(direct|smtp|milter|lda)=(\d+)$/.exec(v);
    if (m === null) throw new BenchInputError(`--mode-limit expects MODE=N (MODE one of ${MODES.join(', ')}), got ${JSON.stringify(v)}`);
    out[m[1] as ModeName] = Number(m[2]);
  }
  return out;
}

/**
 * A corpus that opens but holds no message is an error, said before anything starts or is
 * written (a bench of nothing is not a pass). undefined when it has messages, or when it does
 * not open (runBench then says why).
 */
async function emptyCorpusProblem(corpus: string): Promise<string | undefined> {
  let messages: number;
  try {
    messages = (await openCorpus(corpus)).info.messages;
  } catch {
    return undefined;
  }
  if (messages > 0) return undefined;
  return `no message in ${corpus}: --corpus takes a folder of .eml files (manifest.json for detection figures), an mbox file or a Maildir holding messages; \`avbench corpus generate --out DIR\` makes one`;
}

async function bench(args: BenchArgs): Promise<number> {
  const empty = await emptyCorpusProblem(args.corpus);
  if (empty !== undefined) {
    process.stderr.write(`avbench: ${empty}\n`);
    return 2;
  }
  const loaded = await loadConfig(args.config);
  let config = loaded.config;
  let configPath = loaded.path;
  const outDir = resolve(args.out ?? defaultOutDir());
  let lab: BenchLab | undefined;
  let scannerPids: Record<string, number[]> | undefined;
  const onSignal = (): void => {
    void (lab?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  if (args.lab || args.labDir !== undefined) {
    try {
      lab = args.labDir !== undefined ? await useRunningLab(resolve(args.labDir)) : await startBenchLab(config);
    } catch (err) {
      process.stderr.write(`avbench: ${args.labDir !== undefined ? '--lab-dir' : '--lab'}: ${(err as Error).message}\n`);
      return 2;
    }
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    for (const n of lab.notes) process.stderr.write(`avbench: lab: ${n}\n`);
    config = lab.config;
    configPath = lab.configPath;
    scannerPids = lab.pids;
  }
  let results: Results;
  try {
    const modeLimits = parseModeLimits(args.modeLimit ?? []);
    if (!(Number.isFinite(args.timeout) && args.timeout > 0)) throw new BenchInputError(`--timeout expects seconds > 0, got ${String(args.timeout)}`);
    const rate = args.rate ?? 0;
    if (!(Number.isFinite(rate) && rate >= 0)) throw new BenchInputError(`--rate expects messages per second ≥ 0 (0 = flat out), got ${String(args.rate)}`);
    results = await runBench({
      modeLimits,
      corpus: args.corpus,
      ...(args.scanner === undefined ? {} : { scanners: args.scanner }),
      ...(args.mode === undefined ? {} : { modes: args.mode as ModeName[] }),
      ...(args.sut === undefined ? {} : { suts: args.sut }),
      ...(args.concurrency === undefined ? {} : { concurrency: args.concurrency }),
      repeat: args.repeat,
      warmup: args.warmup,
      cold: args.cold !== false,
      ...(lab === undefined ? {} : { coldReset: lab.coldReset }),
      ...(args.limit === undefined ? {} : { limit: args.limit }),
      timeoutMs: args.timeout * 1000,
      connection: args.connection ?? 'per-message',
      ...(rate > 0 ? { rate } : {}),
      baseline: args.baseline,
      config,
      ...(configPath === undefined ? {} : { configPath }),
      ...(scannerPids === undefined ? {} : { scannerPids }),
      command: commandLine(args),
      onEvent: progressPrinter(),
    });
  } catch (err) {
    if (err instanceof BenchInputError) {
      process.stderr.write(`avbench: ${err.message}\n`);
      return 2;
    }
    throw err;
  } finally {
    if (lab !== undefined) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await lab.stop();
    }
  }
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, 'results.json');
  await writeResultsFile(file, results);
  process.stdout.write(`${formatTable(results)}\n`);
  process.stdout.write(`results: ${file}\n`);
  const report = await writeReport(results, outDir);
  process.stdout.write(`report: ${report.html}\n`);
  return 0;
}
