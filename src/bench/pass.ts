/**
 * One pass of the bench: every corpus message (or the first `limit`) driven through a
 * target once, `target.concurrency` at a time, into per-message records with their send
 * and answer times. The corpus is streamed (one message read at a time, never all held).
 * Also the corpus's side of a run: corpus-relative names, the cold pass's header line, and
 * the content hash read once before the runs.
 */
import { readFileSync } from 'node:fs';
import { sep } from 'node:path';
import type { CorpusEntry, OpenedCorpus } from '../corpus/read.js';
import type { MessageResult } from '../results/types.js';
import type { BenchOutcome, Target } from './frontends.js';
import { round3 } from './stats.js';
import { CorpusHasher } from './versions.js';

/** The corpus folder with a trailing separator: what {@link fileOf} strips. */
export function corpusBase(corpus: OpenedCorpus): string {
  return corpus.info.path.endsWith(sep) ? corpus.info.path : corpus.info.path + sep;
}

/** Corpus-relative file name (the record stays small and portable). */
export function fileOf(prefix: string, file: string): string {
  if (!file.startsWith(prefix)) return file;
  const rel = file.slice(prefix.length);
  return sep === '/' ? rel : rel.split(sep).join('/');
}

/** One measured or warm-up pass. */
export interface Pass {
  records: MessageResult[];
  durationMs: number;
  bytes: number;
  /** Per message (by index): when it was sent and when its outcome came, ms after the pass began; its size. */
  starts?: number[];
  ends?: number[];
  sizes?: number[];
}

function toRecord(file: string, entry: CorpusEntry, out: BenchOutcome): MessageResult {
  const r: MessageResult = { file, verdict: out.verdict, names: out.names, ms: round3(out.ms), fate: out.fate };
  if (entry.expected !== undefined) r.expected = entry.expected;
  if (entry.category !== undefined) r.category = entry.category;
  if (out.errorCode !== undefined) r.errorCode = out.errorCode;
  if (out.part !== undefined) r.part = out.part;
  if (out.smtpReply !== undefined) r.smtpReply = out.smtpReply;
  if (out.milterAction !== undefined) r.milterAction = out.milterAction;
  if (out.exitCode !== undefined) r.exitCode = out.exitCode;
  return r;
}

/** Drivers never throw for SUT trouble; a throw is a harness bug, counted as lost. */
function internalFailure(file: string, err: unknown): MessageResult {
  return { file, verdict: 'error', names: [], errorCode: 'INTERNAL', ms: 0, fate: 'lost', smtpReply: `avbench: ${err instanceof Error ? err.message : String(err)}` };
}

/** The header line that makes a cold pass's bytes new (unique per message and pass). */
export const PASS_HEADER = 'X-Avbench-Pass';

/**
 * `raw` with an `X-Avbench-Pass: <value>` line on top (after an mbox `From ` line, in the
 * message's own line ending): new bytes for whole-message caches, the same parts inside.
 */
export function withPassHeader(raw: Buffer, value: string): Buffer {
  const nl = raw.indexOf(0x0a);
  const eol = nl > 0 && raw[nl - 1] === 0x0d ? '\r\n' : '\n';
  const at = nl >= 0 && raw.subarray(0, 5).toString('latin1') === 'From ' ? nl + 1 : 0;
  return Buffer.concat([raw.subarray(0, at), Buffer.from(`${PASS_HEADER}: ${value}${eol}`, 'latin1'), raw.subarray(at)]);
}

/** Drive every corpus message through `target` once, `target.concurrency` at a time. */
export async function runPass(corpus: OpenedCorpus, target: Target, tick: (done: number) => void, limit = Infinity, nonce?: string): Promise<Pass> {
  const syncRead = corpus.info.kind !== 'mbox';
  const base = corpusBase(corpus);
  const records: MessageResult[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  const sizes: number[] = [];
  const inFlight = new Set<Promise<void>>();
  const inFlightMax = Math.max(1, target.concurrency);
  let bytes = 0;
  let done = 0;
  let index = 0;
  const driver = target.driver;
  const t0 = performance.now();
  for await (const entry of corpus.entries) {
    if (index >= limit) break;
    const i = index++;
    const file = fileOf(base, entry.file);
    let raw: Buffer;
    let size = 0;
    try {
      // Synchronous reads of small files are several times cheaper than fs/promises here,
      // and the pass is about the system under test, not the harness.
      raw = syncRead ? readFileSync(entry.file) : await entry.read();
      size = raw.length;
      if (nonce !== undefined) raw = withPassHeader(raw, `${nonce}.${i}`);
    } catch (err) {
      records[i] = {
        file,
        ...(entry.expected === undefined ? {} : { expected: entry.expected }),
        ...(entry.category === undefined ? {} : { category: entry.category }),
        verdict: 'error',
        names: [],
        errorCode: 'IO',
        ms: 0,
        fate: target.mode === 'direct' ? 'scanned' : 'tempfailed',
      };
      starts[i] = ends[i] = performance.now() - t0;
      sizes[i] = 0;
      tick(++done);
      void err;
      continue;
    }
    // The corpus's bytes: a cold pass's header line is not counted in MB/s.
    bytes += size;
    sizes[i] = size;
    starts[i] = performance.now() - t0;
    if (inFlightMax === 1) {
      // The lean path: no extra promise or closure per message.
      let out: BenchOutcome;
      try {
        out = await driver.send({ file: entry.file, raw });
      } catch (err) {
        records[i] = internalFailure(file, err);
        ends[i] = performance.now() - t0;
        tick(++done);
        continue;
      }
      ends[i] = performance.now() - t0;
      records[i] = toRecord(file, entry, out);
      tick(++done);
      continue;
    }
    const p = driver.send({ file: entry.file, raw }).then(
      (out) => {
        ends[i] = performance.now() - t0;
        records[i] = toRecord(file, entry, out);
        tick(++done);
      },
      (err: unknown) => {
        ends[i] = performance.now() - t0;
        records[i] = internalFailure(file, err);
        tick(++done);
      },
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    if (inFlight.size >= inFlightMax) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const durationMs = performance.now() - t0;
  target.afterPass?.();
  return { records, durationMs, bytes, starts, ends, sizes };
}

/** sha256 of the benched messages (names and bytes), read once before the runs; undefined when one cannot be read. */
export async function hashCorpus(corpus: OpenedCorpus, limit: number): Promise<string | undefined> {
  const base = corpusBase(corpus);
  const h = new CorpusHasher();
  let n = 0;
  try {
    for await (const entry of corpus.entries) {
      if (n++ >= limit) break;
      h.add(fileOf(base, entry.file), await entry.read());
    }
  } catch {
    return undefined;
  }
  return h.hex();
}
