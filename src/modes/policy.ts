/**
 * The policy of every front end (DESIGN.md "Policy"), decided once: a verdict and the
 * configured {@link Policy} give a {@link Decision}; each front end only maps the decision to
 * its wire form (SMTP reply, milter reply, sysexits code). The status headers
 * (`X-Virus-Status`, `X-Virus-Scanned`) are written, stripped from what the sender sent and
 * parsed back here, and every scanner-supplied name is made header-safe here: a virus name
 * from a hostile scanner output or ICAP header holding CR, LF or NUL never reaches a header,
 * an SMTP reply, a milter reply or a log line as a line break (header injection).
 *
 * One vocabulary (issue 12.6) for `serve smtp`, `serve milter`, `deliver` and the config file:
 *
 * | `--on-infected` | smtp proxy | milter | deliver |
 * |---|---|---|---|
 * | reject (default) | 550 5.7.1 | replycode 550 5.7.1 | exit 77 (`--reject-code`) |
 * | tempfail | 451 4.7.1 | tempfail | exit 75 |
 * | drop | 250, discarded | discard | exit 0, not delivered |
 * | tag | forwarded with `X-Virus-Status: Infected (…)` | accept + header | delivered + header |
 * | quarantine | 0600 file, 250 | SMFIR_QUARANTINE + accept | 0600 file, exit 0 |
 *
 * `--on-fail tempfail` (default): 451 4.3.0 / replycode 451 4.3.0 / exit 75;
 * `--on-fail accept` (fail open): passed on with `X-Virus-Status: Unchecked (CODE)`.
 * Old spellings (milter `discard`/`accept`, smtp `accept-tagged`, deliver `deliver-tagged`)
 * are accepted with a one-line deprecation warning ({@link parseInfectedAction}).
 */
import { ConfigError } from '../config/config.js';
import { parseDuration } from '../config/duration.js';
import { rewriteHeader } from '../core/mime/headers.js';
import type { Verdict } from '../core/types.js';

/** What to do with an infected message (the same words for every front end). */
export type InfectedAction = 'reject' | 'tempfail' | 'drop' | 'tag' | 'quarantine';
/** The values {@link InfectedAction} can take, for option choices. */
export const INFECTED_ACTIONS: readonly InfectedAction[] = Object.freeze(['reject', 'tempfail', 'drop', 'tag', 'quarantine']);

/** What to do when the scanners gave no answer (an error verdict): tempfail, or fail open. */
export type FailAction = 'tempfail' | 'accept';
/** The values {@link FailAction} can take. */
export const FAIL_ACTIONS: readonly FailAction[] = Object.freeze(['tempfail', 'accept']);

/** Old spellings still accepted (with a deprecation warning). */
export const DEPRECATED_INFECTED: Readonly<Record<string, InfectedAction>> = Object.freeze({ discard: 'drop', accept: 'tag' });
/** Old spellings of the fail action still accepted (with a deprecation warning). */
export const DEPRECATED_FAIL: Readonly<Record<string, FailAction>> = Object.freeze({ 'accept-tagged': 'accept', 'deliver-tagged': 'accept' });

/** A front end's policy. */
export interface Policy {
  onInfected: InfectedAction;
  onFail: FailAction;
}

/** The defaults: infected mail rejected, a scanner failure tempfailed (fail closed). */
export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({ onInfected: 'reject', onFail: 'tempfail' });

/**
 * What happens to the message:
 * - `accept`: passed on as clean (status headers added)
 * - `tag`: passed on marked (`Infected (…)` or, failing open, `Unchecked (CODE)`)
 * - `reject`: refused for good (5xx, bounce)
 * - `tempfail`: refused for now (4xx, the sender retries)
 * - `drop`: taken and discarded
 * - `quarantine`: taken and kept aside
 */
export type Action = 'accept' | 'tag' | 'reject' | 'tempfail' | 'drop' | 'quarantine';

/** A decision: the action and everything a front end writes about it, all header-safe. */
export interface Decision {
  action: Action;
  verdict: Verdict['status'];
  /** Unique virus names, header-safe (empty unless infected). */
  names: string[];
  /** The names as one header-safe list (`A, B`), bounded for a header or an SMTP reply line. */
  list: string;
  /** The error code, header-safe (error verdicts only). */
  errorCode?: string;
  /** The X-Virus-Status value: `Clean`, `Infected (A, B)` or `Unchecked (CODE)`. */
  status: string;
  /**
   * The SMTP-style refusal for `reject` and `tempfail` (code, enhanced status code, text):
   * `550 5.7.1 Virus found: A, B`; `451 4.7.1 Virus found: A, try again later`; a scanner
   * failure, in every front end: `451 4.3.0 Virus scan failed (CODE), try again later`.
   */
  refusal?: { code: 550 | 451; enhanced: string; text: string };
}

