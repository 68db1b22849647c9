/**
 * ICAP adapter: our own RFC 3507 RESPMOD client, the way most commercial scanners' ICAP
 * front ends (and c-icap + virus_scan) are reached. OPTIONS probe (Methods, Preview,
 * Allow: 204, ISTag, Service, Max-Connections), RESPMOD with the unit as an encapsulated HTTP
 * response body (chunked), Preview when the server advertises it, `Allow: 204`, keep-alive
 * connection reuse (core/net.ts's IdlePool), an absolute deadline per scan.
 *
 * Results:
 * - 204 → clean
 * - 200 with `X-Infection-Found: ...Threat=NAME;`, `X-Virus-ID` or `X-Virus-Name` → infected (that name)
 * - 200 with an encapsulated HTTP 403 and no such header → infected, named from the block
 *   page when it names a threat, else `ICAP-Blocked`: the server did block the content, so
 *   it is not an error, and a synthetic, recognisable name is more honest than none
 * - 200 with the body unmodified (HTTP 200) → clean; modified without naming a threat → PROTOCOL error
 * - ICAP 404 → NOT_AVAILABLE (service not found); other 4xx/5xx or anything unreadable → PROTOCOL
 */
import type { Adapter, Detection, ProbeResult, ScanContext, ScanUnit, Verdict } from '../src/core/types.js';
import { CLEAN, errorVerdict, infected } from '../src/core/verdict.js';
import { IdlePool, NetError, asNetError, connect, type Connection, type Endpoint } from '../src/core/net.js';
import {
  IcapSyntaxError,
  encodeOptions,
  encodeRespmod,
  header,
  parseEncapsulated,
  parseIcapUrl,
  parseOptions,
  parseResponseHead,
  readChunked,
  threatFromBlockPage,
  threatFromHeaders,
  type IcapOptions,
  type IcapUrl,
  type ResponseHead,
} from './icap/codec.js';

export { parseIcapUrl, type IcapOptions } from './icap/codec.js';

/** Name used when a server blocks content (HTTP 403) without naming a threat anywhere. */
export const ICAP_BLOCKED_NAME = 'ICAP-Blocked';

/** Options of {@link createIcapAdapter}. */
export interface IcapAdapterOptions {
  /** `icap://host[:port]/service`, e.g. `icap://127.0.0.1:1344/avscan`. */
  url: string;
  /** Name it is selected by (default 'icap'). */
  name?: string;
  /** 'part' (default) or 'message'. */
  granularity?: 'message' | 'part';
  /** Absolute deadline per scan, ms from its start (default 30 000; ctx.deadline caps it). */
  timeoutMs?: number;
  /** Idle keep-alive connections kept (default 4; 0 = a new connection per request). */
  poolSize?: number;
  /** Use Preview when the server advertises it (default true). */
  usePreview?: boolean;
}

/** The outcome of reading one ICAP response. */
type Final = { head: ResponseHead; httpHead?: ResponseHead; body?: Buffer; keepAlive: boolean };

/** The ICAP adapter's state: the server's OPTIONS (cached for their TTL) and its idle keep-alive connections (an {@link IdlePool}). */
class IcapAdapter implements Adapter {
  readonly type = 'icap';
  readonly name: string;
  readonly granularity: 'message' | 'part';
  /** The service, from `opts.url`. */
  private readonly url: IcapUrl;
  /** Its host and port. */
  private readonly endpoint: Endpoint;
  private readonly timeoutMs: number;
  private readonly usePreview: boolean;
  /** Idle keep-alive connections (poolSize of them at most); one with unread bytes is not reused. */
  private readonly idle: IdlePool<Connection>;
  private options: { value: IcapOptions; until: number } | undefined;

  constructor(opts: IcapAdapterOptions) {
    const url = (this.url = parseIcapUrl(opts.url));
    const name = (this.name = opts.name ?? 'icap');
    this.granularity = opts.granularity ?? 'part';
    const timeoutMs = (this.timeoutMs = opts.timeoutMs ?? 30_000);
    const poolSize = opts.poolSize ?? 4;
    if (!(timeoutMs > 0)) throw new TypeError(`icap ${name}: timeoutMs must be positive`);
    if (!(poolSize >= 0)) throw new TypeError(`icap ${name}: poolSize must be >= 0`);
    this.usePreview = opts.usePreview ?? true;
    this.endpoint = { host: url.host, port: url.port };
    this.idle = new IdlePool<Connection>({
      max: poolSize,
      usable: (c) => !c.closed && c.buffered().length === 0,
      dispose: (c, why) => (why === 'unusable' ? c.destroy() : c.close()),
    });
  }

