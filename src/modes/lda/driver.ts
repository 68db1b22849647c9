/**
 * The lda driver: replays messages into any local delivery agent (ours —
 * `avbench deliver ... --maildir DIR` — or a third party's, such as a procmail recipe that
 * calls clamdscan) the way an MTA would: one process per message, the message on stdin.
 * It records the exit code and looks in the Maildir for what arrived. Messages are
 * recognised there by an `X-Avbench-Id` header the driver adds at the top.
 *
 * Mapping (docs/modes.md):
 * - exit 0, found in the Maildir with the body unchanged → delivered; verdict from its
 *   X-Virus-Status (Clean or none → clean; Infected (NAMES) → infected, fate tagged;
 *   Unchecked (CODE) → error)
 * - exit 0, found with the body changed and DEFANGED names in it → tagged; verdict from
 *   X-Virus-Status when present, else infected (a sanitizer without a scanner)
 * - exit 0, not found (quarantined, discarded) → dropped, infected (names from the output)
 * - exit 75 → tempfailed, error (code from `tempfail: CODE:` in the output, else TEMPFAIL)
 * - other exit → rejected; infected when the output names a virus, else error SCANNER_EXIT
 * - the command could not start / timed out / was killed → tempfailed, error (an MTA
 *   retries all three)
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../../core/exec.js';
import { getHeader, parseHeaderBlock, splitHeaderBody } from '../../core/mime/headers.js';
import { parseVirusStatus, type ParsedStatus } from '../policy.js';
import type { MessageOutcome, ModeDriver, OutgoingMessage } from '../types.js';

/** The header the driver adds to recognise a message in the Maildir. */
export const ID_HEADER = 'X-Avbench-Id';

/** Options of {@link createLdaDriver}. */
export interface LdaDriverOptions {
  /** The delivery agent and its arguments (no shell), e.g. `['avbench','deliver','-s','embedded','--maildir',DIR]`. */
  command: readonly string[];
  /** The Maildir where delivered mail lands (to check arrival). Without it, exit 0 counts as delivered unseen. */
  maildir?: string;
  /** Most processes at once (default 1; `send` calls beyond it wait). */
  concurrency?: number;
  /** Per-message deadline for the process (ms, default 120 000). */
  timeoutMs?: number;
  /** Extra environment for the command. */
  env?: Record<string, string>;
  /** `sut` string for results.json (default `lda:` + the command). */
  sut?: string;
  /**
   * Line endings handed to the command: `lf` (default) converts CRLF to LF, as Postfix's
   * local and pipe delivery and Sendmail's local mailer do; `as-is` sends the corpus bytes.
   */
  lineEnding?: 'lf' | 'as-is';
}

/**
 * Parse `--sut lda:COMMAND ARGS...` (split on white space, no shell, no quoting).
 * Throws TypeError for anything else.
 */
export function parseLdaSut(url: string): { command: string[] } {
  if (!url.startsWith('lda:')) throw new TypeError(`not an lda SUT (expected lda:COMMAND ARGS...): ${url}`);
  const command = url.slice(4).trim().split(/\s+/).filter((s) => s !== '');
  if (command.length === 0) throw new TypeError(`lda SUT names no command: ${url}`);
  return { command };
}

/** Virus names in a delivery agent's output: `NAME FOUND` (ClamAV style), `infected: A, B`, `Virus found: NAME`. */
export function namesInOutput(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/(?:^|[\s:])([^\s:]+) FOUND\b/gm)) names.push(m[1]!);
  for (const m of text.matchAll(/(?:infected|Virus found):\s*([^\r\n]+?)(?:\s+in\s+\/\S*)?\s*$/gim)) {
    for (const n of m[1]!.split(/,\s*/)) if (n.trim() !== '') names.push(n.trim());
  }
  return [...new Set(names)];
}

