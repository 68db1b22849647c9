/**
 * Where a run was made (results.json `host`) and the load it put on the machine: CPU
 * seconds and peak RSS of given processes read from /proc, and of avbench itself.
 */
import { readFileSync } from 'node:fs';
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
  };
}

/** CPU seconds (user + system) of a process from /proc/PID/stat; undefined when it is gone. */
export function procCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // Fields after the command (which may hold spaces and parentheses) start after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]); // field 14
  const stime = Number(rest[12]); // field 15
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / CLOCK_TICKS;
}

/** CPU seconds of this process's waited-for children (/proc/self/stat cutime + cstime). */
export function childrenCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'latin1');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = (Number(rest[13]) + Number(rest[14])) / CLOCK_TICKS; // fields 16, 17
    return Number.isFinite(v) ? v : 0;
  } catch {
    return 0;
  }
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
