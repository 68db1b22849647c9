/**
 * The host line every bench prints: machine, OS, Node and the load average (the cores are
 * often shared, so every figure needs the load beside it). Values from src/bench/host.ts,
 * the same as results.json's `host`.
 */
import { loadavg } from 'node:os';
import { hostInfo } from '../../src/bench/host.js';

/** The 1, 5 and 15 minute load averages as `2.6 1.6 0.8` (`digits` after the point, default 1). */
export function loadAverage(digits = 1): string {
  return loadavg()
    .map((x) => x.toFixed(digits))
    .join(' ');
}

/** `host: CPU ×CORES, MEM GiB, OS, node VERSION; load average 1 5 15` */
export function hostLine(digits = 1): string {
  const h = hostInfo();
  return `host: ${h.cpuModel} ×${h.cores}, ${(h.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${h.os}, node ${h.node}; load average ${loadAverage(digits)}`;
}
