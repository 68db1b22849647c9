#!/usr/bin/env node
// `npm start`: generate the quick corpus (once) and scan it with the embedded scanner,
// printing a per-category table. Needs the build (npm install runs it).
import { existsSync } from 'node:fs';
import { runCli } from '../dist/src/cli/main.js';

const corpus = 'corpora/quick';
if (!existsSync(`${corpus}/manifest.json`)) {
  const code = await runCli(['corpus', 'generate', '--out', corpus, '--profile', 'quick']);
  if (code !== 0) process.exit(code);
}
const code = await runCli(['scan', '--scanner', 'embedded', '--infected', corpus]);
// 1 only means "something infected", which the corpus is meant to hold.
process.exitCode = code === 1 ? 0 : code;
