/**
 * Interception point C: a local delivery agent wrapper (the amavis-as-local-mailer /
 * procmail-sanitizer role). The MTA hands the message on stdin; we scan it, then hand it
 * on to a delivery COMMAND (procmail, dovecot-lda, `sendmail -i` for re-injection) or
 * write it into a Maildir, and tell the MTA what happened with a sysexits code:
 *
 * | exit | meaning | the MTA |
 * |---|---|---|
 * | 0 EX_OK | delivered, or infected and quarantined (the message is accounted for) | done |
 * | 75 EX_TEMPFAIL | scanner error, delivery COMMAND could not run / timed out / was killed, Maildir write failed | retries later |
 * | 77 EX_NOPERM (default reject code) | infected, `onInfected: 'reject'` | bounces (Postfix: 5.7.0) |
 * | 75 EX_TEMPFAIL | infected, `onInfected: 'tempfail'` | retries later |
 * | 0 EX_OK | infected, `onInfected: 'drop'` (discarded) or `'tag'` (delivered with `X-Virus-Status: Infected (…)`) | done |
 * | COMMAND's own code | the delivery agent's answer, passed back (75 stays 75) | per code |
 *
 * Why 77: it is sysexits' EX_NOPERM, which Postfix's pipe/local delivery report as
 * `5.7.0 permission denied` — a permanent, security-policy failure, the same class as an
 * SMTP 550 5.7.1 for a virus. Configurable (`rejectExitCode`), e.g. 69 EX_UNAVAILABLE.
 *
 * The decision is the policy's (src/modes/policy.ts, the same words as `serve smtp` and
 * `serve milter`); this file maps it to an exit code and a delivery.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { monotonicMs } from '../../core/clock.js';
import { run } from '../../core/exec.js';
import type { Limits } from '../../core/limits.js';
import { scanMessageDetailed, type ScannerResult } from '../../core/scan.js';
import type { Adapter, Verdict } from '../../core/types.js';
import type { Fate } from '../types.js';
import { decide, resolvePolicy, scannedValue, statusHeaderLines, withStatusHeaders, type Decision, type FailAction, type InfectedAction } from '../policy.js';
import { defangMessage, type DefangedName } from './defang.js';

export { virusNames } from '../policy.js';

/** sysexits.h codes used here. */
export const EX_OK = 0;
/** Temporary failure: the MTA keeps the message and retries. */
export const EX_TEMPFAIL = 75;
/** Permission denied: the default exit code for a rejected (infected) message. */
export const EX_NOPERM = 77;
/** Service unavailable (a common alternative reject code). */
export const EX_UNAVAILABLE = 69;

/** Options of {@link deliverMessage}. */
export interface DeliverOptions {
  /** Scanners to ask (any adapters). */
  scanners: readonly Adapter[];
  /** Delivery agent to hand the message to on stdin (argument array, no shell). */
  command?: readonly string[];
  /** Maildir to deliver into (tmp/ then rename to new/); created if missing. Used when no command is given. */
  maildir?: string;
  /** Rename dangerous attachment extensions before delivery (true = default list). */
  defang?: boolean | { extensions: readonly string[] };
  /** What to do with an infected message (the policy's words: reject, tempfail, drop, tag, quarantine). */
  onInfected: InfectedAction;
  /** Quarantine folder (required for onInfected 'quarantine'); created 0700 if missing. */
  quarantineDir?: string;
  /** Exit code for a rejected message (default 77 EX_NOPERM). */
  rejectExitCode?: number;
  /** Scanner error: 'tempfail' (75, the MTA retries; default) or 'accept' (deliver with `X-Virus-Status: Unchecked (CODE)`). */
  onFail: FailAction;
  limits?: Partial<Limits>;
  /** How long the delivery COMMAND may run (ms, default 120 000). */
  commandTimeoutMs?: number;
  /** fsync Maildir and quarantine files before the rename / exit (default true, as an LDA must). */
  fsync?: boolean;
  /** Host name written into X-Virus-Scanned and Maildir names (default os.hostname()). */
  hostname?: string;
  signal?: AbortSignal;
}

/** What {@link deliverMessage} did. */
export type DeliverAction = 'delivered' | 'delivered-unchecked' | 'delivered-tagged' | 'quarantined' | 'dropped' | 'rejected' | 'tempfailed' | 'command-failed';

/** Outcome of one delivery. */
export interface DeliverResult {
  /** The sysexits code to exit with. */
  exitCode: number;
  /** The fate in the modes vocabulary (src/modes/types.ts): quarantined is `dropped`. */
  fate: Exclude<Fate, 'scanned' | 'lost'>;
  action: DeliverAction;
  verdict: Verdict;
  /** Each scanner's own answer. */
  results: ScannerResult[];
  /** Names renamed by --defang. */
  defanged: DefangedName[];
  /** Maildir or quarantine file written. */
  file?: string;
  /** The delivery COMMAND's exit code, stdout and stderr (each cut at 16 MiB), when it ran. */
  command?: { exitCode?: number; stdout: string; stderr: string };
  /** One line for stderr (what happened and why). */
  message: string;
  ms: number;
}

