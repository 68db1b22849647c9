/**
 * `--sut URL`: a third-party system under test (DESIGN.md "CLI").
 *
 *   smtp://HOST:PORT[?sink=PORT][&name=N][&pid=P,...]   an SMTP filter (clamsmtpd, ...). With
 *       `sink=PORT` the driver runs its sink on 127.0.0.1:PORT — configure the filter to
 *       deliver there (clamsmtpd `OutAddress: 127.0.0.1:PORT`); arrivals decide delivered /
 *       tagged / dropped. Without it the SUT is taken as the final hop (a 250 is delivered).
 *   milter://HOST:PORT[?name=N&pid=P]  ·  milter+unix:///PATH[?name=N&pid=P]
 *   lda:COMMAND ARGS...                 a delivery agent run once per message (no shell)
 *
 * `name=` names the SUT in results and tables (default: scheme and address); `pid=` lists
 * processes whose CPU and RSS are sampled during the run (e.g. clamsmtpd and its clamd), and
 * whose programs, versions and databases are recorded (src/bench/versions.ts); `deadline=S`
 * is the SUT's own deadline in seconds (clamsmtpd's TimeOut; read from its config when its
 * pid is given): an error after it is a deadline hit, kept out of completed throughput;
 * `grace=S` (smtp) how long an accepted message may take to reach the sink (default 5 s).
 */
import { basename } from 'node:path';
import { parseLdaSut } from '../modes/lda/driver.js';
import { parseMilterUrl } from '../modes/milter/socket-spec.js';
import { parseSmtpUrl } from '../modes/smtp/driver.js';

/** A parsed `--sut`. */
export type SutSpec =
  | { kind: 'smtp'; url: string; driverUrl: string; name: string; sinkPort?: number; pids: number[]; deadlineMs?: number; graceMs?: number }
  | { kind: 'milter'; url: string; driverUrl: string; name: string; pids: number[]; deadlineMs?: number }
  | { kind: 'lda'; url: string; command: string[]; name: string; pids: number[]; deadlineMs?: number };

/** Thrown for a `--sut` that cannot be used; the message says what form is expected. */
export class SutError extends TypeError {
  override readonly name = 'SutError';
}

function splitQuery(url: string): { base: string; params: URLSearchParams } {
  const q = url.indexOf('?');
  if (q < 0) return { base: url, params: new URLSearchParams() };
  return { base: url.slice(0, q), params: new URLSearchParams(url.slice(q + 1)) };
}

function pidsOf(params: URLSearchParams, url: string): number[] {
  const out: number[] = [];
  for (const v of params.getAll('pid')) {
    for (const p of v.split(',')) {
      const n = Number(p);
      if (!Number.isInteger(n) || n <= 0) throw new SutError(`--sut ${url}: pid must be a positive integer, got ${JSON.stringify(p)}`);
      out.push(n);
    }
  }
  return out;
}

/** `deadline=SECONDS` as ms, or undefined when absent. */
function deadlineOf(params: URLSearchParams, url: string): { deadlineMs?: number } {
  const v = params.get('deadline');
  if (v === null) return {};
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new SutError(`--sut ${url}: deadline must be seconds > 0, got ${JSON.stringify(v)}`);
  return { deadlineMs: n * 1000 };
}

function checkParams(params: URLSearchParams, allowed: readonly string[], url: string): void {
  for (const k of params.keys()) {
    if (!allowed.includes(k)) throw new SutError(`--sut ${url}: unknown parameter "${k}" (known: ${allowed.join(', ')})`);
  }
}

/** Parse one `--sut` value. Throws SutError for anything unusable. */
export function parseSut(url: string): SutSpec {
  if (url.startsWith('lda:')) {
    let command: string[];
    try {
      command = parseLdaSut(url).command;
    } catch (err) {
      throw new SutError(`--sut ${url}: ${(err as Error).message}`);
    }
    return { kind: 'lda', url, command, name: `lda:${basename(command[0] as string)}`, pids: [] };
  }
  const { base, params } = splitQuery(url);
  const name = params.get('name') ?? undefined;
  if (name !== undefined && !/^[\w.:@/+-]{1,80}$/.test(name)) throw new SutError(`--sut ${url}: name may hold letters, digits and . : @ / + - _ (at most 80)`);
  if (/^(smtp|lmtp):\/\//.test(base)) {
    checkParams(params, ['sink', 'name', 'pid', 'deadline', 'grace'], url);
    try {
      parseSmtpUrl(base);
    } catch (err) {
      throw new SutError(`--sut ${url}: ${(err as Error).message}`);
    }
    const sink = params.get('sink');
    let sinkPort: number | undefined;
    if (sink !== null) {
      sinkPort = Number(sink);
      if (!Number.isInteger(sinkPort) || sinkPort < 1 || sinkPort > 65535) throw new SutError(`--sut ${url}: sink must be a port number`);
    }
    // grace=S: how long after its 250 a message may take to reach the sink (default 5 s). An
    // after-queue filter's blocked messages never arrive: each holds a session that long.
    const grace = params.get('grace');
    let graceMs: number | undefined;
    if (grace !== null) {
      const g = Number(grace);
      if (!Number.isFinite(g) || g <= 0) throw new SutError(`--sut ${url}: grace must be seconds > 0, got ${JSON.stringify(grace)}`);
      graceMs = g * 1000;
    }
    return { kind: 'smtp', url, driverUrl: base, name: name ?? base.replace(/\/$/, ''), ...(sinkPort === undefined ? {} : { sinkPort }), pids: pidsOf(params, url), ...deadlineOf(params, url), ...(graceMs === undefined ? {} : { graceMs }) };
  }
  if (/^milter(\+unix)?:\/\//.test(base)) {
    checkParams(params, ['name', 'pid', 'deadline'], url);
    try {
      parseMilterUrl(base);
    } catch (err) {
      throw new SutError(`--sut ${url}: ${(err as Error).message}`);
    }
    return { kind: 'milter', url, driverUrl: base, name: name ?? base, pids: pidsOf(params, url), ...deadlineOf(params, url) };
  }
  throw new SutError(`--sut ${url}: expected smtp://HOST:PORT[?sink=PORT], milter://HOST:PORT, milter+unix:///PATH or lda:COMMAND`);
}
