/**
 * The clamd wire protocol, as pure functions: INSTREAM framing and reply parsing.
 * `zINSTREAM\0`, then chunks `<u32 BE length><bytes>`, then a zero-length chunk; replies are
 * NUL-terminated (`stream: OK`, `stream: NAME FOUND`, `... ERROR`); inside an IDSESSION each
 * reply is prefixed with the command's number (`3: stream: OK`).
 */

/** A parsed clamd reply to INSTREAM. */
export type ClamdReply =
  | { kind: 'clean' }
  | { kind: 'found'; name: string }
  | { kind: 'size-limit'; message: string }
  | { kind: 'error'; message: string }
  | { kind: 'garbage'; message: string };

/** The command that starts a stream scan (z-form: NUL-terminated command and replies). */
export const INSTREAM = Buffer.from('zINSTREAM\0', 'latin1');
/** The chunk that ends a stream. */
export const END_OF_STREAM = Buffer.alloc(4);

/**
 * Frame `data` as INSTREAM chunks of at most `chunkSize` bytes (without the command and
 * without the terminating zero chunk). The data is not copied.
 */
export function frameChunks(data: Buffer, chunkSize: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += chunkSize) {
    const piece = data.subarray(off, Math.min(data.length, off + chunkSize));
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(piece.length, 0);
    out.push(len, piece);
  }
  return out;
}

/** Is this a heuristic detection (clamd's `Heuristics.*` names, e.g. `Heuristics.Phishing.Email.SpoofedDomain`)? */
export function isHeuristic(name: string): boolean {
  return /^Heuristics\./.test(name);
}

/** Parse one reply (NUL already stripped). Session numbers (`12: `) are removed. */
export function parseReply(text: string): ClamdReply {
  const t = text.replace(/[\0\r\n]+$/, '').replace(/^\d+: /, '');
  if (t === 'stream: OK') return { kind: 'clean' };
  const found = /^stream: (.+) FOUND$/.exec(t);
  if (found !== null && (found[1] ?? '') !== '') return { kind: 'found', name: found[1] as string };
  if (/size limit exceeded/i.test(t)) return { kind: 'size-limit', message: t };
  if (/ ERROR$/.test(t)) return { kind: 'error', message: t };
  return { kind: 'garbage', message: `unexpected reply from clamd: ${JSON.stringify(t.slice(0, 200))}` };
}

/** Parse clamd's VERSION reply: `ClamAV 1.4.6/27400/Mon Nov 24 09:00:00 2026` (db parts optional). */
export function parseVersion(text: string): { version: string; signatures?: string } | undefined {
  const t = text.replace(/[\0\r\n]+$/, '').replace(/^\d+: /, '');
  const m = /^(ClamAV [^/\s]+)(?:\/(\d+)(?:\/(.+))?)?$/.exec(t);
  if (m === null) return undefined;
  const version = m[1] as string;
  if (m[2] === undefined) return { version };
  return { version, signatures: m[3] === undefined ? `daily ${m[2]}` : `daily ${m[2]} (${m[3]})` };
}
