/**
 * The clamd wire protocol, as pure functions: INSTREAM framing, SCAN commands and reply parsing.
 * `zINSTREAM\0`, then chunks `<u32 BE length><bytes>`, then a zero-length chunk; replies are
 * NUL-terminated (`stream: OK`, `stream: NAME FOUND`, `... ERROR`); inside an IDSESSION each
 * reply is prefixed with the command's number (`3: stream: OK`). `zSCAN <path>\0` makes
 * clamd read a file itself and answer `<path>: OK`, `<path>: NAME FOUND` or `<path>: ... ERROR`.
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

/** A reply's text without its trailing NUL or line end and its session number (`12: `). */
export function replyText(text: string): string {
  return text.replace(/[\0\r\n]+$/, '').replace(/^\d+: /, '');
}

/** Parse one reply (NUL already stripped). Session numbers (`12: `) are removed. */
export function parseReply(text: string): ClamdReply {
  const t = replyText(text);
  if (t === 'stream: OK') return { kind: 'clean' };
  const found = /^stream: (.+) FOUND$/.exec(t);
  if (found !== null && (found[1] ?? '') !== '') return { kind: 'found', name: found[1] as string };
  if (/size limit exceeded/i.test(t)) return { kind: 'size-limit', message: t };
  if (/ ERROR$/.test(t)) return { kind: 'error', message: t };
  return { kind: 'garbage', message: `unexpected reply from clamd: ${JSON.stringify(t.slice(0, 200))}` };
}

/** Parse clamd's VERSION reply: `ClamAV 1.4.6/27400/Mon Nov 24 09:00:00 2026` (db parts optional). */
export function parseVersion(text: string): { version: string; signatures?: string } | undefined {
  const t = replyText(text);
  const m = /^(ClamAV [^/\s]+)(?:\/(\d+)(?:\/(.+))?)?$/.exec(t);
  if (m === null) return undefined;
  const version = m[1] as string;
  if (m[2] === undefined) return { version };
  return { version, signatures: m[3] === undefined ? `daily ${m[2]}` : `daily ${m[2]} (${m[3]})` };
}

/** Longest path sent with SCAN (bytes); longer ones are streamed instead (Linux PATH_MAX is 4096). */
export const MAX_SCAN_PATH_BYTES = 4000;

/**
 * The `zSCAN <path>\0` command for an absolute path, or undefined when the path cannot be
 * sent safely (not absolute, a newline or NUL in it, too long): the caller streams instead.
 */
export function scanCommand(path: string): Buffer | undefined {
  if (!path.startsWith('/') || /[\0\r\n]/.test(path)) return undefined;
  const cmd = Buffer.from(`zSCAN ${path}\0`, 'utf8');
  return cmd.length - 7 > MAX_SCAN_PATH_BYTES ? undefined : cmd;
}

/**
 * Parse clamd's reply to `SCAN <path>` (NUL already stripped; a session number `12: ` is
 * removed, and must equal `session` when given). `error` means clamd did not scan the
 * file (no access, gone, not a regular file, ExcludePath): the caller may stream the bytes instead.
 */
export function parseScanReply(text: string, path: string, session?: number): ClamdReply {
  let t = text.replace(/[\0\r\n]+$/, '');
  const id = /^(\d+): /.exec(t);
  if (id !== null) {
    if (session !== undefined && Number(id[1]) !== session) {
      return { kind: 'garbage', message: `clamd answered command ${id[1]} where ${session} was expected` };
    }
    t = t.slice(id[0].length);
  } else if (session !== undefined) {
    return { kind: 'garbage', message: `unexpected reply from clamd (no session number): ${JSON.stringify(t.slice(0, 200))}` };
  }
  const prefix = `${path}: `;
  if (t.startsWith(prefix)) {
    const rest = t.slice(prefix.length);
    if (rest === 'OK') return { kind: 'clean' };
    // ExcludePath matched: clamd did not look at the file.
    if (rest === 'Excluded') return { kind: 'error', message: `${t} (clamd did not scan it: ExcludePath)` };
    const found = /^(.+) FOUND$/.exec(rest);
    if (found !== null) return { kind: 'found', name: found[1] as string };
  }
  if (/ ERROR$/.test(t)) return { kind: 'error', message: t };
  return { kind: 'garbage', message: `unexpected reply from clamd: ${JSON.stringify(t.slice(0, 200))}` };
}
