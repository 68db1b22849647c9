/**
 * The daemons' log (issue 12.4): one `key=value` line per event, the same format for
 * `serve smtp` and `serve milter`, on stderr (default, for systemd's journal or a
 * supervisor) or to syslog (`--syslog`, facility mail, as clamd and clamav-milter log).
 *
 *   ts=2026-12-04T05:30:00.123Z level=info daemon=smtp event=message session=4F2A verdict=infected names="Eicar-Test-Signature" action=rejected ms=1.9
 *
 * Values are bare when they are plain tokens; otherwise double-quoted with `\"`, `\\`,
 * `\n`, `\r` and `\t` escaped, so one event is always one line whatever a message or a
 * scanner put into a value (a sender address, a virus name, a reply).
 *
 * Syslog goes through one long-running `logger` process (util-linux; `logger
 * --prio-prefix` reads one message a line, each with its own priority), started through
 * the one door for processes; the tag is `avbench-smtp` or `avbench-milter` with the pid.
 */
import { spawnPiped, which, type PipedProcess } from '../core/exec.js';

/** Severity of a log line. */
export type LogLevel = 'info' | 'warning' | 'error';

/** Values of a log line (undefined fields are left out). */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** A daemon's log. */
export interface DaemonLog {
  /** Write one event. */
  write(level: LogLevel, event: string, fields?: LogFields): void;
  /** Flush and stop the syslog writer (if any). */
  close(): Promise<void>;
}

/** Where log lines go. */
export interface DaemonLogOptions {
  /** `smtp` or `milter`: the `daemon=` field and the syslog tag `avbench-NAME`. */
  daemon: string;
  /** Send to syslog (facility mail) instead of stderr. */
  syslog?: boolean;
  /** A syslog socket other than /dev/log (tests; stream socket). */
  syslogSocket?: string;
  /** stderr writer (tests); default {@link gatheredStderr}. */
  stderr?: (line: string) => void;
  /** Clock (tests). */
  now?: () => Date;
}

const PLAIN = /^[A-Za-z0-9_.:/@+<>,\-[\]]+$/;
/** Characters a quoted value escapes. */
const ESCAPED = /[\\"\n\r\t]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** One `key=value` value, quoted when it is not a plain token. */
export function formatValue(v: string | number | boolean): string {
  const s = typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : String(v);
  if (s !== '' && PLAIN.test(s)) return s;
  return `"${s.replace(ESCAPED, (c) => ESCAPES[c] as string)}"`;
}

/** `key=value key="two words"` (keys are ours: plain tokens). */
export function formatFields(fields: LogFields): string {
  let out = '';
  for (const k in fields) {
    const v = fields[k];
    if (v !== undefined) out += `${out === '' ? '' : ' '}${k}=${formatValue(v)}`;
  }
  return out;
}

/** Parse a line written by {@link formatFields} back into its fields (tests, log readers). */
export function parseFields(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z0-9_]+)=("((?:[^"\\]|\\.)*)"|\S*)/g;
  for (const m of line.matchAll(re)) {
    out[m[1] as string] = m[3] === undefined ? (m[2] as string) : (m[3] as string).replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c);
  }
  return out;
}

let pending: string[] = [];
let flushTimer: NodeJS.Timeout | undefined;
let exitHooked = false;

/** Write the gathered stderr lines now (one write); nothing when there are none. */
export function flushGatheredStderr(): void {
  if (flushTimer !== undefined) clearTimeout(flushTimer);
  flushTimer = undefined;
  if (pending.length === 0) return;
  const text = pending.join('');
  pending = [];
  process.stderr.write(text);
}

/**
 * The daemons' default stderr writer: lines gathered for at most 20 ms (or 256 lines) and
 * written together, and whatever is left when the process exits. stderr redirected to a
 * file is a synchronous write per call in Node: one per message was ~15 % of the milter's
 * CPU behind Postfix (docs/milter.md) and ~15 % of `serve smtp`'s throughput at 8 sessions
 * (docs/smtp-proxy.md).
 */
export function gatheredStderr(line: string): void {
  pending.push(line.endsWith('\n') ? line : `${line}\n`);
  if (!exitHooked) {
    exitHooked = true;
    process.once('exit', flushGatheredStderr);
  }
  if (pending.length >= 256) flushGatheredStderr();
  else flushTimer ??= setTimeout(flushGatheredStderr, 20).unref();
}

/** syslog priority of facility mail (2) at a level. */
const PRI: Record<LogLevel, number> = { info: 2 * 8 + 6, warning: 2 * 8 + 4, error: 2 * 8 + 3 };

/**
 * Open a daemon's log. With `syslog`, throws when `logger` is not installed (a usage error
 * found before the daemon binds anything).
 */
export async function openDaemonLog(o: DaemonLogOptions): Promise<DaemonLog> {
  const now = o.now ?? (() => new Date());
  const stderr = o.stderr ?? gatheredStderr;
  const daemonName = formatValue(o.daemon);
  let logger: PipedProcess | undefined;
  if (o.syslog === true) {
    const bin = await which('logger');
    if (bin === undefined) throw new Error('--syslog needs the logger program (util-linux; apt-get install bsdutils)');
    const args = ['--prio-prefix', '--tag', `avbench-${o.daemon}`, `--id=${process.pid}`];
    if (o.syslogSocket !== undefined) args.push('--socket', o.syslogSocket, '--tcp');
    logger = await spawnPiped(bin, args);
  }
  return {
    write(level, event, fields = {}) {
      // level, daemon and event are ours (plain tokens); one pass over the caller's fields.
      const rest = formatFields(fields);
      const body = `level=${level} daemon=${daemonName} event=${formatValue(event)}${rest === '' ? '' : ' '}${rest}`;
      if (logger !== undefined && logger.running()) logger.write(`<${PRI[level]}>${body}\n`);
      else stderr(`ts=${now().toISOString()} ${body}\n`);
    },
    async close() {
      if (o.stderr === undefined) flushGatheredStderr();
      await logger?.end();
    },
  };
}
