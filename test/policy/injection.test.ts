/**
 * A hostile virus name never becomes a header injection, through every front end: the SMTP
 * proxy (next hop: a real SMTP server recording the bytes), the milter (behind a real
 * private Postfix relaying to that server, and through our milter driver), and deliver
 * (into a Maildir). The scanner is a FAKE adapter: no real scanner can be made to name a
 * virus with CR, LF and NUL in it (a hostile scanner output or ICAP header could).
 *
 * Each arriving message has one X-Virus-Status line and one X-Virus-Scanned line, well
 * formed (printable ASCII, under 998 bytes), no injected header, no NUL in its header,
 * and the forged status headers the sender wrote are gone; every refusal is one line.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerFieldRanges, headerBlockLength } from '../../src/core/mime/headers.js';
import type { Adapter, Verdict } from '../../src/core/types.js';
import { startPostfix, type LabPostfix } from '../../src/lab/postfix.js';
import { deliverMessage } from '../../src/modes/lda/deliver.js';
import { createMilterDriver } from '../../src/modes/milter/driver.js';
import { createMilterServer, type MilterServer } from '../../src/modes/milter/server.js';
import { createSmtpDriver, createSmtpProxy } from '../../src/modes/smtp/index.js';
import { describeReal } from '../helpers/real.js';
import { recordingSink, swaks } from '../lab/postfix-helpers.js';

/** Names a hostile scanner could hand over. */
const HOSTILE = ['Evil\r\nX-Injected: yes', 'Nul\0Byte\r\n\r\nbody-injection', `Long-${'L'.repeat(3000)}`];
const SAFE_LIST = `Evil X-Injected: yes, NulByte body-injection, Long-${'L'.repeat(195)}`;

/** FAKE: a scanner that names every message infected with {@link HOSTILE} names. */
const FAKE: Adapter = {
  name: 'FAKE-hostile',
  type: 'FAKE',
  granularity: 'message',
  probe: async () => ({ available: true }),
  scan: async (): Promise<Verdict> => ({ status: 'infected', detections: HOSTILE.map((name) => ({ name, scanner: 'FAKE-hostile' })) }),
  close: async () => undefined,
};

const message = (id: string, eol = '\r\n'): Buffer =>
  Buffer.from(
    [`X-Avbench-Id: ${id}`, 'From: a@example.org', 'To: bob@example.net', 'X-Virus-Status: Clean', 'X-Virus-Scanned: by a forger', '  (folded)', `Subject: ${id}`, '', 'Hello.', ''].join(eol),
    'latin1',
  );