/** A tiny counting semaphore. */
function limiter(n: number): <T>(f: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(f: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await f();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

/** CRLF → LF (a lone CR is kept), as an MTA hands mail to a local delivery agent. */
export function toLf(raw: Buffer): Buffer {
  let i = raw.indexOf('\r\n');
  if (i < 0) return raw;
  const out = Buffer.allocUnsafe(raw.length);
  let o = 0;
  let from = 0;
  while (i >= 0) {
    o += raw.copy(out, o, from, i);
    out[o++] = 0x0a;
    from = i + 2;
    i = raw.indexOf('\r\n', from);
  }
  o += raw.copy(out, o, from);
  return out.subarray(0, o);
}

/** Insert the id header at the top (after an mbox `From ` line), with the message's line ending. */
function withId(raw: Buffer, id: string): Buffer {
  const nl = raw.indexOf(0x0a);
  const eol = nl > 0 && raw[nl - 1] === 0x0d ? '\r\n' : '\n';
  const at = raw.subarray(0, 5).toString('latin1') === 'From ' && nl >= 0 ? nl + 1 : 0;
  return Buffer.concat([raw.subarray(0, at), Buffer.from(`${ID_HEADER}: ${id}${eol}`, 'latin1'), raw.subarray(at)]);
}

/** What the Maildir index knows about one arrived message. */
interface Arrival {
  file: string;
  data: Buffer;
}

/**
 * Index of a Maildir's new/ and cur/ by X-Avbench-Id: files are read once, when first seen
 * (one scan at a time; concurrent lookups share it).
 */
class MaildirIndex {
  private readonly seen = new Set<string>();
  private readonly byId = new Map<string, Arrival>();
  private scanning: Promise<void> | undefined;
  constructor(private readonly dir: string) {}

  /** Forget nothing; just make sure everything on disk now has been read. */
  private async refresh(): Promise<void> {
    for (const sub of ['new', 'cur']) {
      let names: string[];
      try {
        names = await readdir(join(this.dir, sub));
      } catch {
        continue;
      }
      for (const n of names) {
        const base = n.split(':')[0]!; // cur/ names carry ":2,FLAGS"
        if (this.seen.has(base)) continue;
        const file = join(this.dir, sub, n);
        let data: Buffer;
        try {
          data = await readFile(file);
        } catch {
          continue; // moved meanwhile (new → cur); seen next time
        }
        this.seen.add(base);
        const id = getHeader(parseHeaderBlock(splitHeaderBody(data).header), ID_HEADER.toLowerCase());
        if (id !== undefined) this.byId.set(id.trim(), { file, data });
      }
    }
  }

  async find(id: string): Promise<Arrival | undefined> {
    const hit = this.byId.get(id);
    if (hit !== undefined) return hit;
    // Join a scan in progress, then run one that surely started after our process ended.
    while (this.scanning !== undefined) await this.scanning;
    this.scanning = this.refresh().finally(() => {
      this.scanning = undefined;
    });
    await this.scanning;
    return this.byId.get(id);
  }

  /** Drop an entry once its outcome is recorded (keeps memory flat on long runs). */
  release(id: string): void {
    const a = this.byId.get(id);
    if (a !== undefined) this.byId.set(id, { file: a.file, data: Buffer.alloc(0) });
  }
}

/** The verdict a delivered message's X-Virus-Status says (the policy's parser; anything it does not know: error UNCHECKED). */
function statusOf(data: Buffer): ParsedStatus | undefined {
  const fields = parseHeaderBlock(splitHeaderBody(data).header);
  const status = getHeader(fields, 'x-virus-status');
  if (status === undefined) return undefined;
  return parseVirusStatus(status) ?? { verdict: 'error', names: [], errorCode: 'UNCHECKED' };
}

/**
 * The body with mbox From-quoting undone (`>From ` / `>>From ` at a line start → `From `):
 * procmail quotes body lines that start with "From " even when it delivers to a Maildir.
 * That is transport mangling, not a change made by the filter.
 */
function unquoteFrom(b: Buffer): string {
  return b.toString('latin1').replace(/^>+From /gm, 'From ');
}

/** The bytes without the line breaks at the end. */
function trimTrailingBreaks(b: Buffer): Buffer {
  let n = b.length;
  while (n > 0 && (b[n - 1] === 0x0a || b[n - 1] === 0x0d)) n--;
  return b.subarray(0, n);
}

/** Outcome of a delivered message found in the Maildir (sent = what the driver sent, id header included). */
function arrivedOutcome(sent: Buffer, got: Buffer): Omit<MessageOutcome, 'ms' | 'exitCode'> {
  const status = statusOf(got);
  // Trailing line breaks do not count: procmail/formail end every message with an empty
  // line (the mbox convention), so "hello\n" arrives as "hello\n\n".
  const sentBody = trimTrailingBreaks(splitHeaderBody(sent).body);
  const gotBody = trimTrailingBreaks(splitHeaderBody(got).body);
  const unchanged = sentBody.equals(gotBody) || unquoteFrom(sentBody) === unquoteFrom(gotBody);
  const defanged = !unchanged && gotBody.includes('DEFANGED') && !sentBody.includes('DEFANGED');
  if (status?.verdict === 'infected') return { fate: 'tagged', verdict: 'infected', names: status.names };
  if (defanged) {
    if (status !== undefined) return { fate: 'tagged', verdict: status.verdict, names: status.names, ...(status.errorCode === undefined ? {} : { errorCode: status.errorCode }) };
    return { fate: 'tagged', verdict: 'infected', names: ['DEFANGED'] };
  }
  if (status?.verdict === 'error') return { fate: 'delivered', verdict: 'error', names: [], ...(status.errorCode === undefined ? {} : { errorCode: status.errorCode }) };
  if (!unchanged) return { fate: 'delivered', verdict: 'error', names: [], errorCode: 'CHANGED' };
  return { fate: 'delivered', verdict: 'clean', names: [] };
}

/** The lda driver (see the module comment for the mapping). */
export function createLdaDriver(opts: LdaDriverOptions): ModeDriver {
  if (opts.command.length === 0) throw new TypeError('lda driver: empty command');
  const [file, ...args] = opts.command as [string, ...string[]];
  const gate = limiter(Math.max(1, opts.concurrency ?? 1));
  const index = opts.maildir === undefined ? undefined : new MaildirIndex(opts.maildir);
  const runId = randomBytes(6).toString('hex');
  let seq = 0;
  return {
    mode: 'lda',
    sut: opts.sut ?? `lda:${opts.command.join(' ')}`,
    async open(): Promise<void> {},
    send(msg: OutgoingMessage): Promise<MessageOutcome> {
      return gate(async () => {
        const id = `${runId}.${++seq}`;
        const sent = withId(opts.lineEnding === 'as-is' ? msg.raw : toLf(msg.raw), id);
        const t0 = performance.now();
        const r = await run(file, args, {
          input: sent,
          deadline: Date.now() + (opts.timeoutMs ?? 120_000),
          ...(opts.env === undefined ? {} : { env: opts.env }),
        });
        if (!r.ok) {
          return { fate: 'tempfailed', verdict: 'error', names: [], errorCode: r.reason, ms: performance.now() - t0, ...(r.exitCode === undefined ? {} : { exitCode: r.exitCode }) };
        }
        const output = `${r.stdout}\n${r.stderr}`;
        const exitCode = r.exitCode;
        if (exitCode === 75) {
          const code = /tempfail:\s*([A-Z_]+)/.exec(output)?.[1] ?? 'TEMPFAIL';
          return { fate: 'tempfailed', verdict: 'error', names: [], errorCode: code, exitCode, ms: performance.now() - t0 };
        }
        if (exitCode !== 0) {
          const names = namesInOutput(output);
          return names.length > 0
            ? { fate: 'rejected', verdict: 'infected', names, exitCode, ms: performance.now() - t0 }
            : { fate: 'rejected', verdict: 'error', names: [], errorCode: 'SCANNER_EXIT', exitCode, ms: performance.now() - t0 };
        }
        if (index === undefined) {
          return { fate: 'delivered', verdict: 'clean', names: [], exitCode, ms: performance.now() - t0 };
        }
        const arrived = await index.find(id);
        const ms = performance.now() - t0;
        if (arrived === undefined) {
          return { fate: 'dropped', verdict: 'infected', names: namesInOutput(output), exitCode, ms };
        }
        const out = arrivedOutcome(sent, arrived.data);
        index.release(id);
        return { ...out, exitCode, ms };
      });
    },
    async close(): Promise<void> {},
  };
}
