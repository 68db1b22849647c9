/**
 * The lean entry of `avbench scan`: the usual command line (`scan [-s NAME]... [--json] [-i]
 * [-c FILE] [--no-summary] PATH...`) needs this command's argument parser, the config
 * loader, the adapters, the core and the corpus reader — not yargs (whose set-up and help
 * text cost ~0.1 s of CPU per run), the bench, the report or the SMTP stack. `npm run build`
 * bundles this file with everything it imports into one CommonJS file, `dist/lean/scan.cjs`
 * (scripts/build-deliver.ts), which src/cli/lean.cts loads with a V8 code cache.
 *
 * The semantics are those of the yargs command module (src/cli/commands/scan.ts): the same
 * parsed options go to the same `runScan`, and its errors are reported as src/cli/main.ts
 * reports them. An argument list the strict parser does not fully understand is not
 * handled here at all (undefined), so yargs sees it unchanged.
 */
import { ConfigError } from '../config/config.js';
import { parseScanArgv, runScan, type ScanIo } from './commands/scan.js';

/**
 * Run `avbench scan ARGV...` (ARGV without the word `scan`). Resolves to the exit code, or
 * undefined — before anything is read or written — when the arguments are for yargs to judge.
 */
export async function scanMain(argv: readonly string[], io?: ScanIo): Promise<number | undefined> {
  const args = parseScanArgv(argv);
  if (args === undefined) return undefined;
  const stderr = io?.stderr ?? process.stderr;
  try {
    return await runScan(args, io);
  } catch (err) {
    // As runCli: a config error is one line; anything else the handler throws is reported
    // as yargs' fail handler sees it, with the hint to --help.
    if (err instanceof ConfigError) stderr.write(`avbench: ${err.message}\n`);
    else stderr.write(`avbench: ${err instanceof Error ? err.message : String(err)}\nRun \`avbench --help\` for usage.\n`);
    return 2;
  }
}
