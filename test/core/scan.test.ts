import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../adapters/embedded.js';
import { scanMessage, scanMessageDetailed } from '../../src/core/scan.js';
import type { Adapter, ScanUnit, Verdict } from '../../src/core/types.js';
import { EICAR, mailWithAttachment } from '../helpers/eicar.js';

/** A recording adapter: remembers what it was handed, answers with `answer`. */
function recorder(name: string, granularity: 'message' | 'part', answer: (u: ScanUnit) => Promise<Verdict> | Verdict): Adapter & { seen: ScanUnit[] } {
  const seen: ScanUnit[] = [];
  return {
    name,
    type: 'test',
    granularity,
    seen,
    probe: async () => ({ available: true }),
    scan: async (u) => {
      seen.push(u);
      return answer(u);
    },
    close: async () => undefined,
  };
}

describe('scanMessage', () => {
  it('finds EICAR in a zipped attachment and names the part and the member', async () => {
    const zip = Buffer.from(zipSync({ 'docs/eicar.com': EICAR }, { level: 6, mtime: new Date('2020-01-01') }));
    const v = await scanMessage(mailWithAttachment('invoice.zip', zip), { scanners: [createEmbeddedAdapter()] });
    expect(v).toEqual({
      status: 'infected',
      detections: [{ name: 'Eicar-Test-Signature', scanner: 'embedded', part: '2:invoice.zip > docs/eicar.com' }],
    });
  });

  it('gives whole-message adapters the raw message and per-part adapters the decoded parts', async () => {
    const raw = mailWithAttachment('a.bin', Buffer.from('hello world'));
    const whole = recorder('whole', 'message', () => ({ status: 'clean' }));
    const parts = recorder('parts', 'part', () => ({ status: 'clean' }));
    const r = await scanMessageDetailed(raw, { scanners: [whole, parts] });
    expect(r.verdict).toEqual({ status: 'clean' });
    expect(whole.seen).toHaveLength(1);
    expect(whole.seen[0]?.data.equals(raw)).toBe(true);
    expect(whole.seen[0]?.kind).toBe('message');
    expect(parts.seen.map((u) => [u.location, u.data.toString()])).toEqual([
      ['1', 'Here it is.'],
      ['2:a.bin', 'hello world'],
    ]);
    expect(r.results.map((x) => x.scanner)).toEqual(['whole', 'parts']);
  });

  it('an adapter that never answers gets a TIMEOUT error at the message deadline, not a hang', async () => {
    const hang = recorder('hang', 'message', () => new Promise<Verdict>(() => undefined));
    const t0 = Date.now();
    const v = await scanMessage(Buffer.from('Subject: x\r\n\r\nhi\r\n'), { scanners: [hang], limits: { timeoutMs: 200 } });
    expect(v.status).toBe('error');
    expect(v.status === 'error' && v.error.code).toBe('TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('an adapter that throws becomes an INTERNAL error, never clean', async () => {
    const boom = recorder('boom', 'part', () => {
      throw new Error('bug');
    });
    const v = await scanMessage(Buffer.from('Subject: x\r\n\r\nhi\r\n'), { scanners: [boom] });
    expect(v).toMatchObject({ status: 'error', error: { code: 'INTERNAL' } });
  });

  it('a detection by one scanner wins over another scanner\'s error', async () => {
    const err = recorder('err', 'message', () => ({ status: 'error', error: { code: 'CONNECT_FAILED', message: 'down' } }));
    const raw = mailWithAttachment('eicar.com', EICAR);
    const r = await scanMessageDetailed(raw, { scanners: [err, createEmbeddedAdapter()] });
    expect(r.verdict.status).toBe('infected');
    expect(r.results[0]?.verdict).toMatchObject({ status: 'error', error: { code: 'CONNECT_FAILED' } });
  });

  it('200 levels of multipart nesting → LIMIT_EXCEEDED naming maxDepth', async () => {
    let body = 'leaf\r\n';
    for (let i = 200; i > 0; i--) {
      body = `Content-Type: multipart/mixed; boundary="n${i}"\r\n\r\n--n${i}\r\n${body}\r\n--n${i}--\r\n`;
    }
    const v = await scanMessage(Buffer.from(body), { scanners: [createEmbeddedAdapter()] });
    expect(v.status).toBe('error');
    if (v.status === 'error') {
      expect(v.error.code).toBe('LIMIT_EXCEEDED');
      expect(v.error.message).toContain('maxDepth');
    }
  });

  it('a limit hit after a detection still reports the detection', async () => {
    const zip = Buffer.from(zipSync({ 'eicar.com': EICAR, 'b.txt': Buffer.from('b'), 'c.txt': Buffer.from('c') }, { level: 0 }));
    const v = await scanMessage(mailWithAttachment('x.zip', zip), { scanners: [createEmbeddedAdapter()], limits: { maxParts: 4 } });
    expect(v.status).toBe('infected');
  });

  it('a corrupt zip gives an UNPARSEABLE error, not clean', async () => {
    const zip = Buffer.from(zipSync({ 'a.txt': Buffer.alloc(5000, 0x61) }, { level: 6 }));
    const corrupt = Buffer.concat([zip.subarray(0, 40), Buffer.alloc(60, 0xff), zip.subarray(100)]);
    const v = await scanMessage(mailWithAttachment('broken.zip', corrupt), { scanners: [createEmbeddedAdapter()] });
    expect(v).toMatchObject({ status: 'error', error: { code: 'UNPARSEABLE' } });
  });

  it('reads a message from a path, and an unreadable path is an IO error', async () => {
    const v = await scanMessage({ path: '/nonexistent/avbench/m.eml' }, { scanners: [createEmbeddedAdapter()] });
    expect(v).toMatchObject({ status: 'error', error: { code: 'IO' } });
  });
});

describe('scanMessageDetailed: the context signal each adapter gets', () => {
  const raw = Buffer.from('Subject: x\r\n\r\nhi\r\n');
  /** An adapter that keeps the signal it was given and, when `listen`, leaves an abort listener on it. */
  function keeper(listen: boolean): Adapter & { signals: AbortSignal[]; abortedAtStart: number } {
    const signals: AbortSignal[] = [];
    const k = {
      name: 'keeper',
      type: 'test',
      granularity: 'message' as const,
      signals,
      abortedAtStart: 0,
      probe: async () => ({ available: true }),
      scan: async (_u: ScanUnit, ctx: { signal: AbortSignal }): Promise<Verdict> => {
        signals.push(ctx.signal);
        if (ctx.signal.aborted) k.abortedAtStart += 1;
        if (listen) ctx.signal.addEventListener('abort', () => undefined);
        return { status: 'clean' };
      },
      close: async () => undefined,
    };
    return k;
  }

  it('an adapter that left a listener on it sees it aborted ("scan finished") once the message is done', async () => {
    const a = keeper(true);
    await scanMessageDetailed(raw, { scanners: [a] });
    expect(a.signals[0]?.aborted).toBe(true);
    expect((a.signals[0]?.reason as Error).message).toBe('scan finished');
  });

  it('a signal nothing listens to any more may serve a later message, never aborted at its start and never two messages at once', async () => {
    const a = keeper(false);
    for (let i = 0; i < 5; i++) expect((await scanMessageDetailed(raw, { scanners: [a] })).verdict).toEqual({ status: 'clean' });
    const slow = (ms: number): ReturnType<typeof keeper> => {
      const k = keeper(false);
      const scan = k.scan;
      k.scan = async (u, ctx) => (await new Promise((r) => setTimeout(r, ms)), scan(u, ctx));
      return k;
    };
    const b = slow(50);
    const c = slow(50);
    await Promise.all([scanMessageDetailed(raw, { scanners: [b] }), scanMessageDetailed(raw, { scanners: [c] })]);
    expect(b.signals[0]).not.toBe(c.signals[0]);
    expect([a.abortedAtStart, b.abortedAtStart, c.abortedAtStart]).toEqual([0, 0, 0]);
    expect(a.signals).toHaveLength(5);
  });

  it('the signal of an adapter the deadline gave up on is aborted, and a caller abort reaches the adapter', async () => {
    let hung: AbortSignal | undefined;
    const hang: Adapter = {
      name: 'hang',
      type: 'test',
      granularity: 'message',
      probe: async () => ({ available: true }),
      scan: (_u, ctx) => {
        hung = ctx.signal;
        return new Promise<Verdict>(() => undefined);
      },
      close: async () => undefined,
    };
    const v = await scanMessage(raw, { scanners: [hang], limits: { timeoutMs: 100 } });
    expect(v.status === 'error' && v.error.code).toBe('TIMEOUT');
    expect(hung?.aborted).toBe(true);

    const caller = new AbortController();
    let seen: AbortSignal | undefined;
    const waits: Adapter = {
      ...hang,
      name: 'waits',
      scan: (_u, ctx) => {
        seen = ctx.signal;
        return new Promise<Verdict>((resolve) => ctx.signal.addEventListener('abort', () => resolve({ status: 'error', error: { code: 'ABORTED', message: 'aborted' } }), { once: true }));
      },
    };
    const p = scanMessage(raw, { scanners: [waits], signal: caller.signal });
    setTimeout(() => caller.abort(), 20);
    expect((await p).status).toBe('error');
    expect(seen?.aborted).toBe(true);
  });
});
