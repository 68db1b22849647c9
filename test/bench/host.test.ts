/**
 * src/bench/host.ts's /proc readers on real processes: a Node parent that starts a Node
 * child which spends some CPU; the parent's tree counts the live child, and once the child
 * has exited and been reaped, the parent's own count with its reaped children does.
 * (No assertion on speed: only that CPU seen in one process shows up where it must.)
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { childrenCpuSeconds, procCpuSeconds, procCpuSecondsWithReaped, procRss, procTreeCpuSeconds } from '../../src/bench/host.js';
import { spawnDaemon, type Daemon } from '../../src/core/exec.js';

const PARENT = `
const { spawn } = require('node:child_process');
const child = spawn(process.execPath, ['-e', 'const t = Date.now(); while (Date.now() - t < 300); setInterval(() => {}, 1000);'], { stdio: 'ignore' });
console.log('child ' + child.pid);
child.on('exit', () => console.log('reaped'));
setInterval(() => {}, 1000);
`;

async function waitForLine(file: string, re: RegExp): Promise<RegExpExecArray> {
  for (let i = 0; i < 400; i++) {
    const m = re.exec(await readFile(file, 'utf8').catch(() => ''));
    if (m !== null) return m;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${re} in ${file}`);
}

describe('host: /proc readers', () => {
  let parent: Daemon | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await parent?.stop(2_000);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('a live child counts in its parent tree; a reaped one in the parent with its reaped children', async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-host-test-'));
    const log = join(dir, 'parent.log');
    parent = await spawnDaemon(process.execPath, ['-e', PARENT], { logFile: log });
    const child = Number((await waitForLine(log, /^child (\d+)$/m))[1]);
    let childCpu = 0;
    for (let i = 0; i < 200 && childCpu === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      childCpu = procCpuSeconds(child) ?? 0;
    }
    expect(childCpu).toBeGreaterThan(0);
    const tree = procTreeCpuSeconds(parent.pid);
    expect(tree).toBeGreaterThanOrEqual(childCpu + (procCpuSeconds(parent.pid) ?? 0) - 0.011); // read a moment apart
    expect(procRss(child)?.rss).toBeGreaterThan(0);
    const before = procCpuSeconds(child) ?? 0;
    process.kill(child, 'SIGKILL');
    await waitForLine(log, /^reaped$/m);
    expect(procCpuSeconds(child)).toBeUndefined();
    expect(procCpuSecondsWithReaped(parent.pid)).toBeGreaterThanOrEqual(before + (procCpuSeconds(parent.pid) ?? 0) - 0.011);
    expect(procTreeCpuSeconds(-1)).toBe(0);
    expect(childrenCpuSeconds()).toBeGreaterThanOrEqual(0);
  });
});
