/**
 * `avbench corpus generate --out DIR [--seed N] [--profile quick|full]`
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { generateCorpus, type Profile } from '../../corpus/generate.js';
import type { CliState } from '../types.js';
import { progress } from '../progress.js';

interface GenerateArgs {
  out: string;
  seed: number;
  profile: Profile;
}

export function corpusCommand(state: CliState): CommandModule<object, object> {
  const generate: CommandModule<object, GenerateArgs> = {
    command: 'generate',
    describe: 'Write a labelled corpus (EICAR-laden, clean and malformed mail) and its manifest.json',
    builder: (y: Argv) =>
      y
        .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'folder to write (created if missing)' })
        .option('seed', { type: 'number', default: 1, describe: 'same seed, same bytes' })
        .option('profile', { choices: ['quick', 'full'] as const, default: 'quick' as Profile, describe: 'quick: ≤200 messages, for tests; full: ≥2,000 messages and ≥100 MB, for benchmarks' })
        .example('$0 corpus generate --out corpora/quick', 'the quick corpus')
        .example('$0 corpus generate --out corpora/full --profile full --seed 7', 'the benchmark corpus') as unknown as Argv<GenerateArgs>,
    handler: async (args: ArgumentsCamelCase<GenerateArgs>) => {
      const bar = progress('generating', undefined);
      const t0 = performance.now();
      const r = await generateCorpus({ out: args.out, seed: args.seed, profile: args.profile, onProgress: (done) => bar.tick(done) });
      bar.done();
      const cats = Object.entries(r.byCategory)
        .map(([c, n]) => `${c} ${n}`)
        .join(', ');
      process.stdout.write(
        `wrote ${r.messages} messages, ${(r.bytes / 1e6).toFixed(1)} MB to ${r.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s (profile ${args.profile}, seed ${args.seed})\n` +
          `categories: ${cats}\n`,
      );
      state.exitCode = 0;
    },
  };
  return {
    command: 'corpus <action>',
    describe: 'Make test corpora',
    builder: (y: Argv) => y.command(generate).demandCommand(1, 'Name an action: generate') as Argv,
    handler: () => undefined,
  };
}
