/**
 * The lean entry of `avbench deliver`: what an MTA runs once per message needs the argument
 * parser of this one command, the config loader, the MIME walk, the adapters and the
 * delivery — not yargs, the bench, the report or the SMTP stack. `npm run build` bundles
 * this file with everything it imports into one CommonJS file, `dist/lean/deliver.cjs`
 * (scripts/build-deliver.ts), which src/cli/lean.ts loads with a V8 code cache.
 *
 * The semantics are those of the yargs command module (src/cli/commands/deliver.ts): the
 * same parsed options go to the same `runDeliver`. An argument list the strict parser does
 * not fully understand is not handled here at all (undefined), so yargs sees it unchanged.
 */
import { parseDeliverArgv, runDeliver, type DeliverIo } from './commands/deliver.js';

/**
 * Run `avbench deliver ARGV...` (ARGV without the word `deliver`). Resolves to the exit
 * code, or undefined — without reading stdin — when the arguments are for yargs to judge.
 */
export async function deliverMain(argv: readonly string[], io?: DeliverIo): Promise<number | undefined> {
  const args = parseDeliverArgv(argv);
  if (args === undefined) return undefined;
  return runDeliver(args, io);
}
