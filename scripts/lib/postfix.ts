/**
 * A timed run through one of the lab's private Postfix instances (src/lab/postfix.ts):
 * smtp-source into it, every message accounted for in its maillog, CPU per message of each
 * part of the path.
 */
import { procCpuSeconds, procCpuSecondsWithReaped, procTreeCpuSeconds } from '../../src/bench/host.js';
import type { LabPostfix } from '../../src/lab/postfix.js';
import { loadAverage } from './host.js';
import { smtpSource, type SmtpSourceOptions } from './smtp.js';

/** What one run through Postfix gave. */
export interface PostfixRun {
  msgsPerSec: number;
  messages: number;
  /** smtp-source's whole-process time. */
  ms: number;
  /** ` status=sent ` lines the run added to the maillog (must equal messages). */
  sent: number;
  ok: boolean;
  note: string;
  /** CPU ms per message: `postfix` (master, its reaped and live children), each part, `smtp-source`. */
  cpuPerMsg: Record<string, number>;
  /** Load average when the run started. */
  load: string;
}

/** CPU ms a process has used so far (0 once it is gone). */
export function cpuMs(pid: number): number {
  return (procCpuSeconds(pid) ?? 0) * 1000;
}

/** CPU ms of a process that forks workers: itself, its reaped and its live children. */
export function treeCpuMs(pid: number): number {
  return procTreeCpuSeconds(pid) * 1000;
}

/**
 * `smtp-source` into `postfix` (capped at 900 s), then wait up to 120 s until its maillog
 * shows one ` status=sent ` per message (else the run is flagged). `parts` name the other
 * processes on the path, each with its CPU ms so far (see {@link cpuMs}, {@link treeCpuMs}).
 * smtp-source's CPU is that of this process's reaped children plus this process while it
 * waited.
 */
export async function postfixRun(postfix: LabPostfix, parts: Record<string, () => number>, o: Omit<SmtpSourceOptions, 'capMs'>): Promise<PostfixRun> {
  const load = loadAverage();
  const { messages } = o;
  const sent0 = await postfix.sentCount();
  const pf0 = treeCpuMs(postfix.pid);
  const c0 = Object.fromEntries(Object.entries(parts).map(([k, f]) => [k, f()] as const));
  const self = (): number => (procCpuSecondsWithReaped(process.pid) ?? 0) * 1000;
  const src0 = self();
  const r = await smtpSource(postfix.port, { ...o, capMs: 900_000 });
  const src1 = self();
  const drained = await postfix.waitForSent(sent0 + messages, Date.now() + 120_000);
  const cpuPerMsg: Record<string, number> = { postfix: (treeCpuMs(postfix.pid) - pf0) / messages };
  for (const [k, f] of Object.entries(parts)) cpuPerMsg[k] = (f() - (c0[k] ?? 0)) / messages;
  cpuPerMsg['smtp-source'] = (src1 - src0) / messages;
  const sent = (await postfix.sentCount()) - sent0;
  const notes = [r.why, drained && sent === messages ? '' : `ACCOUNTING: ${sent} of ${messages} status=sent`].filter((x) => x !== '');
  return { msgsPerSec: (messages * 1000) / r.ms, messages, ms: r.ms, sent, ok: notes.length === 0, note: notes.join('; '), cpuPerMsg, load };
}