/** Header names the policy owns: stripped from what the sender sent, written by us. */
export const STATUS_HEADER = 'X-Virus-Status';
/** See {@link STATUS_HEADER}. */
export const SCANNED_HEADER = 'X-Virus-Scanned';
/** Both status headers (every front end strips both from incoming mail). */
export const STATUS_HEADERS: readonly string[] = Object.freeze([SCANNED_HEADER, STATUS_HEADER]);

/** Longest virus name kept (longer ones are cut). */
export const MAX_NAME_LENGTH = 200;
/** Longest name list in a header value (well inside RFC 5322's 998-byte line). */
export const MAX_LIST_LENGTH = 400;

/**
 * A scanner-supplied text made safe for a header value, an SMTP reply and a log line: CR,
 * LF and tab runs become one space, NUL and every other control character (C0, DEL, C1)
 * go, anything else outside printable ASCII becomes `?`, spaces collapse, ends trimmed,
 * at most `max` characters.
 */
export function headerSafe(text: string, max = MAX_NAME_LENGTH): string {
  const s = text
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
    .replace(/[^\u0020-\u007e]/g, '?')
    .replace(/ {2,}/g, ' ')
    .trim();
  return s.length > max ? s.slice(0, max).trimEnd() : s;
}

/** The virus names of a verdict, unique, in order, as the scanners gave them (not header-safe). */
export function virusNames(v: Verdict): string[] {
  return v.status === 'infected' ? [...new Set(v.detections.map((d) => d.name))] : [];
}

/** The virus names of a verdict, unique, in order, header-safe (a name that is nothing but controls becomes `unnamed`). */
export function safeVirusNames(v: Verdict): string[] {
  return [...new Set(virusNames(v).map((n) => headerSafe(n) || 'unnamed'))];
}

/** Names as one list of at most `max` characters: whole names joined by `, `, then `...` when some did not fit. */
export function nameList(names: readonly string[], max = MAX_LIST_LENGTH): string {
  let out = '';
  for (const n of names) {
    const next = out === '' ? n : `${out}, ${n}`;
    if (next.length > max) return out === '' ? `${n.slice(0, max)}...` : `${out}, ...`;
    out = next;
  }
  return out;
}

/** An error code as it may appear in a header (`[A-Z0-9_]`, at most 40). */
function safeCode(code: string): string {
  return code.replace(/[^A-Za-z0-9_]/g, '').slice(0, 40) || 'UNKNOWN';
}

/** Decide what happens to a message with verdict `v` under `policy`. */
export function decide(v: Verdict, policy: Policy = DEFAULT_POLICY): Decision {
  if (v.status === 'clean') return { action: 'accept', verdict: 'clean', names: [], list: '', status: 'Clean' };
  if (v.status === 'error') {
    const errorCode = safeCode(v.error.code);
    const base = { verdict: 'error' as const, names: [], list: '', errorCode, status: `Unchecked (${errorCode})` };
    if (policy.onFail === 'accept') return { ...base, action: 'tag' };
    return { ...base, action: 'tempfail', refusal: { code: 451, enhanced: '4.3.0', text: `Virus scan failed (${errorCode}), try again later` } };
  }
  const names = safeVirusNames(v);
  const list = nameList(names);
  const base = { verdict: 'infected' as const, names, list, status: `Infected (${list})` };
  switch (policy.onInfected) {
    case 'reject':
      return { ...base, action: 'reject', refusal: { code: 550, enhanced: '5.7.1', text: `Virus found: ${list}` } };
    case 'tempfail':
      return { ...base, action: 'tempfail', refusal: { code: 451, enhanced: '4.7.1', text: `Virus found: ${list}, try again later` } };
    case 'drop':
      return { ...base, action: 'drop' };
    case 'tag':
      return { ...base, action: 'tag' };
    case 'quarantine':
      return { ...base, action: 'quarantine' };
  }
}

/** The refusal as one SMTP reply line (`550 5.7.1 Virus found: X`). */
export function refusalLine(d: Decision): string | undefined {
  return d.refusal === undefined ? undefined : `${d.refusal.code} ${d.refusal.enhanced} ${d.refusal.text}`;
}

/**
 * The X-Virus-Scanned value: `avbench (clamd, yara)`, with the front end's word and the
 * host when given (`avbench deliver (clamd) on mx1`). Header-safe.
 */
