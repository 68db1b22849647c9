/**
 * The daemons' heap: `serve smtp` and `serve milter` hold each message in flight as Buffers
 * (received, rewritten, sent on), and V8 counts the memory of those Buffers against the
 * old generation's limit. With V8's own growing factor that limit stayed a few MB above the
 * live size (~11.6 MB live, a collection at ~14 MB), and the proxy at 100 KB messages ran a
 * full mark-compact every ~30 messages (every ~85 ms at 8 sessions: ~20 % of its CPU in
 * marking and sweeping). At V8's largest dynamic factor, 4 (a limit of 4x the live size), it
 * ran one every ~200 messages and passed ~10 % more mail, for ~20 MB more memory
 * (docs/daemons.md).
 */
import { setFlagsFromString } from 'node:v8';

/** `--heap-growing-percent` for a daemon: a factor of 1 + 300/100 = 4, V8's own upper bound. */
export const DAEMON_HEAP_GROWING_PERCENT = 300;

/** The V8 flag {@link tuneDaemonHeap} sets (V8 ignores a flag it does not know: test/daemon checks this one). */
export const DAEMON_HEAP_FLAG = `--heap-growing-percent=${DAEMON_HEAP_GROWING_PERCENT}`;

/**
 * Let the heap grow to 4x its live size before a full collection (V8 reads the factor each
 * time it sets a new limit, so setting it once the process runs takes effect from the next
 * collection). For long-running front ends only: a short command has no use for it.
 */
export function tuneDaemonHeap(): void {
  setFlagsFromString(DAEMON_HEAP_FLAG);
}
