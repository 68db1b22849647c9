/**
 * ICAP (RFC 3507) codec, as pure functions plus a chunked-body reader over any byte
 * reader: URL parsing, OPTIONS and RESPMOD request encoding (with Preview), response head
 * parsing (with header folding), Encapsulated parsing, chunked transfer coding, and reading
 * the infection headers ICAP servers use.
 */

/** A parsed `icap://host[:port]/service[?query]` URL. */
export interface IcapUrl {
  host: string;
  port: number;
  /** Path and query after the authority, starting with '/'. */
  service: string;
  /** The URL as sent in request lines: `icap://host:port/service`. */
  href: string;
}

/** ICAP's registered port. */
export const ICAP_DEFAULT_PORT = 1344;

/** Parse an ICAP URL; throws TypeError for anything else (bad configuration). */
export function parseIcapUrl(url: string): IcapUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`not an ICAP URL: ${url}`);
  }
  if (u.protocol !== 'icap:') throw new TypeError(`not an icap:// URL: ${url}`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new TypeError(`ICAP URL without host: ${url}`);
  const port = u.port === '' ? ICAP_DEFAULT_PORT : Number(u.port);
  const service = `${u.pathname === '' ? '/' : u.pathname}${u.search}`;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return { host, port, service, href: `icap://${hostPart}:${port}${service}` };
}

/** Header lists keyed by lower-case name (a header may repeat). */
export type Headers = Map<string, string[]>;

/** First value of a header (case-insensitive name). */
export function header(h: Headers, name: string): string | undefined {
  return h.get(name.toLowerCase())?.[0];
}

/** A parsed ICAP (or HTTP) response head. */
export interface ResponseHead {
  /** `ICAP/1.0` or `HTTP/1.1`. */
  version: string;
  status: number;
  reason: string;
  headers: Headers;
}

/**
 * Parse a response head (status line + header lines, without the blank line). Folded
 * header lines (starting with space or tab) continue the previous header. Returns
 * undefined when the status line is not `PROTO/x.y NNN reason`.
 */