  /** A connection: an idle one (`reused`, moved to this deadline and signal) or a new one. Throws NetError. */
  private async checkout(deadline: number, signal: AbortSignal): Promise<{ conn: Connection; reused: boolean }> {
    const { item: conn, reused } = await this.idle.acquire(this.endpoint, () => connect(this.endpoint, { deadline, signal }));
    if (reused) conn.setDeadline(deadline, signal);
    return { conn, reused };
  }

  /** After a complete response: back to the pool when the server keeps the connection alive, else closed. */
  private checkin(conn: Connection, keepAlive: boolean): void {
    if (!keepAlive) {
      conn.close();
      return;
    }
    conn.setDeadline(Number.MAX_SAFE_INTEGER);
    this.idle.put(this.endpoint, conn);
  }

  /** Read a response head; PROTOCOL when it is not ICAP. */
  private async readHead(conn: Connection): Promise<ResponseHead> {
    const text = (await conn.readUntil('\r\n\r\n', { maxBytes: 64 * 1024 })).toString('latin1');
    const head = parseResponseHead(text);
    if (head === undefined || !head.version.startsWith('ICAP/')) {
      throw new NetError('PROTOCOL', `${this.url.href}: not an ICAP response: ${JSON.stringify(text.slice(0, 120))}`);
    }
    return head;
  }

