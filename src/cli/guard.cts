/**
 * What the `avbench` process does when something escapes a command (issue 12.3):
 *
 * - stdout closed by the reader (`avbench scan -i DIR | head -5`): the command ends at once
 *   and quietly, with exit code 141 (128 + SIGPIPE, what a C tool killed by SIGPIPE shows
 *   the shell), as clamscan or grep would;
 * - any other unexpected error: one line on stderr (`avbench: internal error: MESSAGE`), the
 *   stack only with `AVBENCH_DEBUG=1`, and the command's failure exit code (2, or 75
 *   EX_TEMPFAIL for `avbench deliver` so the MTA keeps the message and retries).
 *
 * Installed by the bin only: a library user's process keeps its own handlers.
 */

/** Exit code after stdout was closed by its reader. */
export const EXIT_BROKEN_PIPE = 141;

/**
 * Format an unexpected error: one line, plus the stack when `debug`. A system error (one
 * with an errno code: ENOENT, ENOTDIR, EACCES, ENOSPC...) is the environment's, said as it
 * is; anything else is called an internal error.
 */
export function describeUnexpected(err: unknown, debug: boolean): string {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  const system = typeof code === 'string' && /^E[A-Z0-9]+$/.test(code);
  const line = `avbench: ${system ? '' : 'internal error: '}${(e.message || e.name).split('\n')[0]}`;
  const hint = debug ? `\n${e.stack ?? ''}` : '\n(set AVBENCH_DEBUG=1 to see where)';
  return `${line}${hint}\n`;
}

/** Is this the error a write to a closed pipe gives? */
export function isBrokenPipe(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED';
}

/**
 * Install the process-wide handlers. `failureCode` is the exit code of an unexpected error.
 * Call once, from the bin, before the command runs.
 */
export function installProcessGuards(failureCode: number, env: NodeJS.ProcessEnv = process.env): void {
  const debug = env['AVBENCH_DEBUG'] === '1';
  process.stdout.on('error', (err) => {
    if (isBrokenPipe(err)) process.exit(EXIT_BROKEN_PIPE);
    fail(err);
  });
  const fail = (err: unknown) => {
    if (isBrokenPipe(err)) process.exit(EXIT_BROKEN_PIPE);
    try {
      process.stderr.write(describeUnexpected(err, debug));
    } finally {
      process.exit(failureCode);
    }
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
}
