/**
 * One adapter lifecycle for every command (issue 13.4): names → adapters (an unknown name
 * is a ConfigError, found before anything else happens), each probed with a deadline (a
 * probe that hangs is "not available", never a hang of the command), then `require`:
 *
 * - required — `scan`: a scanner not available is a ConfigError (one line, exit 2) before
 *   any path is read;
 * - reported and kept — `serve smtp`, `serve milter` (logged; mail tempfails, or is tagged
 *   with --on-fail accept, until the scanner is back, as clamav-milter's OnFail does) and
 *   `deliver` (its scan fails and --on-fail decides: exit 75, or delivered Unchecked);
 * - reported and skipped — `bench` (a skip line) and `scanners` (a row saying why).
 *
 * Every place that turns scanner names into adapters goes through {@link openScanners}.
 */
import type { AvbenchConfig } from '../src/config/config.js';
import { ConfigError } from '../src/config/config.js';
import type { Adapter, ProbeResult } from '../src/core/types.js';
import { adapterByName } from './index.js';

/** Options of {@link openScanners}. */
export interface OpenScannersOptions {
  /** Throw a ConfigError (after closing them all) when any scanner is not available. */
  require: boolean;
  /** Longest a probe may take (ms, default 10 000). */
  probeMs?: number;
}

/** Scanners opened by {@link openScanners}. */
export interface OpenedScanners {
  adapters: Adapter[];
  /** Each scanner's probe, in the order given. */
  probes: { name: string; probe: ProbeResult }[];
  /** The ones not available now, and why. */
  unavailable: { name: string; reason: string }[];
  /** Close every adapter (never throws). */
  close(): Promise<void>;
}

/** Probe with a deadline: a probe past it (or throwing) is "not available". */
export async function probeWithin(a: Adapter, ms: number): Promise<ProbeResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      a.probe().catch((err: unknown): ProbeResult => ({ available: false, reason: `probe failed: ${(err as Error).message}` })),
      new Promise<ProbeResult>((resolve) => {
        timer = setTimeout(() => resolve({ available: false, reason: `probe did not answer within ${ms / 1000} s` }), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Open the scanners named (duplicates once), probe them, and apply `require`. */
export async function openScanners(names: readonly string[], config: AvbenchConfig, o: OpenScannersOptions): Promise<OpenedScanners> {
  const unique = [...new Set(names)];
  if (unique.length === 0) throw new ConfigError('no scanner named (--scanner NAME; `avbench scanners` lists them)');
  const adapters = unique.map((n) => adapterByName(n, config));
  const close = async (): Promise<void> => {
    await Promise.all(adapters.map((a) => a.close().catch(() => undefined)));
  };
  const probes = await Promise.all(adapters.map(async (a) => ({ name: a.name, probe: await probeWithin(a, o.probeMs ?? 10_000) })));
  const unavailable = probes.filter((p) => !p.probe.available).map((p) => ({ name: p.name, reason: p.probe.reason ?? 'no reason given' }));
  if (o.require && unavailable.length > 0) {
    await close();
    throw new ConfigError(unavailable.map((u) => `scanner ${u.name} is not available: ${u.reason}`).join('; '));
  }
  return { adapters, probes, unavailable, close };
}
