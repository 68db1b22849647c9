#!/usr/bin/env node
// The `avbench` executable (package.json "bin": dist/src/cli/bin.cjs). CommonJS on purpose:
// `avbench deliver` runs once per message under an MTA and `avbench scan` races clamdscan as
// a whole process, and an ES module entry costs each run Node's ESM loader start-up (~4 ms
// of ~50, src/cli/README.md). bin.ts (dist/src/cli/bin.js) only requires this file.
// `npm run build` makes dist/src/cli/bin.cjs one file with guard.cjs and lean.cjs
// (scripts/build-deliver.ts, bundleBin).
import { installProcessGuards } from './guard.cjs';
import { leanDeliver, leanScan } from './lean.cjs';

/**
 * Run `avbench ARGV...` and exit with its code. `deliver` and `scan` try their lean bundles
 * first (lean.cts), which hand back undefined whenever the full CLI should run instead
 * (stdin untouched, nothing written then).
 */
async function main(argv: readonly string[]): Promise<never> {
  let code: number | undefined;
  if (argv[0] === 'deliver') code = await leanDeliver(argv.slice(1));
  else if (argv[0] === 'scan') code = await leanScan(argv.slice(1));
  // Every command has finished its work when runCli resolves (serve and `lab up` resolve on
  // SIGINT/SIGTERM): exit now, so a detached child (`lab up --detach`) or a keep-alive socket
  // does not hold the process open. stdout/stderr writes are synchronous on Linux.
  // (The full CLI is ES modules: a dynamic import() from CommonJS loads them.)
  code ??= await (await import('./main.js')).runCli([...argv]);
  process.exit(code);
}

const argv = process.argv.slice(2);
// A closed stdout (`avbench scan -i DIR | head`) ends the command quietly (exit 141); any
// other unexpected error prints one line, the stack only with AVBENCH_DEBUG=1 (guard.cts),
// and exits 2 (75, EX_TEMPFAIL, for deliver: the MTA keeps the message). A rejection of
// main() is such an error too.
installProcessGuards(argv[0] === 'deliver' ? 75 : 2);
void main(argv);
