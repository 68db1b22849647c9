/**
 * yargs option definitions that several commands share, written once so their spelling,
 * aliases and help text cannot drift apart. Kept free of runtime imports: `scan` and
 * `deliver` use it, and they are part of the lean bundles. What only the front ends share
 * (`serve smtp`, `serve milter`) is in daemon.ts.
 */
import type { Options } from 'yargs';

/** `--config FILE` / `-c FILE`: every command that builds scanners from a config file. */
export const CONFIG_OPTION = { alias: 'c', type: 'string', describe: 'config file (default: ./avbench.config.json when present)' } as const satisfies Options;