export function scannedValue(scanners: readonly string[], o: { via?: string; host?: string } = {}): string {
  const via = o.via === undefined ? '' : ` ${headerSafe(o.via, 40)}`;
  const on = o.host === undefined ? '' : ` on ${headerSafe(o.host, 100)}`;
  return `avbench${via} (${nameList(scanners.map((s) => headerSafe(s, 100)))})${on}`;
}

/** The two status header lines of a decision, X-Virus-Scanned first (omitted when `scanned` is undefined). */
export function statusHeaderLines(d: Decision, scanned?: string): string[] {
  const lines = scanned === undefined ? [] : [`${SCANNED_HEADER}: ${scanned}`];
  lines.push(`${STATUS_HEADER}: ${d.status}`);
  return lines;
}

/**
 * The message with our status headers on top and every X-Virus-Status / X-Virus-Scanned
 * it came with removed from its top-level header (a sender cannot forge a `Clean`), in its
 * own line ending, after an mbox `From ` line.
 */
export function withStatusHeaders(raw: Buffer, lines: readonly string[]): Buffer {
  return rewriteHeader(raw, lines, STATUS_HEADERS);
}

/** What an X-Virus-Status value says. */
export interface ParsedStatus {
  verdict: Verdict['status'];
  names: string[];
  errorCode?: string;
}

/**
 * Read an X-Virus-Status value back (ours, clamav-milter's, clamsmtpd's): `Clean`,
 * `Infected (A, B)` / `Infected A`, `Unchecked (CODE)` / `Error ...`. Undefined for anything
 * else. Names keep inner parentheses (`EICAR test file (not a virus)`).
 */
export function parseVirusStatus(value: string): ParsedStatus | undefined {
  const m = /^\s*(clean|infected|unchecked|error)\b\s*(.*?)\s*$/is.exec(value);
  if (m === null) return undefined;
  const word = (m[1] as string).toLowerCase();
  let rest = m[2] as string;
  if (rest.startsWith('(') && rest.endsWith(')')) rest = rest.slice(1, -1).trim();
  if (word === 'clean') return { verdict: 'clean', names: [] };
  if (word === 'infected') return { verdict: 'infected', names: splitNames(rest) };
  return { verdict: 'error', names: [], errorCode: /^[A-Z][A-Z0-9_]*$/.test(rest) ? rest : 'UNCHECKED' };
}

/** A `, `-separated name list back into names (the `...` of a cut list left out). */
export function splitNames(list: string): string[] {
  return [...new Set(list.split(/,\s*/).map((s) => s.trim()).filter((s) => s !== '' && s !== '...'))];
}

/**
 * Virus names in an SMTP reply or a header text, e.g. `550 5.7.1 Virus found: Eicar-Test-Signature`,
 * `Infected (A, B)`, `virus found: X`, `Message is infected with X`. Empty when none is named.
 */
export function virusNamesIn(text: string): string[] {
  const status = parseVirusStatus(text);
  if (status !== undefined && status.verdict === 'infected' && status.names.length > 0) return status.names;
  // `infected with NAME`: Haraka's clamd plugin (`550 Message is infected with NAME`).
  const m = /(?:(?:virus(?:es)?\s+(?:found|detected)|infected|virus)\s*[:(]|\binfected\s+with\s)\s*([^\r\n()]+)/i.exec(text);
  if (m === null || m[1] === undefined) return [];
  return m[1]
    .replace(/,\s*try again later\.?\s*$/i, '')
    .split(/,\s*/)
    .map((s) => s.trim().replace(/[.)]+$/, ''))
    .filter((s) => s.length > 0 && s !== '...' && !/^(discarded|content rejected|email)/i.test(s));
}

/**
 * The policy a front end's library options give (defaults filled in, old spellings mapped
 * without a warning: the command line warns). Throws TypeError for an unknown word or one
 * the front end does not support.
 */
export function resolvePolicy(o: { onInfected?: string; onFail?: string }, who: string, allowed: readonly InfectedAction[] = INFECTED_ACTIONS): Policy {
  const inf = o.onInfected ?? DEFAULT_POLICY.onInfected;
  const fail = o.onFail ?? DEFAULT_POLICY.onFail;
  const onInfected = (INFECTED_ACTIONS.includes(inf as InfectedAction) ? inf : DEPRECATED_INFECTED[inf]) as InfectedAction | undefined;
  const onFail = (FAIL_ACTIONS.includes(fail as FailAction) ? fail : DEPRECATED_FAIL[fail]) as FailAction | undefined;
  if (onInfected === undefined || !allowed.includes(onInfected)) throw new TypeError(`${who}: onInfected must be one of ${allowed.join(', ')}`);
  if (onFail === undefined) throw new TypeError(`${who}: onFail must be one of ${FAIL_ACTIONS.join(', ')}`);
  return { onInfected, onFail };
}

