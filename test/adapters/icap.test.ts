import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ICAP_BLOCKED_NAME, createIcapAdapter } from '../../adapters/icap.js';
import type { Adapter, ScanContext, ScanUnit, Verdict } from '../../src/core/types.js';
import { startCicap, type LabCicap } from '../../src/lab/cicap.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { EICAR_NDB_NAME, eicar } from '../../src/lab/signatures.js';
import { describeReal } from '../helpers/real.js';

function ctx(ms = 10_000): ScanContext {
  return { signal: new AbortController().signal, deadline: Date.now() + ms };
}
function part(data: Buffer | string, location = '1:file.bin'): ScanUnit {
  return { kind: 'part', data: Buffer.isBuffer(data) ? data : Buffer.from(data), location, filename: 'file.bin' };
}
function codeOf(v: Verdict): string {
  return v.status === 'error' ? v.error.code : v.status;
}

await describeReal('ICAP adapter against real c-icap + virus_scan + clamd', ['c-icap', 'clamd'], () => {
  let clamd: LabClamd;
  let icap: LabCicap;
  const adapters: Adapter[] = [];
  const make = (...args: Parameters<typeof createIcapAdapter>): Adapter => {
    const a = createIcapAdapter(...args);
    adapters.push(a);
    return a;
  };
  beforeAll(async () => {
    clamd = await startClamd();
    try {
      icap = await startCicap({ clamdSocket: clamd.socket });
    } catch (e) {
      await clamd.stop();
      throw e;
    }
  });
  afterAll(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await icap?.stop();
    await clamd?.stop();
  });

  it('probes OPTIONS', async () => {
    const p = await make({ url: icap.url }).probe();
    expect(p.available).toBe(true);
    expect(p.version).toMatch(/C-ICAP/);
    expect(p.signatures).toMatch(/^ISTag /);
  });

  it('clean → clean, EICAR → infected with the name c-icap reports, small and over the preview size', async () => {
    const a = make({ url: icap.url });
    expect(await a.scan(part('hello, a clean little part\n'), ctx())).toEqual({ status: 'clean' });
    expect(await a.scan(part(eicar(), '2:eicar.com'), ctx())).toEqual({
      status: 'infected',
      detections: [{ name: EICAR_NDB_NAME, scanner: 'icap', part: '2:eicar.com' }],
    });
    const padded = Buffer.concat([Buffer.alloc(5000, 0x20), eicar(), Buffer.alloc(3000, 0x20)]);
    expect(codeOf(await a.scan(part(padded), ctx()))).toBe('infected');
    expect(codeOf(await a.scan(part(Buffer.alloc(200_000, 0x41)), ctx()))).toBe('clean');
    expect(codeOf(await a.scan(part(Buffer.alloc(0)), ctx()))).toBe('clean');
  });

  it('works without preview, and with a fresh connection per request', async () => {
    const a = make({ url: icap.url, usePreview: false, poolSize: 0 });
    expect(codeOf(await a.scan(part(eicar()), ctx()))).toBe('infected');
    expect(codeOf(await a.scan(part(Buffer.alloc(5000, 0x42)), ctx()))).toBe('clean');
  });

  it('reuses keep-alive connections over many scans in parallel, each with the right verdict', async () => {
    const a = make({ url: icap.url, poolSize: 4, name: 'c-icap' });
    const units = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? part(eicar()) : part(`clean part ${i}\n`)));
    const verdicts = await Promise.all(units.map((u) => a.scan(u, ctx(20_000))));
    verdicts.forEach((v, i) => expect(codeOf(v)).toBe(i % 4 === 0 ? 'infected' : 'clean'));
  });

  it('a wrong service path → NOT_AVAILABLE error, never clean', async () => {
    const url = icap.url.replace(/\/avscan$/, '/no-such-service');
    const a = make({ url });
    expect(codeOf(await a.scan(part(eicar()), ctx()))).toBe('NOT_AVAILABLE');
    expect((await a.probe()).available).toBe(false);
  });

  it('a closed port → CONNECT_FAILED', async () => {
    const a = make({ url: `icap://127.0.0.1:1/avscan` });
    expect(codeOf(await a.scan(part('x'), ctx()))).toBe('CONNECT_FAILED');
  });
});

