import * as net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClamdAdapter, isHeuristic } from '../../adapters/clamd.js';
import { freePort } from '../../src/core/net.js';
import type { Adapter, ScanContext, ScanUnit, Verdict } from '../../src/core/types.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { EICAR_NDB_NAME, eicar } from '../../src/lab/signatures.js';
import { describeReal } from '../helpers/real.js';

function ctx(ms = 10_000): ScanContext {
  return { signal: new AbortController().signal, deadline: Date.now() + ms };
}
function msg(data: Buffer | string): ScanUnit {
  return { kind: 'message', data: Buffer.isBuffer(data) ? data : Buffer.from(data), location: 'message' };
}
function eml(body: string, attachment?: Buffer): string {
  const head = 'From: a@example.org\r\nTo: b@example.org\r\nSubject: test\r\nMIME-Version: 1.0\r\n';
  if (attachment === undefined) return `${head}Content-Type: text/plain\r\n\r\n${body}\r\n`;
  const b64 = attachment.toString('base64').replace(/.{76}/g, '$&\r\n');
  return (
    `${head}Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n${body}\r\n` +
    `--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n` +
    `Content-Disposition: attachment; filename="eicar.com"\r\n\r\n${b64}\r\n--b1--\r\n`
  );
}
function codeOf(v: Verdict): string {
  return v.status === 'error' ? v.error.code : v.status;
}