/** Report a deprecated spelling (one line on stderr by default). */
export type DeprecationWarn = (line: string) => void;

/** Default deprecation sink: one line on stderr. */
export const warnOnStderr: DeprecationWarn = (line) => {
  process.stderr.write(`avbench: ${line}\n`);
};

/**
 * Read an infected action: one of {@link INFECTED_ACTIONS}, or an old spelling (warned
 * about), limited to what the front end supports. Throws ConfigError naming `what`.
 */
export function parseInfectedAction(value: string, what: string, warn: DeprecationWarn = warnOnStderr, allowed: readonly InfectedAction[] = INFECTED_ACTIONS): InfectedAction {
  let v = value as InfectedAction;
  const old = DEPRECATED_INFECTED[value];
  if (old !== undefined && !INFECTED_ACTIONS.includes(value as InfectedAction)) {
    warn(`${what} ${value} is deprecated; use ${what} ${old}`);
    v = old;
  }
  if (!allowed.includes(v)) throw new ConfigError(`${what}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return v;
}

/** Read a fail action (old spellings warned about). Throws ConfigError naming `what`. */
export function parseFailAction(value: string, what: string, warn: DeprecationWarn = warnOnStderr): FailAction {
  const old = DEPRECATED_FAIL[value];
  if (old !== undefined) {
    warn(`${what} ${value} is deprecated; use ${what} ${old}`);
    return old;
  }
  if (!FAIL_ACTIONS.includes(value as FailAction)) throw new ConfigError(`${what}: expected one of ${FAIL_ACTIONS.join(', ')}, got ${JSON.stringify(value)}`);
  return value as FailAction;
}

/**
 * The policy of a command: `--on-infected` / `--on-fail` when given, else the config file's
 * `policy.onInfected` / `policy.onFail`, else the defaults (reject, tempfail). Old spellings
 * are warned about (one line each); an unknown word throws ConfigError naming the option
 * or key.
 */
export function policyFrom(
  cli: { onInfected?: string | undefined; onFail?: string | undefined },
  file: { onInfected?: string; onFail?: string } | undefined,
  o: { warn?: DeprecationWarn; allowed?: readonly InfectedAction[] } = {},
): Policy {
  const warn = o.warn ?? warnOnStderr;
  const onInfected =
    cli.onInfected !== undefined
      ? parseInfectedAction(cli.onInfected, '--on-infected', warn, o.allowed)
      : file?.onInfected !== undefined
        ? parseInfectedAction(file.onInfected, 'config policy.onInfected', warn, o.allowed)
        : DEFAULT_POLICY.onInfected;
  const onFail =
    cli.onFail !== undefined
      ? parseFailAction(cli.onFail, '--on-fail', warn)
      : file?.onFail !== undefined
        ? parseFailAction(file.onFail, 'config policy.onFail', warn)
        : DEFAULT_POLICY.onFail;
  return { onInfected, onFail };
}

/** Every spelling an option of these accepts (current and deprecated), for yargs `choices`. */
export const INFECTED_CHOICES: readonly string[] = Object.freeze([...INFECTED_ACTIONS, ...Object.keys(DEPRECATED_INFECTED).filter((k) => !INFECTED_ACTIONS.includes(k as InfectedAction))]);
/** See {@link INFECTED_CHOICES}. */
export const FAIL_CHOICES: readonly string[] = Object.freeze([...FAIL_ACTIONS, ...Object.keys(DEPRECATED_FAIL)]);

/**
 * Read a timeout: seconds, or with a unit (`30`, `30s`, `500ms`, `2m`); returns ms.
 * `legacyMs` (the milter's old `--timeout`, milliseconds): a bare number of 1000 or more is
 * read as milliseconds, with a deprecation warning (30000 meant 30 s; nobody means 8 hours).
 * Throws ConfigError naming `what`.
 */
export function parseTimeout(value: string | number, what: string, o: { legacyMs?: boolean; warn?: DeprecationWarn } = {}): number {
  const text = String(value).trim();
  if (o.legacyMs === true && /^\d+$/.test(text) && Number(text) >= 1000) {
    (o.warn ?? warnOnStderr)(`${what} ${text} in milliseconds is deprecated; timeouts are seconds now: use ${what} ${Number(text) % 1000 === 0 ? `${Number(text) / 1000}s` : `${text}ms`}`);
    return Number(text);
  }
  return parseDuration(text, what);
}
