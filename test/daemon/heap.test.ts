import { describe, expect, it } from 'vitest';
import { run } from '../../src/core/exec.js';
import { DAEMON_HEAP_FLAG, DAEMON_HEAP_GROWING_PERCENT } from '../../src/daemon/heap.js';

describe('daemon heap tuning', () => {
  it('names a flag the V8 of this Node knows (setFlagsFromString ignores an unknown one without a word)', async () => {
    const r = await run(process.execPath, ['--v8-options'], { deadline: Date.now() + 20_000, maxBuffer: 8 * 1024 * 1024 });
    if (!r.ok) throw new Error(r.message);
    expect(r.exitCode).toBe(0);
    expect(DAEMON_HEAP_FLAG).toBe(`--heap-growing-percent=${DAEMON_HEAP_GROWING_PERCENT}`);
    expect(r.stdout).toMatch(/^\s+--heap-growing-percent /m);
  });

  it('a Node started with the flag and its value runs', async () => {
    const r = await run(process.execPath, [DAEMON_HEAP_FLAG, '-e', 'process.stdout.write("up")'], { deadline: Date.now() + 20_000 });
    if (!r.ok) throw new Error(r.message);
    expect([r.exitCode, r.stdout]).toEqual([0, 'up']);
  });
});
