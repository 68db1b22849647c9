/**
 * Signals, as clamd and clamav-milter handle them (issue 12.4):
 * - SIGHUP: reload the config file and the scanner set; sessions in progress keep going
 *   (a message already being scanned finishes with the scanners it started with). A
 *   reload that fails (bad config, a scanner not available) is logged and the daemon
 *   runs on with what it had. HUPs during a reload are folded into one more reload.
 * - SIGTERM, SIGINT: stop accepting, let the messages in flight finish within the drain
 *   deadline, cut what is left (the client gets no 250, so the sender keeps the message),
 *   then return: the daemon exits 0. A second SIGTERM/SIGINT cuts at once.
 */
import type { DaemonLog } from './log.js';

/** What a daemon does on each signal. */
export interface DaemonHooks {
  /** Re-read the config and swap the scanners in; resolves to fields for the log line; throws to keep the old ones. */
  reload(): Promise<Record<string, string | number | undefined>>;
  /**
   * Stop accepting and finish the messages in flight by `deadline` (epoch ms), then cut the
   * rest; resolves to how many were cut. Called again with `deadline = now` on a second signal.
   */
  drain(deadline: number): Promise<{ cut: number }>;
}

/** Options of {@link serveUntilStopped}. */
export interface LifecycleOptions {
  /** How long SIGTERM waits for messages in flight (ms). */
  drainMs: number;
  /** The process to listen on (tests pass an EventEmitter). */
  signals?: Pick<NodeJS.Process, 'on' | 'off'>;
}

/** Serve until SIGTERM/SIGINT, reloading on SIGHUP; resolves once drained. */
export function serveUntilStopped(log: DaemonLog, hooks: DaemonHooks, o: LifecycleOptions): Promise<void> {
  const proc = o.signals ?? process;
  let reloading: Promise<void> | undefined;
  let again = false;
  let stopping = false;

  const reload = (): void => {
    if (stopping) return;
    if (reloading !== undefined) {
      again = true;
      return;
    }
    log.write('info', 'reload', { signal: 'SIGHUP' });
    reloading = hooks
      .reload()
      .then(
        (fields) => log.write('info', 'reloaded', fields),
        (err: unknown) => log.write('error', 'reload-failed', { error: (err as Error).message, kept: 'previous config and scanners' }),
      )
      .finally(() => {
        reloading = undefined;
        if (again) {
          again = false;
          reload();
        }
      });
  };

  return new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.write('warning', 'stop-now', { signal });
        void hooks.drain(Date.now());
        return;
      }
      stopping = true;
      const started = Date.now();
      log.write('info', 'stopping', { signal, drain_ms: o.drainMs });
      void hooks.drain(started + o.drainMs).then(
        ({ cut }) => {
          log.write('info', 'stopped', { signal, cut, ms: Date.now() - started });
          finish();
        },
        (err: unknown) => {
          log.write('error', 'stopped', { signal, error: (err as Error).message });
          finish();
        },
      );
    };
    const onHup = (): void => reload();
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    const finish = (): void => {
      proc.off('SIGHUP', onHup);
      proc.off('SIGTERM', onTerm);
      proc.off('SIGINT', onInt);
      resolve();
    };
    proc.on('SIGHUP', onHup);
    proc.on('SIGTERM', onTerm);
    proc.on('SIGINT', onInt);
  });
}
