/**
 * yargs option definitions that several commands share, written once so their spelling,
 * aliases and help text cannot drift apart.
 */
import type { Options } from 'yargs';
import { FAIL_CHOICES, INFECTED_CHOICES } from '../modes/policy.js';

/** `--config FILE` / `-c FILE`: every command that builds scanners from a config file. */
export const CONFIG_OPTION = { alias: 'c', type: 'string', describe: 'config file (default: ./avbench.config.json when present)' } as const satisfies Options;

/**
 * The options a front end (`serve smtp`, `serve milter`) shares: `--scanner NAME`
 * (repeatable, default embedded) and the policy's `--on-infected` / `--on-fail`, whose
 * help says what each choice means on that front end's wire.
 */
export function frontEndOptions(help: { onInfected: string; onFail: string }): Record<string, Options> {
  return {
    scanner: { alias: 's', type: 'string', array: true, nargs: 1, default: ['embedded'], describe: 'scanner name (repeatable)' },
    'on-infected': { type: 'string', choices: INFECTED_CHOICES as string[], describe: help.onInfected },
    'on-fail': { type: 'string', choices: FAIL_CHOICES as string[], describe: help.onFail },
  };
}
