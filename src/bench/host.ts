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

/**
 * CPU seconds of a daemon that forks workers (Postfix's master): the process, the children
 * it has reaped, and its live children (their own CPU); 0 when it is gone.
 */
export function procTreeCpuSeconds(pid: number): number {
  let total = procCpuSecondsWithReaped(pid) ?? 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return total;
  }
  for (const d of entries) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(Number(d));
    if (f === undefined || Number(f[4 - 3]) !== pid) continue; // field 4: ppid
    total += seconds(f, 14, 15) ?? 0;
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
 * Samples the load of a run: `start()` notes CPU counters, a timer samples RSS every
 * `intervalMs`, `stop()` returns the deltas and peaks. The scanner part appears only when
 * PIDs were given and at least one could be read.
 */
export class LoadSampler {
  private readonly cpu0 = new Map<number, number>();
  private readonly peak = new Map<number, number>();
  private selfCpu0 = process.cpuUsage();
  private children0 = 0;
  private selfPeak = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pids: readonly number[],
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    for (const pid of this.pids) {
      const c = procCpuSeconds(pid);
      if (c !== undefined) this.cpu0.set(pid, c);
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
    for (const pid of this.pids) {
      const r = procRss(pid);
      if (r !== undefined) this.peak.set(pid, Math.max(this.peak.get(pid) ?? 0, r.rss));
    }
  }

  /** Stop sampling; CPU seconds spent since start() and the peak RSS seen. */
  stop(): ResourceUse {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    const cpu = process.cpuUsage(this.selfCpu0);
    const use: ResourceUse = { avbench: { cpuSeconds: round(cpu.user / 1e6 + cpu.system / 1e6), peakRssBytes: this.selfPeak } };
    const childCpu = childrenCpuSeconds() - this.children0;
    if (childCpu > 0) use.children = { cpuSeconds: round(childCpu) };
    let cpuSum = 0;
    let rssSum = 0;
    const seen: number[] = [];
    for (const pid of this.pids) {
      const c0 = this.cpu0.get(pid);
      const c1 = procCpuSeconds(pid);
      if (c0 === undefined || c1 === undefined) continue;
      seen.push(pid);
      cpuSum += c1 - c0;
      rssSum += this.peak.get(pid) ?? 0;
    }
    if (seen.length > 0) use.scanner = { cpuSeconds: round(cpuSum), peakRssBytes: rssSum, pids: seen };
    return use;
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
