/**
 * Our driver against real clamsmtpd + real clamd (started here on loopback) with our sink
 * as clamsmtpd's next hop: each Action's fate, clamsmtpd's NUL-byte defect, and the quick
 * corpus through it compared with ClamAV's direct result, every message accounted for.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateCorpus } from '../../../src/corpus/generate.js';
import { openCorpus } from '../../../src/corpus/read.js';
import { startClamd, type LabClamd } from '../../../src/lab/clamd.js';
import { startClamsmtpd, type LabClamsmtpd } from '../../../src/lab/clamsmtpd.js';
import { createClamdAdapter } from '../../../adapters/index.js';
import { scanMessage } from '../../../src/core/scan.js';
import { createSmtpProxy } from '../../../src/modes/smtp/proxy.js';
import { createSmtpDriver, createSmtpSink, type SmtpSink } from '../../../src/modes/smtp/index.js';
import type { MessageOutcome } from '../../../src/modes/types.js';
import { EICAR, mailWithAttachment } from '../../helpers/eicar.js';
import { describeReal } from '../../helpers/real.js';

const cleanMail = Buffer.from('From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nnothing to see\r\n', 'latin1');
const eicarMail = mailWithAttachment('eicar.com', EICAR);

await describeReal('our SMTP driver against real clamsmtpd + clamd', ['clamsmtpd', 'clamd'], () => {
  let clamd: LabClamd;
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'avbench-clamsmtpd-test-'));
    clamd = await startClamd();
  }, 60_000);
  afterAll(async () => {
    await clamd?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  async function through(action: 'drop' | 'bounce' | 'pass', msgs: Buffer[], sessions = 2): Promise<{ outs: MessageOutcome[]; sink: SmtpSink; extras: number }> {
    const sink = await createSmtpSink();
    // clamsmtpd's TimeOut (3 s) below the driver's deadline (8 s): what clamsmtpd gives up on is its own 451.
    const sut: LabClamsmtpd = await startClamsmtpd({ clamdSocket: clamd.socket, outPort: sink.port, action, dir: tmp, timeoutSec: 3 });
    const driver = createSmtpDriver({ url: sut.url, sink, sessions, graceMs: 1_500, timeoutMs: 8_000 });
    try {
      await driver.open();
      const outs = await Promise.all(msgs.map((raw, i) => driver.send({ file: `m${i}.eml`, raw })));
      await driver.close();
      return { outs, sink, extras: driver.stats().extras };
    } finally {
      await driver.close().catch(() => undefined);
      await sut.stop();
      await sink.close();
    }
  }

  it('Action drop: EICAR dropped right away from the 250 reply, clean delivered', async () => {
    const { outs, sink } = await through('drop', [eicarMail, cleanMail]);
    expect(outs[0]).toMatchObject({ fate: 'dropped', verdict: 'infected' });
    expect(outs[0]?.smtpReply).toMatch(/^250 Virus Detected; Discarded Email/);
    expect(outs[1]).toMatchObject({ fate: 'delivered', verdict: 'clean' });
    expect(sink.received).toBe(1);
  }, 60_000);

  it('Action bounce: EICAR rejected with a 5xx', async () => {
    const { outs } = await through('bounce', [eicarMail, cleanMail]);
    expect(outs[0]).toMatchObject({ fate: 'rejected', verdict: 'infected' });
    expect(outs[0]?.smtpReply).toMatch(/^5\d\d /);
    expect(outs[1]).toMatchObject({ fate: 'delivered', verdict: 'clean' });
  }, 60_000);

  it('Action pass: EICAR delivered tagged (X-Virus-Infected: Virus Detected!, which names nothing)', async () => {
    const { outs, sink } = await through('pass', [eicarMail, cleanMail]);
    expect(outs[0]).toMatchObject({ fate: 'tagged', verdict: 'infected', names: [] });
    expect([...sink.arrivals.values()].find((a) => a.tagged)?.virusInfected).toEqual(['Virus Detected!']);
    expect(outs[1]).toMatchObject({ fate: 'delivered', verdict: 'clean' });
    expect(sink.received).toBe(2);
  }, 60_000);

  // clamsmtpd 1.10 forwards its cached copy line by line as C strings: each line is cut at
  // its first NUL byte, line ending included. The mail it delivers is not the mail it
  // scanned; when the last line holds a NUL the terminating "." lands mid-line, the next hop
  // waits for more, and clamsmtpd answers 451 at its TimeOut.
  const withNul = Buffer.from('From: a@example.org\r\nTo: b@example.net\r\nSubject: x\0y\r\n\r\nline one\r\nline two\r\n', 'latin1');
  const lastLineNul = Buffer.from('From: a@example.org\r\nTo: b@example.net\r\nSubject: z\r\n\r\nbinary\0tail', 'latin1');

  it('NUL bytes: clamsmtpd delivers the mail with the line cut (ALTERED), or tempfails it at its TimeOut; never lost', async () => {
    const { outs, sink } = await through('drop', [withNul, lastLineNul]);
    // X-Avbench-Id is line 1 of what the driver sends: the Subject is line 4.
    expect(outs[0]).toMatchObject({ fate: 'delivered', verdict: 'error', errorCode: 'ALTERED' });
    expect([...sink.arrivals.values()][0]).toMatchObject({ intact: false, alteredLine: 4 });
    expect(outs[1]).toMatchObject({ fate: 'tempfailed', verdict: 'error', errorCode: 'TEMPFAIL', smtpReply: '451 Local Error' });
    expect(outs[1]?.ms).toBeGreaterThan(2_500);
  }, 60_000);

  it('the same two messages through our proxy + the same clamd arrive intact', async () => {
    const sink = await createSmtpSink();
    const adapter = createClamdAdapter({ socket: clamd.socket, name: 'clamd' } as never);
    const proxy = createSmtpProxy({ forward: { host: sink.host, port: sink.port }, scanners: [adapter] });
    const { port } = await proxy.listen();
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${port}`, sink, timeoutMs: 8_000 });
    try {
      await driver.open();
      const outs = [await driver.send({ file: 'a', raw: withNul }), await driver.send({ file: 'b', raw: lastLineNul })];
      for (const o of outs) expect(o).toMatchObject({ fate: 'delivered', verdict: 'clean' });
      for (const a of sink.arrivals.values()) expect(a.intact).toBe(true);
    } finally {
      await driver.close();
      await proxy.close();
      await adapter.close();
      await sink.close();
    }
  }, 60_000);

  it("the quick corpus through clamsmtpd: ClamAV's direct result message by message, except where clamsmtpd mangles NUL bytes; lost = 0", async () => {
    const dir = join(tmp, 'corpus');
    await generateCorpus({ out: dir, profile: 'quick' });
    const corpus = await openCorpus(dir);
    const adapter = createClamdAdapter({ socket: clamd.socket, name: 'clamd' } as never);
    const msgs: Buffer[] = [];
    const direct: string[] = [];
    try {
      for await (const e of corpus.entries) {
        const raw = await e.read();
        msgs.push(raw);
        direct.push((await scanMessage(raw, { scanners: [adapter] })).status);
      }
    } finally {
      await adapter.close();
    }
    const { outs, extras } = await through('drop', msgs, 4);
    expect(outs).toHaveLength(msgs.length);
    expect(outs.filter((o) => o.fate === 'lost')).toEqual([]);
    expect(extras).toBe(0);
    const rows = outs.map((o, i) => ({ i, direct: direct[i], via: o.verdict, fate: o.fate, code: o.errorCode, nul: (msgs[i] as Buffer).includes(0) }));
    // Whether it is infected: the same for every message, NUL or not.
    const detectionDiffers = rows.filter((r) => (r.direct === 'infected') !== (r.via === 'infected'));
    expect(detectionDiffers).toEqual([]);
    // The whole verdict: the same for every message without a NUL byte.
    const differs = rows.filter((r) => !r.nul && r.direct !== r.via);
    expect(differs).toEqual([]);
    // With NUL bytes: clean in ClamAV's eyes, but delivered cut or tempfailed by clamsmtpd.
    const nul = rows.filter((r) => r.nul);
    expect(nul.length).toBeGreaterThan(0);
    for (const r of nul) {
      expect(r.direct).toBe('clean');
      expect([`delivered ALTERED`, 'tempfailed TEMPFAIL']).toContain(`${r.fate} ${r.code}`);
    }
    expect(rows.filter((r) => r.direct === 'infected').length).toBeGreaterThan(0);
  }, 180_000);
});
