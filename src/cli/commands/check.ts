/**
 * `avbench check --results FILE --baseline FILE [--junit FILE] [--markdown FILE] [--update-baseline]
 *                [--max-throughput-drop-percent N] [--max-p95-rise-ms N] [--max-p95-rise-percent N]`
 *
 * Exit 0 no regression · 1 a regression · 2 unusable input (src/check/run.ts).
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { runCheck } from '../../check/run.js';
import type { CliState } from '../types.js';

interface CheckArgs {
  results: string;
  baseline: string;
  junit?: string;
  markdown?: string;
  updateBaseline: boolean;
  maxThroughputDropPercent?: number;
  maxP95RiseMs?: number;
  maxP95RisePercent?: number;
}

/** The yargs module of `avbench check`. */
export function checkCommand(state: CliState): CommandModule<object, CheckArgs> {
  return {
    command: 'check',
    describe: 'Check results.json against a baseline (earlier results or a thresholds file); exit 1 on regression',
    builder: (y: Argv) =>
      y
        .option('results', { alias: 'r', type: 'string', demandOption: true, describe: 'results.json written by `avbench bench`' })
        .option('baseline', { alias: 'b', type: 'string', demandOption: true, describe: 'an earlier results.json, or a thresholds file (docs/ci.md)' })
        .option('junit', { type: 'string', describe: 'write JUnit XML here (one testcase per scanner × mode × category)' })
        .option('markdown', { type: 'string', describe: 'write a Markdown summary here' })
        .option('update-baseline', { type: 'boolean', default: false, describe: 'write a new baseline from the results (same kind as the existing one; a new *.thresholds.json becomes thresholds, else a copy of the results) and exit 0' })
        .option('max-throughput-drop-percent', { type: 'number', describe: 'results vs results: fail when msgs/s drops more than this (off by default: noisy)' })
        .option('max-p95-rise-ms', { type: 'number', describe: 'results vs results: fail when p95 latency rises more than this many ms (off by default)' })
        .option('max-p95-rise-percent', { type: 'number', describe: 'results vs results: fail when p95 latency rises more than this percent (off by default)' })
        .example('$0 check --results out/bench/results.json --baseline baselines/quick.thresholds.json --junit out/junit.xml', 'CI gate against committed thresholds')
        .example('$0 check -r new/results.json -b old/results.json', 'what got worse since the last run')
        .example('$0 check -r out/bench/results.json -b baselines/quick.thresholds.json --update-baseline', 'accept the new figures') as unknown as Argv<CheckArgs>,
    handler: async (args: ArgumentsCamelCase<CheckArgs>) => {
      const outcome = await runCheck({
        results: args.results,
        baseline: args.baseline,
        ...(args.junit === undefined ? {} : { junit: args.junit }),
        ...(args.markdown === undefined ? {} : { markdown: args.markdown }),
        updateBaseline: args.updateBaseline,
        timing: {
          ...(args.maxThroughputDropPercent === undefined ? {} : { maxThroughputDropPercent: args.maxThroughputDropPercent }),
          ...(args.maxP95RiseMs === undefined ? {} : { maxP95RiseMs: args.maxP95RiseMs }),
          ...(args.maxP95RisePercent === undefined ? {} : { maxP95RisePercent: args.maxP95RisePercent }),
        },
      });
      state.exitCode = outcome.exitCode;
    },
  };
}
