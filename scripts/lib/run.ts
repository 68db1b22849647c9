/**
 * The frame of a bench's main(): what it started is stopped last-first whatever happens, and
 * an error ends the script with its stack and exit code 1.
 */

/** Stop functions, in the order things were started. */
export type Stops = Array<() => Promise<void>>;

/** Run every stop function, the last started first; a failing one does not keep the others from running. */
export async function stopAll(stops: Stops): Promise<void> {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
}

/** `main()`; an error is written to stderr as `NAME: stack` and the exit code set to 1. */
export function runMain(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}

/** `wall time N s` since `started` (performance.now()). */
export function wallTime(started: number): string {
  return `wall time ${((performance.now() - started) / 1000).toFixed(0)} s`;
}
