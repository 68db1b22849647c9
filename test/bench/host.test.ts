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
import { childrenCpuSeconds, LoadSampler, procCpuSeconds, procCpuSecondsWithReaped, procRss, procTree, procTreeCpuSeconds } from '../../src/bench/host.js';
import { spawnDaemon, type Daemon } from '../../src/core/exec.js';

const PARENT = `
const { spawn } = require('node:child_process');
const child = spawn(process.execPath, ['-e', 'const t = Date.now(); while (Date.now() - t < 300); setInterval(() => {}, 1000);'], { stdio: 'ignore' });
console.log('child ' + child.pid);
child.on('exit', () => console.log('reaped'));
setInterval(() => {}, 1000);
`;

// A daemon whose work is done by a grandchild (as Postfix master → smtpd, amavisd's
// children): on SIGUSR2 the grandchild spends 0.3 s of CPU (user + system by its own clock, not a wall time).
const GRANDPARENT = `
const { spawn } = require('node:child_process');
const burner = 'const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; }; process.on("SIGUSR2", () => { const t = cpu(); while (cpu() - t < 300000); console.log("burnt"); }); console.log("grandchild " + process.pid); setInterval(() => {}, 1000);';
const child = spawn(process.execPath, ['-e', 'const { spawn } = require("node:child_process"); spawn(process.execPath, ["-e", process.argv[1]], { stdio: "inherit" }); setInterval(() => {}, 1000);', burner], { stdio: 'inherit' });
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
    // The whole tree: a grandchild outlives its killed parent otherwise.
    for (const pid of parent === undefined ? [] : procTree([parent.pid]).filter((p) => p !== parent?.pid)) process.kill(pid, 'SIGKILL');
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

  it('LoadSampler counts the CPU and memory of the whole tree below a given PID (a grandchild doing the work)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-host-test-'));
    const log = join(dir, 'tree.log');
    parent = await spawnDaemon(process.execPath, ['-e', GRANDPARENT], { logFile: log });
    const grandchild = Number((await waitForLine(log, /^grandchild (\d+)$/m))[1]);
    const tree = procTree([parent.pid]);
    expect(tree).toContain(parent.pid);
    expect(tree).toContain(grandchild);
    expect(tree.length).toBe(3);
    const sampler = new LoadSampler([parent.pid, grandchild], 20);
    sampler.start();
    process.kill(grandchild, 'SIGUSR2');
    await waitForLine(log, /^burnt$/m);
    const use = sampler.stop();
    // Listed twice (the grandchild is also in the parent's tree), counted once: ≥ 0.3 s, < 0.6 s.
    expect(use.scanner?.cpuSeconds).toBeGreaterThanOrEqual(0.29);
    expect(use.scanner?.cpuSeconds).toBeLessThan(0.59);
    expect(use.scanner?.pids).toEqual([parent.pid, grandchild]);
    expect(use.scanner?.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024); // three Node processes' PSS
  });
});