/** Our header lines for a decision: X-Virus-Scanned (`avbench deliver (scanners) on HOST`) and X-Virus-Status. */
function ourHeaders(d: Decision, scanners: readonly Adapter[], host: string): string[] {
  return statusHeaderLines(d, scannedValue(scanners.map((s) => s.name), { via: 'deliver', host }));
}

/**
 * Add our header lines at the top of the message (after an mbox `From ` line if there is
 * one), with the message's own line ending, and drop any X-Virus-Status / X-Virus-Scanned
 * the sender put in the top-level header (a forged "Clean" must not survive).
 */
export function addHeaders(raw: Buffer, lines: readonly string[]): Buffer {
  return withStatusHeaders(raw, lines);
}

/** A unique, safe file name: `<secs>.M<usec>P<pid>R<random>.<host>` (the Maildir convention). */
export function uniqueName(host: string): string {
  const now = Date.now();
  const safeHost = host.replace(/\//g, '\\057').replace(/:/g, '\\072').replace(/[^A-Za-z0-9._\\-]/g, '_') || 'localhost';
  return `${Math.floor(now / 1000)}.M${(now % 1000) * 1000}P${process.pid}R${randomBytes(8).toString('hex')}.${safeHost}`;
}

/** Write `data` to a new private file (0600, exclusive create), optionally fsync'ed. */
async function writePrivate(path: string, data: Buffer, sync: boolean): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    if (sync) await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Deliver into a Maildir: write `tmp/NAME`, then rename it to `new/NAME` (creating the
 * Maildir's three folders, 0700, when missing). Returns the path in new/.
 */
export async function deliverToMaildir(dir: string, data: Buffer, opts: { fsync?: boolean; hostname?: string } = {}): Promise<string> {
  for (const sub of ['tmp', 'new', 'cur']) await mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
  const name = uniqueName(opts.hostname ?? hostname());
  const tmp = join(dir, 'tmp', name);
  const dest = join(dir, 'new', name);
  try {
    await writePrivate(tmp, data, opts.fsync ?? true);
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return dest;
}

/** Put a message into a quarantine folder under a generated name (0600). Returns the path. */
export async function quarantine(dir: string, data: Buffer, opts: { fsync?: boolean; hostname?: string } = {}): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${uniqueName(opts.hostname ?? hostname())}.eml`);
  await writePrivate(path, data, opts.fsync ?? true);
  return path;
}

/** Check options that can only be wrong by configuration (thrown: a configuration error). */
function checkOptions(o: DeliverOptions): void {
  if (o.scanners.length === 0) throw new TypeError('deliver: no scanners given');
  if ((o.command === undefined || o.command.length === 0) && o.maildir === undefined) {
    throw new TypeError('deliver: give a delivery command or a Maildir');
  }
  resolvePolicy(o, 'deliver');
  if (o.onInfected === 'quarantine' && o.quarantineDir === undefined) {
    throw new TypeError('deliver: onInfected "quarantine" needs a quarantine folder');
  }
  const rc = o.rejectExitCode;
  if (rc !== undefined && (!Number.isInteger(rc) || rc < 1 || rc > 255 || rc === EX_TEMPFAIL)) {
    throw new TypeError('deliver: rejectExitCode must be an integer 1..255 other than 75 (EX_TEMPFAIL)');
  }
}

/**
 * Scan one message and deliver, quarantine, reject or tempfail it (see the module comment
 * for the exit codes). Never throws for trouble with the scanner, the delivery command or
 * the disk: those are exit codes (75). Throws TypeError only for bad options.
 */
export async function deliverMessage(raw: Buffer, o: DeliverOptions): Promise<DeliverResult> {
  checkOptions(o);
  const started = monotonicMs();
  const host = o.hostname ?? hostname();
  const sync = o.fsync ?? true;
  const scan = await scanMessageDetailed(raw, {
    scanners: o.scanners,
    ...(o.limits === undefined ? {} : { limits: o.limits }),
    ...(o.signal === undefined ? {} : { signal: o.signal }),
  });
  const verdict = scan.verdict;
  const base = { verdict, results: scan.results, defanged: [] as DefangedName[] };
  const done = (r: Omit<DeliverResult, 'verdict' | 'results' | 'defanged' | 'ms'> & { defanged?: DefangedName[] }): DeliverResult => ({
    ...base,
    ...r,
    ms: monotonicMs() - started,
  });

  const d = decide(verdict, resolvePolicy(o, 'deliver'));
  const names = d.list;
  switch (d.action) {
    case 'reject':
      return done({ exitCode: o.rejectExitCode ?? EX_NOPERM, fate: 'rejected', action: 'rejected', message: `rejected: infected: ${names}` });
    case 'tempfail':
      if (verdict.status === 'error') return done({ exitCode: EX_TEMPFAIL, fate: 'tempfailed', action: 'tempfailed', message: `tempfail: ${d.errorCode}: ${oneLine(verdict.error.message)}` });
      return done({ exitCode: EX_TEMPFAIL, fate: 'tempfailed', action: 'tempfailed', message: `tempfail: infected: ${names}` });
    case 'drop':
      return done({ exitCode: EX_OK, fate: 'dropped', action: 'dropped', message: `dropped: infected: ${names}` });
    case 'quarantine':
      try {
        const file = await quarantine(o.quarantineDir!, addHeaders(raw, ourHeaders(d, o.scanners, host)), { fsync: sync, hostname: host });
        return done({ exitCode: EX_OK, fate: 'dropped', action: 'quarantined', file, message: `quarantined: infected: ${names} in ${file}` });
      } catch (err) {
        return done({ exitCode: EX_TEMPFAIL, fate: 'tempfailed', action: 'tempfailed', message: `tempfail: IO: cannot quarantine (${(err as Error).message}); infected: ${names}` });
      }
    case 'accept':
    case 'tag':
      break;
  }

  let body = raw;
  let defanged: DefangedName[] = [];
  if (o.defang !== undefined && o.defang !== false) {
    const d = defangMessage(raw, o.defang === true ? {} : { extensions: o.defang.extensions });
    body = d.message;
    defanged = d.renamed;
  }
  const out = addHeaders(body, ourHeaders(d, o.scanners, host));
  const action: DeliverAction = verdict.status === 'error' ? 'delivered-unchecked' : verdict.status === 'infected' ? 'delivered-tagged' : 'delivered';
  const what = verdict.status === 'error' ? `unchecked (${d.errorCode}: ${oneLine(verdict.error.message)})` : verdict.status === 'infected' ? `infected: ${names}, tagged` : 'clean';
  const fangs = defanged.length > 0 ? `; defanged ${oneLine(defanged.map((x) => `${x.from} -> ${x.to}`).join(', '))}` : '';
  const fate = defanged.length > 0 || verdict.status === 'infected' ? 'tagged' : 'delivered';

  if (o.command !== undefined && o.command.length > 0) {
    const [file, ...args] = o.command as [string, ...string[]];
    const r = await run(file, args, {
      input: out,
      deadline: Date.now() + (o.commandTimeoutMs ?? 120_000),
      // Its output is only diagnostics: a chatty agent (`tee`, `cat`) past the cap is not a failed delivery.
      onOverflow: 'truncate',
      ...(o.signal === undefined ? {} : { signal: o.signal }),
    });
    if (!r.ok) {
      return done({
        exitCode: EX_TEMPFAIL,
        fate: 'tempfailed',
        action: 'command-failed',
        defanged,
        command: { ...(r.exitCode === undefined ? {} : { exitCode: r.exitCode }), stdout: r.stdout, stderr: r.stderr },
        message: `tempfail: ${r.reason}: delivery command: ${r.message}`,
      });
    }
    const cmd = { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
    if (r.exitCode !== 0) {
      return done({
        exitCode: r.exitCode,
        fate: r.exitCode === EX_TEMPFAIL ? 'tempfailed' : 'rejected',
        action: 'command-failed',
        defanged,
        command: cmd,
        message: `${r.exitCode === EX_TEMPFAIL ? 'tempfail: COMMAND' : 'failed'}: delivery command ${file} exited ${r.exitCode}: ${r.stderr.trim().slice(0, 300)}`,
      });
    }
    return done({ exitCode: EX_OK, fate, action, defanged, command: cmd, message: `delivered: ${what} via ${file}${fangs}` });
  }

  try {
    const file = await deliverToMaildir(o.maildir!, out, { fsync: sync, hostname: host });
    return done({ exitCode: EX_OK, fate, action, defanged, file, message: `delivered: ${what} to ${file}${fangs}` });
  } catch (err) {
    return done({ exitCode: EX_TEMPFAIL, fate: 'tempfailed', action: 'tempfailed', defanged, message: `tempfail: IO: cannot write to Maildir ${o.maildir}: ${(err as Error).message}` });
  }
}

/** An error message on one line (it goes to stderr, which the MTA may put into a bounce). */
function oneLine(s: string): string {
  return s.replace(/[\r\n\0]+/g, ' ').slice(0, 500);
}