  /** Read the encapsulated sections after a final head. */
  private async readFinal(conn: Connection, head: ResponseHead, maxBody: number): Promise<Final> {
    const href = this.url.href;
    const keepAlive = !/\bclose\b/i.test(header(head.headers, 'connection') ?? '');
    const encValue = header(head.headers, 'encapsulated');
    if (encValue === undefined) return { head, keepAlive: keepAlive && head.status === 204 };
    const parts = parseEncapsulated(encValue);
    if (parts === undefined) throw new NetError('PROTOCOL', `${href}: bad Encapsulated header ${JSON.stringify(encValue)}`);
    const final: Final = { head, keepAlive };
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as (typeof parts)[number];
      if (p.name.endsWith('-body')) {
        if (p.name !== 'null-body') {
          try {
            final.body = await readChunked(conn, maxBody);
          } catch (e) {
            if (e instanceof IcapSyntaxError) throw new NetError('PROTOCOL', `${href}: ${e.message}`);
            throw e;
          }
        }
        break;
      }
      const next = parts[i + 1];
      if (next === undefined) throw new NetError('PROTOCOL', `${href}: Encapsulated has no body entry`);
      const bytes = await conn.readExactly(next.offset - p.offset);
      if (p.name === 'res-hdr') {
        const http = parseResponseHead(bytes.toString('latin1'));
        if (http === undefined) throw new NetError('PROTOCOL', `${href}: bad encapsulated HTTP response head`);
        final.httpHead = http;
      }
    }
    return final;
  }

  private async getOptions(deadline: number, signal: AbortSignal): Promise<IcapOptions | Verdict> {
    const { name, url } = this;
    if (this.options !== undefined && this.options.until > Date.now()) return this.options.value;
    let conn: Connection | undefined;
    try {
      ({ conn } = await this.checkout(deadline, signal));
      await conn.write(encodeOptions(url));
      const head = await this.readHead(conn);
      const final = await this.readFinal(conn, head, 1024 * 1024);
      if (head.status === 404) {
        conn.close();
        return errorVerdict('NOT_AVAILABLE', `${name}: ICAP service not found: ${url.href} (${head.status} ${head.reason})`);
      }
      if (head.status !== 200) {
        conn.close();
        return errorVerdict('PROTOCOL', `${name}: OPTIONS ${url.href} answered ${head.status} ${head.reason}`);
      }
      this.checkin(conn, final.keepAlive);
      const value = parseOptions(head);
      this.options = { value, until: Date.now() + 1000 * (value.ttl ?? 3600) };
      return value;
    } catch (e) {
      conn?.destroy();
      const err = asNetError(e);
      return errorVerdict(err.code, `${name}: OPTIONS ${url.href}: ${err.message}`);
    }
  }

  private judge(final: Final, unit: ScanUnit): Verdict {
    const { name, url } = this;
    const { head } = final;
    const detection = (threat: string): Verdict => {
      const d: Detection = { name: threat, scanner: name };
      if (unit.kind === 'part') d.part = unit.location;
      return infected([d]);
    };
    if (head.status === 204) return CLEAN;
    if (head.status === 404) return errorVerdict('NOT_AVAILABLE', `${name}: ICAP service not found: ${url.href} (404 ${head.reason})`);
    if (head.status !== 200) return errorVerdict('PROTOCOL', `${name}: ICAP ${head.status} ${head.reason}`);
    const threat = threatFromHeaders(head.headers);
    if (threat !== undefined) return detection(threat);
    const httpStatus = final.httpHead?.status;
    if (httpStatus === 403) return detection((final.body && threatFromBlockPage(final.body)) ?? ICAP_BLOCKED_NAME);
    const body = final.body ?? Buffer.alloc(0);
    if ((httpStatus === undefined || httpStatus === 200) && body.equals(unit.data)) return CLEAN;
    return errorVerdict(
      'PROTOCOL',
      `${name}: ICAP 200 modified the content (HTTP ${httpStatus ?? 'none'}, ${body.length} of ${unit.data.length} bytes) without naming a threat`,
    );
  }

  /** One RESPMOD; 'retry' when a reused connection turned out closed before any answer (one fresh try is worth it). */
  private async respmod(unit: ScanUnit, opt: IcapOptions, deadline: number, signal: AbortSignal): Promise<Verdict | 'retry'> {
    const { name, url } = this;
    let conn: Connection;
    let reused: boolean;
    try {
      ({ conn, reused } = await this.checkout(deadline, signal));
    } catch (e) {
      const err = asNetError(e);
      return errorVerdict(err.code, `${name}: ${err.message}`);
    }
    let gotResponse = false;
    try {
      const usePreview = this.usePreview && opt.preview !== undefined;
      const req = encodeRespmod({
        url,
        body: unit.data,
        ...(unit.filename === undefined ? {} : { filename: unit.filename }),
        ...(unit.contentType === undefined ? {} : { contentType: unit.contentType }),
        ...(usePreview && opt.preview !== undefined ? { preview: opt.preview } : {}),
        allow204: true,
      });
      await conn.write(...req.first);
      let head = await this.readHead(conn);
      gotResponse = true;
      if (head.status === 100) {
        if (!req.needsContinue) throw new NetError('PROTOCOL', `${url.href}: 100 Continue after a complete request`);
        await conn.write(...req.rest);
        head = await this.readHead(conn);
        if (head.status === 100) throw new NetError('PROTOCOL', `${url.href}: a second 100 Continue`);
      } else if (req.needsContinue && head.status !== 204 && head.status !== 200) {
        // an early error answer: the connection is in an unknown state
        conn.destroy();
        return this.judge({ head, keepAlive: false }, unit);
      }
      const maxBody = Math.min(256 * 1024 * 1024, unit.data.length * 2 + 1024 * 1024);
      const final = await this.readFinal(conn, head, maxBody);
      const verdict = this.judge(final, unit);
      // A final answer on the preview alone (no 100) ends the request too: reusable.
      this.checkin(conn, final.keepAlive);
      return verdict;
    } catch (e) {
      conn.destroy();
      const err = asNetError(e);
      if (reused && !gotResponse && err.code === 'CONNECT_FAILED') return 'retry';
      return errorVerdict(err.code, `${name}: ${err.message}`);
    }
  }

  async probe(): Promise<ProbeResult> {
    const { url } = this;
    this.options = undefined;
    const o = await this.getOptions(Date.now() + Math.min(this.timeoutMs, 5_000), new AbortController().signal);
    if ('status' in o) {
      const why = o.status === 'error' ? o.error.message : 'unexpected';
      return { available: false, reason: `${why}: check the ICAP URL and that the server runs` };
    }
    if (!o.methods.includes('RESPMOD')) return { available: false, reason: `${url.href} does not offer RESPMOD (Methods: ${o.methods.join(', ')})` };
    const result: ProbeResult = { available: true };
    if (o.service !== undefined) result.version = o.service;
    if (o.istag !== undefined) result.signatures = `ISTag ${o.istag}`;
    return result;
  }

  async scan(unit: ScanUnit, ctx: ScanContext): Promise<Verdict> {
    const { name, url } = this;
    if (ctx.signal.aborted) return errorVerdict('ABORTED', `${name}: aborted`);
    const deadline = Math.min(ctx.deadline, Date.now() + this.timeoutMs);
    const o = await this.getOptions(deadline, ctx.signal);
    if ('status' in o) return o;
    if (!o.methods.includes('RESPMOD')) return errorVerdict('NOT_AVAILABLE', `${name}: ${url.href} does not offer RESPMOD`);
    const v = await this.respmod(unit, o, deadline, ctx.signal);
    if (v !== 'retry') return v;
    const again = await this.respmod(unit, o, deadline, ctx.signal);
    return again === 'retry' ? errorVerdict('CONNECT_FAILED', `${name}: ${url.href} closed the connection`) : again;
  }

  async close(): Promise<void> {
    await this.idle.closeAll();
  }
}

/** Create an ICAP adapter. Throws for a malformed URL or options (bad configuration). */
export function createIcapAdapter(opts: IcapAdapterOptions): Adapter {
  return new IcapAdapter(opts);
}
