/**
 * The frame of a bench's main(): what it started is stopped last-first whatever happens, and
 * an error ends the script with its stack and exit code 1.
 */
import { realpathSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Stop functions, in the order things were started. */
export type Stops = Array<() => Promise<void>>;

/** Run every stop function, the last started first; a failing one does not keep the others from running. */
export async function stopAll(stops: Stops): Promise<void> {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
}

/**
 * Stop, the last started first, what was pushed onto `stops` after its first `mark` entries,
 * and take those off the list: a part of a bench that ends before the bench does (the rest,
 * a clamd and a sink the parts share, stays up).
 */
export async function stopSince(stops: Stops, mark: number): Promise<void> {
  await stopAll(stops.splice(mark));
}

/** A bench's private folder and the stops of what it started there. */
export interface Workspace {
  base: string;
  stops: Stops;
}

/**
 * Stop everything on `stops` on Ctrl-C / SIGTERM too, remove `base`, exit 130: Postfix
 * instances are daemons of their own (`postfix start`) and would outlive this process.
 */
export function stopOnSignal(stops: Stops, base: string): void {
  const onSignal = (): void => {
    void stopAll(stops)
      .then(() => rm(base, { recursive: true, force: true }))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

/**
 * Run `body` in a private folder `/dev/shm/avbench-NAME-PID` (mode 0711; tmpfs, so temp
 * files cost no disk I/O); afterwards, after a throw too, every stop in `stops` runs, the
 * last started first, and the folder is removed. `o.stopOnSignal`: on Ctrl-C / SIGTERM as
 * well ({@link stopOnSignal}), for benches that start daemons which outlive this process.
 */
export async function inWorkspace<T>(name: string, body: (w: Workspace) => Promise<T>, o: { stopOnSignal?: boolean } = {}): Promise<T> {
  const base = join('/dev/shm', `avbench-${name}-${process.pid}`);
  await mkdir(base, { recursive: true, mode: 0o711 });
  const stops: Stops = [];
  if (o.stopOnSignal === true) stopOnSignal(stops, base);
  try {
    return await body({ base, stops });
  } finally {
    await stopAll(stops);
    await rm(base, { recursive: true, force: true });
  }
}

/**
 * True when the module at `moduleUrl` (its `import.meta.url`) is the script node was started
 * with (`node dist/scripts/NAME.js`), false when another script imported it.
 */
export function isEntryScript(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(fileURLToPath(moduleUrl)) === realpathSync(resolve(entry));
  } catch {
    return false;
  }
}

/**
 * `main()`; an error is written to stderr as `NAME: stack` and the exit code set to 1. With
 * `moduleUrl` (the script's `import.meta.url`), only when that script is the one node runs:
 * a script whose measuring part another script imports (bench-gateways-all) stays runnable.
 */
export function runMain(name: string, main: () => Promise<void>, moduleUrl?: string): void {
  if (moduleUrl !== undefined && !isEntryScript(moduleUrl)) return;
  main().catch((err: unknown) => {
    process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}

/** `wall time N s` since `started` (performance.now()). */
export function wallTime(started: number): string {
  return `wall time ${((performance.now() - started) / 1000).toFixed(0)} s`;
}