/** FAKE ICAP servers, named as such: faults and answer shapes c-icap cannot be made to show. */
describe('ICAP adapter against FAKE servers (faults and other vendors\' answer shapes)', () => {
  const servers: net.Server[] = [];
  const socks: net.Socket[] = [];
  afterAll(async () => {
    for (const s of socks) s.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  });
  const OPTIONS_OK = 'ICAP/1.0 200 OK\r\nMethods: RESPMOD\r\nAllow: 204\r\nEncapsulated: null-body=0\r\n\r\n';
  /** A fake: answers OPTIONS, then hands each RESPMOD (head + body as received so far) to `onRespmod`. */
  async function fake(onRespmod: (s: net.Socket, req: string) => void): Promise<string> {
    const srv = net.createServer((s) => {
      socks.push(s);
      s.on('error', () => undefined);
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString('latin1');
        for (;;) {
          if (buf.startsWith('OPTIONS') && buf.includes('\r\n\r\n')) {
            buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
            s.write(OPTIONS_OK);
            continue;
          }
          if (buf.startsWith('RESPMOD') && buf.includes('\r\n0\r\n\r\n')) {
            const req = buf.slice(0, buf.indexOf('\r\n0\r\n\r\n') + 7);
            buf = buf.slice(req.length);
            onRespmod(s, req);
            continue;
          }
          break;
        }
      });
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const a = srv.address();
    return `icap://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}/svc`;
  }
  const http403 = 'HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\n\r\n';
  function respond(s: net.Socket, icapHeaders: string, httpHead: string, body: string): void {
    const chunk = body.length > 0 ? `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n` : '0\r\n\r\n';
    s.write(`ICAP/1.0 200 OK\r\n${icapHeaders}Encapsulated: res-hdr=0, res-body=${Buffer.byteLength(httpHead)}\r\n\r\n${httpHead}${chunk}`);
  }

  it('X-Virus-ID (Sophos/McAfee style) → infected with that name', async () => {
    const url = await fake((s) => respond(s, 'X-Virus-ID: EICAR-AV-Test\r\n', http403, 'blocked'));
    expect(await createIcapAdapter({ url }).scan(part('x', 'message'), ctx())).toEqual({
      status: 'infected',
      detections: [{ name: 'EICAR-AV-Test', scanner: 'icap', part: 'message' }],
    });
  });

  it('an encapsulated 403 naming the threat only in the page → that name; naming nothing → ICAP-Blocked', async () => {
    const named = await fake((s) => respond(s, '', http403, '<html>Virus name: Eicar_Test_File</html>'));
    const v = await createIcapAdapter({ url: named }).scan(part('x'), ctx());
    expect(v.status === 'infected' ? v.detections[0]?.name : v).toBe('Eicar_Test_File');
    const anon = await fake((s) => respond(s, '', http403, '<html>Access denied</html>'));
    const v2 = await createIcapAdapter({ url: anon }).scan(part('x'), ctx());
    expect(v2.status === 'infected' ? v2.detections[0]?.name : v2).toBe(ICAP_BLOCKED_NAME);
  });

  it('200 with the body unmodified → clean; modified without a threat → PROTOCOL', async () => {
    const echo = await fake((s, req) => {
      const body = /\r\n[0-9a-f]+\r\n([\s\S]*?)\r\n0\r\n\r\n$/.exec(req)?.[1] ?? '';
      respond(s, '', 'HTTP/1.1 200 OK\r\n\r\n', body);
    });
    expect(codeOf(await createIcapAdapter({ url: echo }).scan(part('unchanged body'), ctx()))).toBe('clean');
    const changer = await fake((s) => respond(s, '', 'HTTP/1.1 200 OK\r\n\r\n', 'something else'));
    expect(codeOf(await createIcapAdapter({ url: changer }).scan(part('original'), ctx()))).toBe('PROTOCOL');
  });

  it('ICAP 500 → PROTOCOL; garbage → PROTOCOL', async () => {
    const e500 = await fake((s) => s.write('ICAP/1.0 500 Server Error\r\nEncapsulated: null-body=0\r\n\r\n'));
    expect(codeOf(await createIcapAdapter({ url: e500 }).scan(part('x'), ctx()))).toBe('PROTOCOL');
    const garbage = await fake((s) => s.write('SSH-2.0-OpenSSH\r\n\r\n'));
    expect(codeOf(await createIcapAdapter({ url: garbage }).scan(part('x'), ctx()))).toBe('PROTOCOL');
  });

  it('a kept-alive connection the server cuts before answering: retried once on a new one', async () => {
    // FAKE: answers one RESPMOD per connection (204), cuts the connection at the next one:
    // the race of a server's keep-alive timer firing just as the idle connection is reused.
    const answered = new Set<net.Socket>();
    let connections = 0;
    const url = await fake((s) => {
      if (answered.has(s)) {
        s.destroy();
        return;
      }
      answered.add(s);
      s.write('ICAP/1.0 204 No Content\r\nEncapsulated: null-body=0\r\n\r\n');
    });
    const adapter = createIcapAdapter({ url });
    servers[servers.length - 1]?.on('connection', () => connections++);
    for (const n of [1, 2, 3]) expect(codeOf(await adapter.scan(part(`unit ${n}`), ctx()))).toBe('clean');
    await adapter.close();
    expect(connections).toBe(3);
  });

  it('a server that never answers the RESPMOD → TIMEOUT at the deadline', async () => {
    const silent = await fake(() => undefined);
    const t0 = Date.now();
    const v = await createIcapAdapter({ url: silent, timeoutMs: 400 }).scan(part('x'), ctx());
    expect(codeOf(v)).toBe('TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(400 + 5_000);
  });
});
