#!/usr/bin/env node
// `npm start`: generate the quick corpus (once, into corpora/quick), then bench every
// available scanner in every mode on it and print the table and the report's path.
//
// With clamd installed it starts a lab clamd (and c-icap when installed) on loopback for
// the bench (`--lab`), so clamd, clamdscan, clamscan, icap and yara join the embedded
// scanner; they are stopped afterwards. Kept to about a minute: the first 60 messages, no
// warm-up, one repeat, and lda mode (a Node process per message) on the first 6. For real
// figures run `avbench bench` on the whole corpus with warm-up and repeats.
// Needs the build (npm install runs it). Extra arguments are passed on to `avbench bench`.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { runCli } from '../dist/src/cli/main.js';

const corpus = 'corpora/quick';
if (!existsSync(`${corpus}/manifest.json`)) {
  const code = await runCli(['corpus', 'generate', '--out', corpus, '--profile', 'quick']);
  if (code !== 0) process.exit(code);
}

const onPath = (bin) => (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, bin)));
const lab = onPath('clamd') || existsSync('/usr/sbin/clamd');
const args = ['bench', '--corpus', corpus, '--repeat', '1', '--warmup', '0', '--limit', '60', '--mode-limit', 'lda=6', ...(lab ? ['--lab'] : []), ...process.argv.slice(2)];
process.stderr.write(`avbench ${args.join(' ')}\n`);

process.exitCode = await runCli(args);