/** Check the arriving message's header: one of each status header, well formed, nothing injected. */
function checkArrived(raw: Buffer): { status: string; scanned: string } {
  const block = raw.subarray(0, headerBlockLength(raw));
  expect(block.includes(0)).toBe(false);
  const fields = headerFieldRanges(block).map((f) => ({ name: f.name.toLowerCase(), text: block.toString('latin1', f.start, f.end) }));
  expect(fields.map((f) => f.name)).not.toContain('x-injected');
  const status = fields.filter((f) => f.name === 'x-virus-status');
  const scanned = fields.filter((f) => f.name === 'x-virus-scanned');
  expect(status).toHaveLength(1);
  expect(scanned).toHaveLength(1);
  for (const f of [...status, ...scanned]) {
    // One line: printable ASCII, then the line break, nothing folded.
    expect(f.text).toMatch(/^[\x20-\x7e]+\r?\n$/);
    expect(f.text.length).toBeLessThan(998);
  }
  // The body is where it was.
  expect(raw.toString('latin1')).toMatch(/\r?\n\r?\nHello\.\r?\n/);
  return { status: status[0]!.text.trimEnd(), scanned: scanned[0]!.text.trimEnd() };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-injection-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('SMTP proxy: hostile names', () => {
  it('tag: the forwarded message has one well-formed X-Virus-Status; reject: one 550 line', async () => {
    const next = await recordingSink();
    for (const onInfected of ['tag', 'reject'] as const) {
      const proxy = createSmtpProxy({ forward: { host: '127.0.0.1', port: next.port }, scanners: [FAKE], onInfected });
      const { port } = await proxy.listen();
      const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${port}`, sink: false, sessions: 1, timeoutMs: 10_000 });
      await driver.open();
      try {
        const out = await driver.send({ file: 'm.eml', raw: message(`proxy-${onInfected}`) });
        if (onInfected === 'tag') {
          expect(out.fate).toBe('delivered'); // no sink to look at: a 250
          expect(next.messages).toHaveLength(1);
          const h = checkArrived(next.messages[0]!);
          expect(h.status).toBe(`X-Virus-Status: Infected (${SAFE_LIST})`);
          expect(h.scanned).toBe('X-Virus-Scanned: avbench (FAKE-hostile)');
        } else {
          expect(out.fate).toBe('rejected');
          expect(out.smtpReply).toBe(`550 5.7.1 Virus found: ${SAFE_LIST}`);
          expect(next.messages).toHaveLength(1);
        }
      } finally {
        await driver.close();
        await proxy.close();
      }
    }
    await next.close();
  });
});

describe('milter: hostile names', () => {
  it('through our milter driver: header values and reply texts hold no CR, LF or NUL', async () => {
    for (const onInfected of ['tag', 'reject', 'quarantine'] as const) {
      const server = createMilterServer({ scanners: [FAKE], listen: 'inet:0@127.0.0.1', onInfected });
      await server.listen();
      const d = createMilterDriver({ url: `milter://127.0.0.1:${/^inet:(\d+)@/.exec(server.address)?.[1]}`, concurrency: 1, timeoutMs: 10_000 });
      await d.open();
      try {
        const o = await d.send({ file: 'm.eml', raw: message(`milter-${onInfected}`) });
        for (const m of o.modifications) for (const v of Object.values(m)) if (typeof v === 'string') expect(v).toMatch(/^[\x20-\x7e]*$/);
        expect(o.milterAction).toMatch(/^[\x20-\x7e]+$/);
        // Passed on: the forged status headers are deleted (changeHeader with an empty value), ours added once.
        if (onInfected !== 'reject') expect(o.modifications.filter((m) => m.type === 'changeHeader').map((m) => 'name' in m && m.name)).toEqual(['X-Virus-Status', 'X-Virus-Scanned']);
        if (onInfected === 'tag') expect(o.modifications).toContainEqual({ type: 'addHeader', name: 'X-Virus-Status', value: `Infected (${SAFE_LIST})` });
        if (onInfected === 'reject') expect(o.milterAction).toBe(`replycode 550 5.7.1 Virus found: ${SAFE_LIST}`);
        if (onInfected === 'quarantine') expect(o.modifications).toContainEqual({ type: 'quarantine', reason: `Virus found: ${SAFE_LIST}` });
      } finally {
        await d.close();
        await server.close();
      }
    }
  });
});

await describeReal('milter behind a real Postfix: hostile names', ['postfix', 'swaks'], () => {
  let next: Awaited<ReturnType<typeof recordingSink>>;
  let pf: LabPostfix;
  let tag: MilterServer;
  beforeAll(async () => {
    next = await recordingSink();
    tag = createMilterServer({ scanners: [FAKE], listen: 'inet:0@127.0.0.1', onInfected: 'tag' });
    await tag.listen();
    pf = await startPostfix({ relayPort: next.port, milter: tag.address });
  }, 60_000);
  afterAll(async () => {
    await pf?.stop();
    await tag?.close();
    await next?.close();
  }, 60_000);

  it('tag: the message Postfix relays has one well-formed X-Virus-Status and X-Virus-Scanned, the forged ones gone', async () => {
    const r = await swaks(pf.port, { raw: message('postfix-tag') });
    expect(r.exitCode, r.out).toBe(0);
    expect(await pf.waitForSent(1, Date.now() + 30_000)).toBe(true);
    const h = checkArrived(next.messages.at(-1)!);
    expect(h.status).toBe(`X-Virus-Status: Infected (${SAFE_LIST})`);
    expect(h.scanned).toBe('X-Virus-Scanned: avbench (FAKE-hostile)');
  }, 60_000);
});

await describeReal('milter behind a real Postfix: hostile names in the refusal', ['postfix', 'swaks'], () => {
  let next: Awaited<ReturnType<typeof recordingSink>>;
  let pf: LabPostfix;
  let reject: MilterServer;
  beforeAll(async () => {
    next = await recordingSink();
    reject = createMilterServer({ scanners: [FAKE], listen: 'inet:0@127.0.0.1', onInfected: 'reject' });
    await reject.listen();
    pf = await startPostfix({ relayPort: next.port, milter: reject.address });
  }, 60_000);
  afterAll(async () => {
    await pf?.stop();
    await reject?.close();
    await next?.close();
  }, 60_000);

  it('reject: the client gets one 550 5.7.1 line naming the cleaned names', async () => {
    const r = await swaks(pf.port, { raw: message('postfix-reject') });
    expect(r.exitCode, r.out).toBe(26);
    const lines = r.out.split('\n').filter((l) => l.includes('550'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`550 5.7.1 Virus found: Evil X-Injected: yes, NulByte body-injection, Long-`);
    expect(next.messages).toHaveLength(0);
  }, 60_000);
});

describe('deliver: hostile names', () => {
  it('tag and quarantine: the file has one well-formed X-Virus-Status; reject: the report is one line', async () => {
    for (const eol of ['\r\n', '\n']) {
      const md = await mkdtemp(join(dir, 'md-'));
      const q = join(md, 'q');
      const t = await deliverMessage(message('deliver-tag', eol), { scanners: [FAKE], onInfected: 'tag', onFail: 'tempfail', maildir: md, fsync: false, hostname: 'mx\r\n1' });
      expect([t.exitCode, t.fate, t.action]).toEqual([0, 'tagged', 'delivered-tagged']);
      const [file] = await readdir(join(md, 'new'));
      const h = checkArrived(await readFile(join(md, 'new', file!)));
      expect(h.status).toBe(`X-Virus-Status: Infected (${SAFE_LIST})`);
      expect(h.scanned).toBe('X-Virus-Scanned: avbench deliver (FAKE-hostile) on mx 1');
      const qr = await deliverMessage(message('deliver-q', eol), { scanners: [FAKE], onInfected: 'quarantine', quarantineDir: q, onFail: 'tempfail', maildir: md, fsync: false });
      expect(qr.action).toBe('quarantined');
      checkArrived(await readFile(qr.file!));
      for (const r of [qr, await deliverMessage(message('deliver-reject', eol), { scanners: [FAKE], onInfected: 'reject', onFail: 'tempfail', maildir: md, fsync: false })]) {
        expect(r.message).toMatch(/^[\x20-\x7e]+$/);
        expect(r.message).toContain(`infected: ${SAFE_LIST}`);
      }
    }
  });
});
