/**
 * The `avbench` command line (yargs, one command module per file).
 * Exit codes: each command sets its own (scan: 0 clean, 1 infected, 2 error); usage and
 * config errors exit 2 with a message saying what to do.
 */
import yargs, { type CommandModule } from 'yargs';
import { ConfigError } from '../config/config.js';
import type { CliState, CommandFactory } from './types.js';

export type { CliState } from './types.js';

/**
 * Command modules, loaded on demand: `avbench deliver` runs once per message under an MTA,
 * so it must not pay for loading the bench, the report and the SMTP stack.
 */
const COMMANDS: Record<string, () => Promise<CommandFactory>> = {
  scan: async () => (await import('./commands/scan.js')).scanCommand as CommandFactory,
  corpus: async () => (await import('./commands/corpus.js')).corpusCommand as CommandFactory,
  scanners: async () => (await import('./commands/scanners.js')).scannersCommand as CommandFactory,
  bench: async () => (await import('./commands/bench.js')).benchCommand as CommandFactory,
  report: async () => (await import('./commands/report.js')).reportCommand as CommandFactory,
  serve: async () => (await import('./commands/serve.js')).serveCommand as CommandFactory,
  deliver: async () => (await import('./commands/deliver.js')).deliverCommand as CommandFactory,
  lab: async () => (await import('./commands/lab.js')).labCommand as CommandFactory,
  check: async () => (await import('./commands/check.js')).checkCommand as CommandFactory,
};

/**
 * Exit code of a usage error: 2, or 64 (EX_USAGE, sysexits) for `avbench deliver`, which an
 * MTA runs and reads as a sysexits code.
 */
export function usageExitCode(command: string | undefined): number {
  return command === 'deliver' ? 64 : 2;
}

/**
 * Run the CLI with `argv` (without node and script); resolves to the exit code.
 *
 * A usage error (unknown option, missing value, bad choice) is reported before the command
 * runs, so nothing is read, written, delivered or bound: the `fail` handler throws, which
 * stops yargs before it calls the handler (a `fail` handler that only records the message
 * lets yargs go on and run the command first).
 */
export async function runCli(argv: string[]): Promise<number> {
  const state: CliState = { exitCode: 0 };
  const first = argv.find((a) => !a.startsWith('-'));
  const names = first !== undefined && first in COMMANDS ? [first] : Object.keys(COMMANDS);
  const factories = await Promise.all(names.map((n) => (COMMANDS[n] as () => Promise<CommandFactory>)()));
  const usageCode = usageExitCode(names.length === 1 ? first : undefined);
  // yargs drops a lone `-` from a command's paths; `scan -` (a message on stdin) gets it as /dev/stdin.
  const done = await parse(first === 'scan' ? argv.map((a) => (a === '-' ? '/dev/stdin' : a)) : argv, factories.map((f) => f(state)));
  if (done.configError !== undefined) {
    process.stderr.write(`avbench: ${done.configError}\n`);
    return 2;
  }
  // Not a usage error: no usage hint. A failure the command met (a disk, a network, a
  // scanner) is one line and the command's failure code (2; 75 for deliver, EX_TEMPFAIL);
  // a bug (TypeError and the like) goes to bin.cts's guard, which calls it an internal error.
  if (done.runtime !== undefined) {
    const err = done.runtime;
    if (!(err instanceof Error) || err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || err instanceof SyntaxError) throw err;
    process.stderr.write(`avbench: ${(err.message || err.name).split('\n')[0]}\n${process.env['AVBENCH_DEBUG'] === '1' ? `${err.stack ?? ''}\n` : ''}`);
    return first === 'deliver' ? 75 : 2;
  }
  if (done.failed !== undefined) return report(done.failed, usageCode);
  return state.exitCode;
}

function report(failed: string, code: number): number {
  process.stderr.write(`avbench: ${failed}\nRun \`avbench --help\` for usage.\n`);
  return code;
}

async function parse(argv: string[], modules: CommandModule<object, never>[]): Promise<{ failed?: string; configError?: string; runtime?: unknown }> {
  let failed: string | undefined;
  let runtime: unknown;
  let parser = yargs(argv)
    .scriptName('avbench')
    .usage('avbench — evaluate and benchmark the virus scanners of Unix mail gateways\n\nUsage: $0 <command> [options]')
    .demandCommand(1, `Name a command: ${Object.keys(COMMANDS).join(', ')} (see --help).`)
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(100, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      if (err instanceof ConfigError) throw err;
      // yargs reports its own checks with a message (or a YError); anything else was thrown
      // by a command while it ran.
      if (!msg && err !== undefined && err !== null && (err as Error).name !== 'YError') {
        runtime = err;
        throw err;
      }
      failed ??= msg || (err instanceof Error ? err.message : String(err));
      throw err ?? new Error(msg);
    })
    .epilogue('Docs: README.md. Scanners are configured in avbench.config.json (see `avbench scanners`).');
  for (const m of modules) parser = parser.command(m);
  try {
    await parser.parseAsync();
  } catch (err) {
    if (err instanceof ConfigError) return { configError: err.message };
    if (runtime !== undefined) return { runtime };
    failed ??= err instanceof Error ? err.message : String(err);
  }
  return failed === undefined ? {} : { failed };
}
