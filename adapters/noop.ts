/**
 * The no-op scanner (type `noop`): answers clean for everything, at once. It is the
 * bench's no-scan baseline — the same front end (direct, SMTP proxy, milter, deliver)
 * with no scanning engine behind it — so a report can show what the transport and the
 * harness cost before any scanning. Never use it to protect mail.
 *
 * Granularity `part` (default): the scanning core still walks the MIME tree and expands
 * archives, so the baseline includes the core's own work. `message`: the core hands it
 * the raw message and does nothing else — the harness's ceiling.
 */
import type { Adapter, ProbeResult, ScanContext, ScanUnit, Verdict } from '../src/core/types.js';
import { CLEAN } from '../src/core/verdict.js';

/** Options of the no-op adapter. */
export interface NoopOptions {
  /** Name users select it by; default 'noop'. */
  name?: string;
  /** 'part' (default) or 'message' (see the module comment). */
  granularity?: 'part' | 'message';
}

const PROBE: ProbeResult = Object.freeze({ available: true, version: 'avbench-noop', signatures: 'none (always clean: the no-scan baseline)' });
const CLEAN_PROMISE: Promise<Verdict> = Promise.resolve(CLEAN);

/** Create the no-op adapter: always the shared CLEAN verdict, no allocation per call. */
export function createNoopAdapter(opts: NoopOptions = {}): Adapter {
  const granularity = opts.granularity ?? 'part';
  if (granularity !== 'part' && granularity !== 'message') throw new TypeError(`noop: granularity must be "part" or "message", got ${JSON.stringify(granularity)}`);
  for (const k of Object.keys(opts)) {
    if (k !== 'name' && k !== 'granularity') throw new TypeError(`noop: unknown option "${k}" (known: granularity)`);
  }
  return {
    name: opts.name ?? 'noop',
    type: 'noop',
    granularity,
    probe: () => Promise.resolve({ ...PROBE }),
    scan: (_unit: ScanUnit, _ctx: ScanContext) => CLEAN_PROMISE,
    scanBatch: (units: ScanUnit[], _ctx: ScanContext) => Promise.resolve(units.map(() => CLEAN)),
    close: () => Promise.resolve(),
  };
}