export function parseResponseHead(text: string): ResponseHead | undefined {
  const lines = text.split(/\r?\n/);
  const m = /^([A-Z]+\/\d\.\d)\s+(\d{3})(?:\s+(.*))?$/.exec(lines[0] ?? '');
  if (m === null) return undefined;
  const headers: Headers = new Map();
  let last: { name: string; index: number } | undefined;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    if ((line.startsWith(' ') || line.startsWith('\t')) && last !== undefined) {
      const list = headers.get(last.name) as string[];
      list[last.index] = `${list[last.index] ?? ''} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue; // tolerate junk lines
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    let list = headers.get(name);
    if (list === undefined) headers.set(name, (list = []));
    list.push(value);
    last = { name, index: list.length - 1 };
  }
  return { version: m[1] as string, status: Number(m[2]), reason: (m[3] ?? '').trim(), headers };
}

/** One entity of an `Encapsulated` header: `res-hdr=0`, `res-body=161`, `null-body=0`... */
export interface EncapsulatedPart {
  name: string;
  offset: number;
}

/** Parse `Encapsulated: res-hdr=0, res-body=161`; undefined when malformed or offsets go backwards. */
export function parseEncapsulated(value: string): EncapsulatedPart[] | undefined {
  const parts: EncapsulatedPart[] = [];
  for (const item of value.split(',')) {
    const m = /^\s*([a-z]+-[a-z]+)\s*=\s*(\d+)\s*$/i.exec(item);
    if (m === null) return undefined;
    const offset = Number(m[2]);
    if (parts.length > 0 && offset < (parts[parts.length - 1] as EncapsulatedPart).offset) return undefined;
    parts.push({ name: (m[1] as string).toLowerCase(), offset });
  }
  return parts.length > 0 ? parts : undefined;
}

/** What an OPTIONS response says about a service. */
export interface IcapOptions {
  methods: string[];
  /** Bytes the server wants to see as preview; undefined when it does not do previews. */
  preview?: number;
  allow204: boolean;
  istag?: string;
  service?: string;
  maxConnections?: number;
  /** Seconds the answer stays valid. */
  ttl?: number;
}

/** Read the OPTIONS response headers. */
export function parseOptions(head: ResponseHead): IcapOptions {
  const h = head.headers;
  const methods = (header(h, 'methods') ?? '').split(',').map((s) => s.trim().toUpperCase()).filter((s) => s !== '');
  const num = (name: string): number | undefined => {
    const v = header(h, name);
    return v !== undefined && /^\d+$/.test(v.trim()) ? Number(v.trim()) : undefined;
  };
  const opts: IcapOptions = { methods, allow204: (header(h, 'allow') ?? '').split(',').some((s) => s.trim() === '204') };
  const preview = num('preview');
  if (preview !== undefined) opts.preview = preview;
  const istag = header(h, 'istag');
  if (istag !== undefined) opts.istag = istag.replace(/^"(.*)"$/, '$1');
  const service = header(h, 'service');
  if (service !== undefined) opts.service = service;
  const maxc = num('max-connections');
  if (maxc !== undefined) opts.maxConnections = maxc;
  const ttl = num('options-ttl');
  if (ttl !== undefined) opts.ttl = ttl;
  return opts;
}

/** Encode an OPTIONS request. */
export function encodeOptions(url: IcapUrl): Buffer {
  return Buffer.from(`OPTIONS ${url.href} ICAP/1.0\r\nHost: ${hostHeader(url)}\r\nEncapsulated: null-body=0\r\n\r\n`, 'latin1');
}

function hostHeader(url: IcapUrl): string {
  const h = url.host.includes(':') ? `[${url.host}]` : url.host;
  return url.port === ICAP_DEFAULT_PORT ? h : `${h}:${url.port}`;
}

/** One chunk of the chunked transfer coding (nothing for empty data). */
export function encodeChunk(data: Buffer): Buffer[] {
  if (data.length === 0) return [];
  return [Buffer.from(`${data.length.toString(16)}\r\n`, 'latin1'), data, Buffer.from('\r\n', 'latin1')];
}

/** The last chunk: `0\r\n\r\n`, or `0; ieof\r\n\r\n` when a preview holds the whole body. */
export function lastChunk(ieof = false): Buffer {
  return Buffer.from(ieof ? '0; ieof\r\n\r\n' : '0\r\n\r\n', 'latin1');
}

/** What to put in a RESPMOD request. */
export interface RespmodInput {
  url: IcapUrl;
  body: Buffer;
  /** File name offered to the server in the encapsulated request line (servers judge by it). */
  filename?: string;
  /** Content-Type of the encapsulated HTTP response (default application/octet-stream). */
  contentType?: string;
  /** Preview size the server advertised (undefined: no preview). */
  preview?: number;
  /** Send `Allow: 204` (default true). */
  allow204?: boolean;
}

/** A RESPMOD request, ready to write: `first` goes out at once; `rest` only after `100 Continue` when `needsContinue`. */
export interface EncodedRespmod {
  first: Buffer[];
  rest: Buffer[];
  needsContinue: boolean;
}

/** Sanitize a file name for a request line: no controls, no spaces, percent-encoded. */
function pathFor(filename: string | undefined): string {
  if (filename === undefined || filename === '') return '/avbench-scan';
  return `/${encodeURIComponent(filename.replace(/^.*[\\/]/, '')).slice(0, 200)}`;
}

/**
 * Encode a RESPMOD with an encapsulated HTTP request head, HTTP response head and chunked
 * body: `Encapsulated: req-hdr=0, res-hdr=R, res-body=B` (`null-body` when empty).
 */
export function encodeRespmod(input: RespmodInput): EncodedRespmod {
  const { url, body } = input;
  const reqHdr = Buffer.from(`GET ${pathFor(input.filename)} HTTP/1.1\r\nHost: avbench.invalid\r\n\r\n`, 'latin1');
  const resHdr = Buffer.from(
    `HTTP/1.1 200 OK\r\nContent-Type: ${(input.contentType ?? 'application/octet-stream').replace(/[\r\n]/g, '')}\r\nContent-Length: ${body.length}\r\n\r\n`,
    'latin1',
  );
  const bodyKey = body.length === 0 ? 'null-body' : 'res-body';
  const lines = [`RESPMOD ${url.href} ICAP/1.0`, `Host: ${hostHeader(url)}`];
  if (input.allow204 ?? true) lines.push('Allow: 204');
  const preview = body.length === 0 || input.preview === undefined ? undefined : Math.min(input.preview, body.length);
  if (preview !== undefined) lines.push(`Preview: ${preview}`);
  lines.push(`Encapsulated: req-hdr=0, res-hdr=${reqHdr.length}, ${bodyKey}=${reqHdr.length + resHdr.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  if (body.length === 0) return { first: [head, reqHdr, resHdr], rest: [], needsContinue: false };
  if (preview === undefined) {
    return { first: [head, reqHdr, resHdr, ...encodeChunk(body), lastChunk()], rest: [], needsContinue: false };
  }
  const all = preview === body.length;
  const first = [head, reqHdr, resHdr, ...encodeChunk(body.subarray(0, preview)), lastChunk(all)];
  if (all) return { first, rest: [], needsContinue: false };
  return { first, rest: [...encodeChunk(body.subarray(preview)), lastChunk()], needsContinue: true };
}

/** The two reads a chunked decoder needs (net.ts's Connection has them). */
export interface ByteReader {
  readUntil(delimiter: string, opts?: { maxBytes?: number }): Promise<Buffer>;
  readExactly(n: number): Promise<Buffer>;
}

/** Thrown by the decoders for malformed input (the adapter maps it to PROTOCOL). */
export class IcapSyntaxError extends Error {
  override readonly name = 'IcapSyntaxError';
}

/**
 * Read a chunked body (chunk extensions such as `; ieof` ignored, trailers skipped).
 * Throws IcapSyntaxError for a bad size line or a body over `maxBytes`.
 */
export async function readChunked(r: ByteReader, maxBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for (;;) {
    const line = (await r.readUntil('\r\n', { maxBytes: 1024 })).toString('latin1');
    const m = /^\s*([0-9a-fA-F]+)\s*(?:;.*)?$/.exec(line);
    if (m === null) throw new IcapSyntaxError(`bad chunk size line ${JSON.stringify(line.slice(0, 40))}`);
    const size = parseInt(m[1] as string, 16);
    if (size === 0) {
      // trailers, then the blank line
      for (;;) {
        const t = await r.readUntil('\r\n', { maxBytes: 8192 });
        if (t.length === 0) break;
      }
      return Buffer.concat(parts, total);
    }
    total += size;
    if (total > maxBytes) throw new IcapSyntaxError(`chunked body over ${maxBytes} bytes`);
    const data = await r.readExactly(size + 2);
    if (data[size] !== 0x0d || data[size + 1] !== 0x0a) throw new IcapSyntaxError('chunk not followed by CRLF');
    parts.push(data.subarray(0, size));
  }
}

/** A ByteReader over a buffer in memory (for decoding captured bytes and for tests). */
export class BufferReader implements ByteReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  readUntil(delimiter: string): Promise<Buffer> {
    const i = this.buf.indexOf(delimiter, this.pos, 'latin1');
    if (i < 0) return Promise.reject(new IcapSyntaxError(`no ${JSON.stringify(delimiter)} before the end`));
    const out = this.buf.subarray(this.pos, i);
    this.pos = i + delimiter.length;
    return Promise.resolve(out);
  }
  readExactly(n: number): Promise<Buffer> {
    if (this.pos + n > this.buf.length) return Promise.reject(new IcapSyntaxError('unexpected end of data'));
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return Promise.resolve(out);
  }
  /** Bytes not read yet. */
  remaining(): number {
    return this.buf.length - this.pos;
  }
}

/**
 * The threat name an ICAP response header block gives, if any: `X-Infection-Found:
 * Type=0; Resolution=2; Threat=NAME;` (the draft standard), `X-Virus-ID: NAME`, or
 * `X-Virus-Name: NAME`.
 */
export function threatFromHeaders(h: Headers): string | undefined {
  for (const v of h.get('x-infection-found') ?? []) {
    const m = /(?:^|;)\s*Threat\s*=\s*([^;]+?)\s*(?:;|$)/i.exec(v);
    if (m !== null && (m[1] ?? '') !== '') return m[1] as string;
  }
  for (const name of ['x-virus-id', 'x-virus-name']) {
    const v = header(h, name)?.trim();
    if (v !== undefined && v !== '' && !/^(?:no threats?|none|clean|-)$/i.test(v)) return v;
  }
  return undefined;
}

/**
 * A virus name from a block page, when the page names one (`Virus name: X`, `Threat: X`,
 * `Virus X detected`, `infected with X`). Undefined when nothing looks like a name.
 */
export function threatFromBlockPage(body: Buffer): string | undefined {
  const text = body.toString('utf8', 0, Math.min(body.length, 64 * 1024)).replace(/<[^>]*>/g, ' ');
  const patterns = [
    /(?:virus|threat|malware)(?:\s+name)?\s*:\s*([A-Za-z0-9][\w.\-/:!]{2,})/i,
    /infected with(?: the)?(?: virus)?\s+([A-Za-z0-9][\w.\-/:!]{2,})/i,
    /virus\s+([A-Za-z0-9][\w.\-/:!]{2,})\s+(?:detected|found)/i,
  ];
  for (const p of patterns) {
    const m = p.exec(text);
    if (m !== null) return m[1];
  }
  return undefined;
}
