/**
 * Types the CLI's entry (main.ts) and its command modules (commands/) share. Kept apart so
 * that the commands need not import main.ts, which loads them: no import cycle.
 */
import type { CommandModule } from 'yargs';

/** Shared state a command handler uses to report its exit code. */
export interface CliState {
  exitCode: number;
}

/** What each command module exports: its yargs module, given the shared state. */
export type CommandFactory = (state: CliState) => CommandModule<object, never>;
