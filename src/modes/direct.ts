/**
 * The `direct` mode: no transport, the scanning core called in process. The baseline the
 * other modes are compared with; its only fate is `scanned`.
 */
import type { Limits } from '../core/limits.js';
import { scanMessageDetailed } from '../core/scan.js';
import type { Adapter, Verdict } from '../core/types.js';
import { virusNames } from './policy.js';
import type { MessageOutcome, ModeDriver, OutgoingMessage } from './types.js';

/** Options of {@link createDirectDriver}. */
export interface DirectDriverOptions {
  scanners: readonly Adapter[];
  limits?: Partial<Limits>;
}

/** A verdict as a driver outcome's verdict, names and error code. */
export function outcomeOfVerdict(v: Verdict): Pick<MessageOutcome, 'verdict' | 'names'> & { errorCode?: string } {
  switch (v.status) {
    case 'clean':
      return { verdict: 'clean', names: [] };
    case 'infected':
      return { verdict: 'infected', names: virusNames(v) };
    case 'error':
      return { verdict: 'error', names: [], errorCode: v.error.code };
  }
}

/** The direct driver: every message scanned in process; fate `scanned`. */
export function createDirectDriver(opts: DirectDriverOptions): ModeDriver {
  if (opts.scanners.length === 0) throw new TypeError('direct driver: no scanners given');
  return {
    mode: 'direct',
    sut: 'direct',
    async open(): Promise<void> {},
    async send(msg: OutgoingMessage): Promise<MessageOutcome> {
      const t0 = performance.now();
      const scan = await scanMessageDetailed(msg.raw, { scanners: opts.scanners, ...(opts.limits === undefined ? {} : { limits: opts.limits }) });
      return { fate: 'scanned', ...outcomeOfVerdict(scan.verdict), ms: performance.now() - t0 };
    },
    async close(): Promise<void> {},
  };
}
