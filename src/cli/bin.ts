#!/usr/bin/env node
// dist/src/cli/bin.js, kept for whatever names it (scripts, tests, docs, an MTA's command
// line written before): the CLI is bin.cts (dist/src/cli/bin.cjs, package.json "bin"), which
// this only runs. Starting here costs Node's ESM loader first (~4 ms); call bin.cjs directly
// where start-up counts.
import { createRequire } from 'node:module';

createRequire(import.meta.url)('./bin.cjs');
