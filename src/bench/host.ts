/**
 * Where a run was made (results.json `host`) and the load it put on the machine: CPU
 * seconds and peak RSS of given processes read from /proc, and of avbench itself.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type { HostInfo, ResourceUse } from '../results/types.js';

/** CPU model, cores, memory, OS and Node of this machine. */
export function hostInfo(): HostInfo {
  const cpus = os.cpus();
  return {
    cpuModel: (cpus[0]?.model ?? 'unknown').trim(),
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    hostname: os.hostname(),
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100) as [number, number, number],
  };
}

/**
 * The fields of /proc/PID/stat after the command (which may hold spaces and parentheses):
 * element 0 is field 3 (state), so field N of proc(5) is element N - 3. Undefined when the
 * process is gone or /proc cannot be read.
 */
function statFields(pid: number | 'self'): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Sum of the given stat fields in seconds; undefined when one is not a number. */
function seconds(f: readonly string[], ...fields: number[]): number | undefined {
  let ticks = 0;
  for (const n of fields) ticks += Number(f[n - 3]);
  return Number.isFinite(ticks) ? ticks / CLOCK_TICKS : undefined;
}

/** CPU seconds (user + system) of a process from /proc/PID/stat; undefined when it is gone. */
export function procCpuSeconds(pid: number): number | undefined {
  const f = statFields(pid);
  return f === undefined ? undefined : seconds(f, 14, 15); // utime, stime
}

/**
 * CPU seconds of a process plus those of the children it has waited for (utime + stime +
 * cutime + cstime); undefined when it is gone.
 */
export function procCpuSecondsWithReaped(pid: number): number | undefined {
  const f = statFields(pid);
  return f === undefined ? undefined : seconds(f, 14, 15, 16, 17);
}

/** Live processes by parent PID, read once from /proc (empty without /proc). */
export function procChildren(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return children;
  }
  for (const d of entries) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(Number(d));
    if (f === undefined) continue;
    const ppid = Number(f[4 - 3]); // field 4: ppid
    let list = children.get(ppid);
    if (list === undefined) children.set(ppid, (list = []));
    list.push(Number(d));
  }
  return children;
}

/**
 * The given processes and every live descendant of them (a daemon's forked workers and
 * their children: Postfix's master and its smtpd, amavisd's and Exim's children), each PID
 * once, from /proc's parent links (`children`: a {@link procChildren} snapshot to reuse).
 */
export function procTree(roots: readonly number[], children: Map<number, number[]> = procChildren()): number[] {
  const seen = new Set<number>();
  const todo = [...roots];
  while (todo.length > 0) {
    const pid = todo.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    for (const c of children.get(pid) ?? []) todo.push(c);
  }
  return [...seen];
}

/**
 * CPU seconds of a daemon that forks workers, its whole tree: for each live process of
 * {@link procTree}, its own CPU plus that of the children it has reaped (a child that has
 * ended counts in its waiting parent's cutime, a grandchild in that child's, and so on);
 * 0 when it is gone. A worker that ended and was not reaped by the tree (double fork) is missed.
 */
export function procTreeCpuSeconds(...roots: number[]): number {
  return treeCpu(procTree(roots));
}

function treeCpu(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) total += procCpuSecondsWithReaped(pid) ?? 0;
  return total;
}

/**
 * Memory of a process tree in bytes: the sum of each process's proportional set size
 * (/proc/PID/smaps_rollup Pss: a page shared by n processes counts 1/n in each, so forked
 * workers are not counted n times), VmRSS where Pss cannot be read.
 */
export function procTreeMemoryBytes(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    let pss: number | undefined;
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'));
      if (m !== null) pss = Number(m[1]) * 1024;
    } catch {
      // Not readable (gone, or another user's without privilege): VmRSS below.
    }
    total += pss ?? procRss(pid)?.rss ?? 0;
  }
  return total;
}

/** CPU seconds of this process's waited-for children (/proc/self/stat cutime + cstime). */
export function childrenCpuSeconds(): number {
  const f = statFields('self');
  return (f === undefined ? undefined : seconds(f, 16, 17)) ?? 0;
}

/** VmRSS and VmHWM (peak) of a process in bytes from /proc/PID/status; undefined when it is gone. */
export function procRss(pid: number): { rss: number; hwm: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return undefined;
  }
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Linux USER_HZ: 100 on every architecture Node runs on. */
const CLOCK_TICKS = 100;

/**
 * Samples the load of a run: `start()` notes CPU counters, a timer samples memory every
 * `intervalMs`, `stop()` returns the deltas and peaks. The scanner part (the given PIDs with
 * every process they forked: CPU of the trees, peak of their summed PSS, read every fifth
 * sample; a lone process's VmRSS every sample) appears only when
 * PIDs were given and at least one could be read.
 */
export class LoadSampler {
  private readonly cpu0 = new Map<number, number>();
  private peakTree = 0;
  private tree: number[] = [];
  private ticks = 0;
  private selfCpu0 = process.cpuUsage();
  private children0 = 0;
  private selfPeak = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pids: readonly number[],
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    const kids = this.pids.length > 0 ? procChildren() : new Map<number, number[]>();
    for (const pid of this.pids) {
      if (procCpuSeconds(pid) !== undefined) this.cpu0.set(pid, treeCpu(procTree([pid], kids)));
    }
    this.selfCpu0 = process.cpuUsage();
    this.children0 = childrenCpuSeconds();
    this.selfPeak = process.memoryUsage.rss();
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    this.selfPeak = Math.max(this.selfPeak, process.memoryUsage.rss());
    if (this.pids.length === 0) return;
    // Walking /proc for the tree and reading PSS cost milliseconds: every fifth sample. A
    // lone process (no workers) is read every time, by its VmRSS (PSS of one process is
    // its RSS less shared libraries' other users: close, and 50x cheaper).
    const full = this.ticks++ % 5 === 0;
    if (full) this.tree = procTree(this.pids);
    if (this.tree.length === 1) this.peakTree = Math.max(this.peakTree, procRss(this.tree[0] as number)?.rss ?? 0);
    else if (full) this.peakTree = Math.max(this.peakTree, procTreeMemoryBytes(this.tree));
  }

  /** Stop sampling; CPU seconds spent since start() and the peak RSS seen. */
  stop(): ResourceUse {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.ticks = 0;
    this.sample();
    const cpu = process.cpuUsage(this.selfCpu0);
    const use: ResourceUse = { avbench: { cpuSeconds: round(cpu.user / 1e6 + cpu.system / 1e6), peakRssBytes: this.selfPeak } };
    const childCpu = childrenCpuSeconds() - this.children0;
    if (childCpu > 0) use.children = { cpuSeconds: round(childCpu) };
    // Each listed process with its whole tree (its forked workers too); one listed under
    // another (rspamd's main and its workers) is already in that one's tree.
    let cpuSum = 0;
    const seen = this.pids.filter((pid) => this.cpu0.has(pid) && procCpuSeconds(pid) !== undefined);
    const kids = procChildren();
    const trees = new Map(seen.map((pid) => [pid, procTree([pid], kids)]));
    const below = new Set<number>();
    for (const [pid, tree] of trees) for (const p of tree) if (p !== pid) below.add(p);
    for (const [pid, tree] of trees) if (!below.has(pid)) cpuSum += treeCpu(tree) - (this.cpu0.get(pid) as number);
    if (seen.length > 0) use.scanner = { cpuSeconds: round(Math.max(0, cpuSum)), peakRssBytes: this.peakTree, pids: seen };
    return use;
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
