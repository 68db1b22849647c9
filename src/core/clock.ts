/**
 * Milliseconds on a monotonic clock, for durations. process.hrtime, not performance.now():
 * the first use of the `performance` global loads perf_hooks and its ten internal modules
 * (~1 ms), which a per-message `avbench deliver` and a whole-process `avbench scan` pay at
 * start-up.
 */
export function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}