/** Fakes, named as such: faults a real clamd cannot be made to show. */
async function fakeServer(onConn: (s: net.Socket) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const socks: net.Socket[] = [];
  const srv = net.createServer((s) => {
    socks.push(s);
    s.on('error', () => undefined);
    onConn(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const a = srv.address();
  return {
    port: typeof a === 'object' && a !== null ? a.port : 0,
    close: () => {
      for (const s of socks) s.destroy();
      return new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

await describeReal('clamd adapter against a real clamd', ['clamd'], () => {
  let clamd: LabClamd;
  let small: LabClamd;
  const adapters: Adapter[] = [];
  const make = (...args: Parameters<typeof createClamdAdapter>): Adapter => {
    const a = createClamdAdapter(...args);
    adapters.push(a);
    return a;
  };

  beforeAll(async () => {
    clamd = await startClamd();
    small = await startClamd({ streamMaxLength: '1M' });
  });
  afterAll(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await Promise.all([clamd?.stop(), small?.stop()]);
  });

  it('probes PING and VERSION', async () => {
    const p = await make({ socket: clamd.socket }).probe();
    expect(p.available).toBe(true);
    expect(p.version).toMatch(/^ClamAV \d+\.\d+/);
  });

  it('finds raw EICAR, EICAR in a base64 .eml, and passes a clean message (unix socket and TCP)', async () => {
    for (const a of [make({ socket: clamd.socket }), make({ host: clamd.host, port: clamd.port, poolSize: 0 })]) {
      expect(await a.scan(msg(eicar()), ctx())).toEqual({ status: 'infected', detections: [{ name: EICAR_NDB_NAME, scanner: 'clamd' }] });
      const v = await a.scan(msg(eml('see attachment', eicar())), ctx());
      expect(v).toEqual({ status: 'infected', detections: [{ name: EICAR_NDB_NAME, scanner: 'clamd' }] });
      expect(await a.scan(msg(eml('hello, nothing to see here')), ctx())).toEqual({ status: 'clean' });
    }
  });

  it('reuses pooled sessions across many scans, in parallel, with the right verdict each', async () => {
    const a = make({ socket: clamd.socket, poolSize: 4 });
    const units = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? msg(eml(`m${i}`, eicar())) : msg(eml(`clean ${i}`))));
    const verdicts = await Promise.all(units.map((u) => a.scan(u, ctx())));
    verdicts.forEach((v, i) => expect(v.status).toBe(i % 3 === 0 ? 'infected' : 'clean'));
  });

  it('reports the part location for per-part scans', async () => {
    const a = make({ socket: clamd.socket, granularity: 'part', name: 'clamd-parts' });
    expect(a.granularity).toBe('part');
    const v = await a.scan({ kind: 'part', data: eicar(), location: '2:eicar.com', filename: 'eicar.com' }, ctx());
    expect(v).toEqual({ status: 'infected', detections: [{ name: EICAR_NDB_NAME, scanner: 'clamd-parts', part: '2:eicar.com' }] });
  });

  it('streams large messages in chunks', async () => {
    const big = Buffer.concat([Buffer.alloc(3 * 1024 * 1024, 0x61), eicar(), Buffer.alloc(100_000, 0x62)]);
    const a = make({ socket: clamd.socket, chunkSize: 16 * 1024 });
    expect(codeOf(await a.scan(msg(big), ctx(30_000)))).toBe('infected');
    expect(codeOf(await a.scan(msg(Buffer.alloc(3 * 1024 * 1024, 0x61)), ctx(30_000)))).toBe('clean');
  });

  it('fails over from dead servers to a live one', async () => {
    const dead = await freePort();
    const a = make({ servers: [{ socket: '/nonexistent/avbench-clamd.sock' }, { host: '127.0.0.1', port: dead }, { socket: clamd.socket }] });
    expect(codeOf(await a.scan(msg(eicar()), ctx()))).toBe('infected');
    const none = make({ servers: [{ socket: '/nonexistent/avbench-clamd.sock' }, { host: '127.0.0.1', port: dead }] });
    const v = await none.scan(msg(eicar()), ctx());
    expect(codeOf(v)).toBe('CONNECT_FAILED');
    expect((await none.probe()).available).toBe(false);
  });

  it('reads the server and StreamMaxLength from a clamd.conf', async () => {
    const a = make({ configFile: small.configFile });
    expect(codeOf(await a.scan(msg(eicar()), ctx()))).toBe('infected');
    // StreamMaxLength 1M read from the file: refused at once, never clean.
    expect(codeOf(await a.scan(msg(Buffer.alloc(2 * 1024 * 1024, 0x61)), ctx()))).toBe('SIZE_LIMIT');
    const missing = make({ configFile: '/nonexistent/clamd.conf' });
    expect(codeOf(await missing.scan(msg(eicar()), ctx()))).toBe('NOT_AVAILABLE');
    expect(await missing.probe()).toMatchObject({ available: false });
  });

  it('turns clamd refusing a stream over StreamMaxLength into SIZE_LIMIT (pooled or not)', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 0x61);
    for (const poolSize of [4, 0]) {
      const a = make({ socket: small.socket, poolSize });
      expect(codeOf(await a.scan(msg(big), ctx()))).toBe('SIZE_LIMIT');
      // the connection is not poisoned for the next scan
      expect(codeOf(await a.scan(msg(eicar()), ctx()))).toBe('infected');
    }
    const early = make({ socket: small.socket, streamMaxLength: 1024 * 1024 });
    expect(codeOf(await early.scan(msg(big), ctx()))).toBe('SIZE_LIMIT');
  });

  it('reports Heuristics.* names as clamd gives them, flagged by isHeuristic', async () => {
    const h = await startClamd({ extraConfig: ['AlertExceedsMax yes', 'MaxFileSize 1K', 'MaxScanSize 1K'] });
    try {
      const a = make({ socket: h.socket });
      const v = await a.scan(msg(Buffer.alloc(10_000, 0x61)), ctx());
      expect(v.status).toBe('infected');
      const name = v.status === 'infected' ? (v.detections[0]?.name ?? '') : '';
      expect(name).toMatch(/^Heuristics\.Limits\.Exceeded/);
      expect(isHeuristic(name)).toBe(true);
    } finally {
      await h.stop();
    }
  });

  it('gives CONNECT_FAILED, never clean, when clamd is stopped in the middle of a run', async () => {
    const victim = await startClamd();
    try {
      const a = make({ socket: victim.socket, poolSize: 2 });
      const verdicts: Verdict[] = [];
      const afterStop: Verdict[] = [];
      let stopping: Promise<void> | undefined;
      for (let i = 0; i < 40; i++) {
        if (i === 20) stopping = victim.stop();
        const v = await a.scan(msg(eml(`m${i}`, eicar())), ctx());
        verdicts.push(v);
        if (stopping !== undefined && i >= 30) afterStop.push(v);
        if (i === 25) await stopping;
      }
      expect(verdicts.slice(0, 20).every((v) => v.status === 'infected')).toBe(true);
      expect(verdicts.some((v) => v.status === 'clean')).toBe(false);
      expect(afterStop.map(codeOf)).toEqual(Array(10).fill('CONNECT_FAILED'));
    } finally {
      await victim.stop();
    }
  });

  it('FAKE server that accepts and never answers → TIMEOUT at the deadline', async () => {
    const fake = await fakeServer(() => undefined);
    try {
      const a = make({ host: '127.0.0.1', port: fake.port, timeoutMs: 500 });
      const t0 = Date.now();
      const v = await a.scan(msg(eicar()), ctx());
      const took = Date.now() - t0;
      expect(codeOf(v)).toBe('TIMEOUT');
      expect(took).toBeGreaterThanOrEqual(450);
      expect(took).toBeLessThan(500 + 5_000); // deadline plus a wide margin for a loaded machine
      // ctx.deadline caps timeoutMs too
      const v2 = await make({ host: '127.0.0.1', port: fake.port, timeoutMs: 60_000 }).scan(msg(eicar()), ctx(300));
      expect(codeOf(v2)).toBe('TIMEOUT');
    } finally {
      await fake.close();
    }
  });

  it('FAKE server with a garbage reply → PROTOCOL; a half reply then hang-up → PROTOCOL', async () => {
    const garbage = await fakeServer((s) => s.once('data', () => s.write('HTTP/1.1 400 Bad Request\r\n\r\n\0')));
    const half = await fakeServer((s) => s.once('data', () => s.end('stream: Eic')));
    try {
      const v = await make({ host: '127.0.0.1', port: garbage.port, poolSize: 0 }).scan(msg(eicar()), ctx());
      expect(codeOf(v)).toBe('PROTOCOL');
      const v2 = await make({ host: '127.0.0.1', port: half.port, poolSize: 0 }).scan(msg(eicar()), ctx());
      expect(codeOf(v2)).toBe('PROTOCOL');
    } finally {
      await garbage.close();
      await half.close();
    }
  });

  it('FAKE server that cuts a pooled IDSESSION at its next command: retried once on a new session', async () => {
    // Answers one INSTREAM per connection, then cuts the connection when the next command
    // arrives: the race of clamd's IdleTimeout firing just as an idle session is reused.
    let connections = 0;
    const fake = await fakeServer((s) => {
      connections++;
      let buf = Buffer.alloc(0);
      let answered = false;
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          if (buf.subarray(0, 11).toString('latin1') === 'zIDSESSION\0') {
            buf = buf.subarray(11);
            continue;
          }
          if (buf.subarray(0, 10).toString('latin1') !== 'zINSTREAM\0') return;
          let at = 10;
          while (at + 4 <= buf.length && buf.readUInt32BE(at) !== 0) at += 4 + buf.readUInt32BE(at);
          if (at + 4 > buf.length) return; // the stream is not complete yet
          buf = buf.subarray(at + 4);
          if (answered) {
            s.destroy();
            return;
          }
          answered = true;
          s.write('1: stream: OK\0');
        }
      });
    });
    try {
      const a = make({ host: '127.0.0.1', port: fake.port });
      for (const n of [1, 2, 3]) expect(codeOf(await a.scan(msg(`message ${n}`), ctx()))).toBe('clean');
      expect(connections).toBe(3);
    } finally {
      await fake.close();
    }
  });

  it('reports an abort as ABORTED', async () => {
    const ac = new AbortController();
    ac.abort();
    const v = await make({ socket: clamd.socket }).scan(msg(eicar()), { signal: ac.signal, deadline: Date.now() + 5_000 });
    expect(codeOf(v)).toBe('ABORTED');
  });
});
