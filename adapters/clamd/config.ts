/**
 * Reading clamd.conf the way clamdscan does, tolerantly: `Key value` lines, `#` comments,
 * blank lines and the `Example` marker ignored, keys case-insensitive, values optionally
 * quoted. Only what a client needs: where clamd listens, and its StreamMaxLength.
 */
import { readFileSync } from 'node:fs';
import type { Endpoint } from '../../src/core/net.js';

/** What a clamd client learns from clamd.conf. */
export interface ClamdConfInfo {
  /** LocalSocket if set, else TCPSocket on TCPAddr (first one; default 127.0.0.1). */
  endpoint?: Endpoint;
  /** StreamMaxLength in bytes, when set (clamd's own default is 25 MiB). */
  streamMaxLength?: number;
}

/** Where clamdscan looks by default. */
export const DEFAULT_CLAMD_CONF = '/etc/clamav/clamd.conf';

/**
 * Parse a size as clamd writes it: `25M`, `512k`, `1G`, `1048576` (bytes).
 * Returns undefined for anything else.
 */
export function parseClamdSize(text: string): number | undefined {
  const m = /^\s*(\d+)\s*([kKmMgG]?)[bB]?\s*$/.exec(text);
  if (m === null) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return n * mult;
}

/** Parse the text of a clamd.conf. Unknown keys and odd lines are skipped, never fatal. */
export function parseClamdConf(text: string): ClamdConfInfo {
  const first = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)(?:\s+(.*))?$/.exec(line);
    if (m === null) continue;
    const key = (m[1] ?? '').toLowerCase();
    let value = (m[2] ?? '').trim();
    if (value.length >= 2 && ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))) {
      value = value.slice(1, -1);
    }
    if (key === 'example' || value === '') continue;
    if (!first.has(key)) first.set(key, value);
  }
  const info: ClamdConfInfo = {};
  const local = first.get('localsocket');
  const tcpPort = first.get('tcpsocket');
  if (local !== undefined) {
    info.endpoint = { path: local };
  } else if (tcpPort !== undefined && /^\d+$/.test(tcpPort)) {
    info.endpoint = { host: first.get('tcpaddr') ?? '127.0.0.1', port: Number(tcpPort) };
  }
  const sml = first.get('streammaxlength');
  if (sml !== undefined) {
    const n = parseClamdSize(sml);
    if (n !== undefined) info.streamMaxLength = n;
  }
  return info;
}

/** Read and parse a clamd.conf; undefined when the file cannot be read. */
export async function readClamdConf(file: string = DEFAULT_CLAMD_CONF): Promise<ClamdConfInfo | undefined> {
  try {
    // Synchronously: a small local file, read once per adapter (a thread-pool round trip costs more).
    return parseClamdConf(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}
