/**
 * The `avbench` command line (yargs, one command module per file).
 * Exit codes: each command sets its own (scan: 0 clean, 1 infected, 2 error); usage and
 * config errors exit 2 with a message saying what to do.
 */
import yargs from 'yargs';
import { ConfigError } from '../config/config.js';
import { corpusCommand } from './commands/corpus.js';
import { benchCommand } from './commands/bench.js';
import { deliverCommand } from './commands/deliver.js';
import { reportCommand } from './commands/report.js';
import { serveCommand } from './commands/serve.js';
import { scanCommand } from './commands/scan.js';
import { scannersCommand } from './commands/scanners.js';

/** Shared state a command handler uses to report its exit code. */
export interface CliState {
  exitCode: number;
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const state: CliState = { exitCode: 0 };
  let failed: string | undefined;
  const parser = yargs(argv)
    .scriptName('avbench')
    .usage('avbench — evaluate and benchmark the virus scanners of Unix mail gateways\n\nUsage: $0 <command> [options]')
    .command(scanCommand(state))
    .command(corpusCommand(state))
    .command(scannersCommand(state))
    .command(benchCommand(state))
    .command(reportCommand(state))
    .command(serveCommand(state))
    .command(deliverCommand(state))
    .demandCommand(1, 'Name a command: scan, corpus, scanners, bench, report, serve, deliver (see --help).')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(100, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      failed = msg || (err instanceof Error ? err.message : String(err));
    })
    .epilogue('Docs: README.md. Scanners are configured in avbench.config.json (see `avbench scanners`).');
  try {
    await parser.parseAsync();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`avbench: ${err.message}\n`);
      return 2;
    }
    failed = err instanceof Error ? err.message : String(err);
  }
  if (failed !== undefined) {
    process.stderr.write(`avbench: ${failed}\nRun \`avbench --help\` for usage.\n`);
    return 2;
  }
  return state.exitCode;
}
