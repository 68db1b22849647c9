#!/usr/bin/env node
export {};
// `avbench deliver` runs once per message under an MTA, and `avbench scan` is measured against
// clamdscan as a whole process: try their lean bundles first (src/cli/lean.ts), which hand back
// undefined whenever the full CLI should run instead (stdin untouched, nothing written then).
const argv = process.argv.slice(2);
// A closed stdout (`avbench scan -i DIR | head`) ends the command quietly (exit 141); any
// other unexpected error prints one line, the stack only with AVBENCH_DEBUG=1 (guard.ts).
(await import('./guard.js')).installProcessGuards(argv[0] === 'deliver' ? 75 : 2);
let code: number | undefined;
if (argv[0] === 'deliver') code = await (await import('./lean.js')).leanDeliver(argv.slice(1));
else if (argv[0] === 'scan') code = await (await import('./lean.js')).leanScan(argv.slice(1));

// Every command has finished its work when runCli resolves (serve and `lab up` resolve on
// SIGINT/SIGTERM): exit now, so a detached child (`lab up --detach`) or a keep-alive socket
// does not hold the process open. stdout/stderr writes are synchronous on Linux.
code ??= await (await import('./main.js')).runCli(argv);
process.exit(code);
