#!/usr/bin/env node
import { runCli } from './main.js';

// Every command has finished its work when runCli resolves (serve and `lab up` resolve on
// SIGINT/SIGTERM): exit now, so a detached child (`lab up --detach`) or a keep-alive socket
// does not hold the process open. stdout/stderr writes are synchronous on Linux.
process.exit(await runCli(process.argv.slice(2)));
