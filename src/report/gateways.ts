/**
 * The gateways table (issue 15): every mail gateway of a run — avbench's own front ends and
 * the third-party systems under test (`--sut`: clamsmtpd, clamav-milter, Haraka, Exim,
 * rspamd, amavisd-new, Sendmail...) — side by side with the scanner they call, ideally the
 * same clamd: detection, false positives, cold and warm msgs/s, p95, the gateway's CPU and
 * memory, messages lost. Scanner-alone runs of the same scanners (mode direct) are listed
 * first as the reference the gateways are measured against.
 */
import type { ModeName } from '../modes/types.js';
import { completedThroughput, detectionCounts, runCounts } from '../results/counts.js';
import type { Results, Run } from '../results/types.js';
import { runLabel, scanningRuns } from './model.js';

/** One gateway (or reference) run in the gateways table. */
export interface GatewayRow {
  run: Run;
  label: string;
  /** The gateway as an administrator names it: "clamsmtpd", "avbench serve smtp + clamd", "clamd alone". */
  gateway: string;
  /**
   * The interception point: A (SMTP proxy), B (milter), C (local delivery), – (the scanner
   * alone), or MTA: a third-party gateway measured whole at its SMTP port, whatever hook it
   * uses inside (Exim's ACL, Haraka's plugin, Sendmail or Postfix with a milter, amavisd-new
   * after the queue, or an SMTP proxy such as clamsmtpd). avbench's own front ends behind a
   * private Postfix (`postfix+avbench-milter`, `postfix+avbench-proxy` of `avbench lab up`)
   * keep their own point (B, A; C for `postfix+avbench-deliver`), measured whole as well.
   */
  point: 'A' | 'B' | 'C' | '–' | 'MTA';
  /** Whose gateway: a third-party program (`--sut`), avbench's own front end, or the scanner alone. */
  kind: 'third-party' | 'avbench' | 'reference';
  detectionRate: number | null;
  falsePositives: number;
  errors: number;
  /** Completed msgs/s, median warm repeat. */
  warmMsgsPerSec: number;
  /** Completed msgs/s, median cold pass; null without cold passes. */
  coldMsgsPerSec: number | null;
  p95: number;
  /**
   * CPU seconds and peak memory (bytes) of the gateway's processes: for a third-party gateway
   * (and for avbench's front end behind Postfix) the processes named by `pid=` on its `--sut`
   * with all they forked (as `avbench lab up` writes them: the gateway, or Postfix's master and
   * our process, and its clamd); for avbench's own front end driven directly, the bench process
   * (front end and driver) plus the scanner's processes when known; null without figures.
   */
  cpuSeconds: number | null;
  peakMemoryBytes: number | null;
  lost: number;
}

const POINT: Record<ModeName, GatewayRow['point']> = { smtp: 'A', milter: 'B', lda: 'C', direct: '–' };

const POINT_ORDER: readonly GatewayRow['point'][] = ['MTA', 'A', 'B', 'C', '–'];

const FRONT_END: Record<Exclude<ModeName, 'direct'>, string> = {
  smtp: 'avbench serve smtp',
  milter: 'avbench serve milter',
  lda: 'avbench deliver',
};

/**
 * avbench's own front ends deployed behind a private Postfix and measured whole at its SMTP
 * port (`--sut` names written by `avbench lab up` and the tests): their interception point
 * and front end. Other `--sut` runs are third-party gateways.
 */
const BEHIND_POSTFIX: Readonly<Record<string, { point: 'A' | 'B' | 'C'; frontEnd: string }>> = {
  'postfix+avbench-milter': { point: 'B', frontEnd: FRONT_END.milter },
  'postfix+avbench-proxy': { point: 'A', frontEnd: FRONT_END.smtp },
  'postfix+avbench-smtp': { point: 'A', frontEnd: FRONT_END.smtp },
  'postfix+avbench-deliver': { point: 'C', frontEnd: FRONT_END.lda },
};

/** A `--sut` run of avbench's own front end behind Postfix (see {@link BEHIND_POSTFIX}), else undefined. */
export function avbenchBehindPostfix(run: Run): { point: 'A' | 'B' | 'C'; frontEnd: string } | undefined {
  return run.sut !== 'direct' && run.sut !== 'ours' && Object.hasOwn(BEHIND_POSTFIX, run.scanner.name) ? BEHIND_POSTFIX[run.scanner.name] : undefined;
}

/**
 * The gateways of a run with, first, the scanner-alone (direct) runs of the scanners the
 * gateways use. Empty when the results hold no third-party system under test (the table
 * then adds nothing the ranking does not show).
 */
export function gatewayRows(results: Results): GatewayRow[] {
  const runs = scanningRuns(results);
  if (!runs.some((r) => isThirdParty(r))) return [];
  const row = (run: Run): GatewayRow => {
    const d = detectionCounts(run);
    const c = runCounts(run);
    const r = run.resources;
    // A --sut (third-party, or ours behind Postfix): its CPU and memory are those of its pid= processes.
    const thirdParty = isThirdParty(run);
    const ours = avbenchBehindPostfix(run);
    const kind: GatewayRow['kind'] = ours !== undefined ? 'avbench' : thirdParty ? 'third-party' : run.mode === 'direct' ? 'reference' : 'avbench';
    return {
      run,
      label: runLabel(run, results),
      gateway: ours !== undefined ? `${ours.frontEnd} behind Postfix` : thirdParty ? run.scanner.name : run.mode === 'direct' ? `${run.scanner.name} alone` : `${FRONT_END[run.mode]} + ${run.scanner.name}`,
      point: ours !== undefined ? ours.point : thirdParty && run.mode === 'smtp' ? 'MTA' : POINT[run.mode],
      kind,
      detectionRate: d.detectionRate,
      falsePositives: d.fp,
      errors: d.errors,
      warmMsgsPerSec: completedThroughput(run).msgsPerSec,
      coldMsgsPerSec: run.cold?.msgsPerSec ?? null,
      p95: run.latencyMs.p95,
      cpuSeconds: r === undefined ? null : thirdParty ? (r.scanner?.cpuSeconds ?? null) : r.avbench.cpuSeconds + (r.scanner?.cpuSeconds ?? 0) + (r.children?.cpuSeconds ?? 0),
      peakMemoryBytes: r === undefined ? null : thirdParty ? (r.scanner?.peakRssBytes ?? null) : r.avbench.peakRssBytes + (r.scanner?.peakRssBytes ?? 0),
      lost: c.lost,
    };
  };
  // The lab's gateways scan with clamd: beside them, clamd's own family alone and behind
  // avbench's front ends (clamd, clamdscan, clamscan, and c-icap's virus_scan over clamd).
  const order: Record<GatewayRow['kind'], number> = { reference: 0, 'third-party': 1, avbench: 1 };
  const clamFamily = (r: Run): boolean => /clam|icap/i.test(r.scanner.type) || /clam|icap/i.test(r.scanner.name);
  return runs
    .filter((r) => isThirdParty(r) || clamFamily(r))
    .map(row)
    .sort((a, b) => order[a.kind] - order[b.kind] || POINT_ORDER.indexOf(a.point) - POINT_ORDER.indexOf(b.point) || a.run.concurrency - b.run.concurrency || a.gateway.localeCompare(b.gateway));
}

/** A run of a third-party system under test (a `--sut` URL), not avbench's own front end or a scanner alone. */
export function isThirdParty(run: Run): boolean {
  return run.sut !== 'direct' && run.sut !== 'ours';
}
