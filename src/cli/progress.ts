/**
 * Live progress on stderr, only when stderr is a terminal (quiet in CI and in pipes).
 */
export interface Progress {
  tick(done: number, extra?: string): void;
  done(): void;
}

/** A progress line "label done/total (rate/s, ETA)" redrawn at most 5 times a second. */
export function progress(label: string, total: number | undefined, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY || process.env['CI']) return { tick() {}, done() {} };
  const started = Date.now();
  let last = 0;
  let shown = false;
  return {
    tick(done: number, extra?: string) {
      const now = Date.now();
      if (now - last < 200 && done !== total) return;
      last = now;
      const secs = (now - started) / 1000;
      const rate = secs > 0 ? done / secs : 0;
      const eta = total !== undefined && rate > 0 ? ` ETA ${Math.ceil((total - done) / rate)}s` : '';
      const of = total !== undefined ? `/${total}` : '';
      stream.write(`\r\x1b[K${label} ${done}${of} (${rate.toFixed(0)} msg/s${eta})${extra ? ' ' + extra : ''}`);
      shown = true;
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}
