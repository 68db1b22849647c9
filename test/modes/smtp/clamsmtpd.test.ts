/**
 * Our driver against real clamsmtpd + real clamd (started here on loopback) with our sink
 * as clamsmtpd's next hop: each Action's fate, and the quick corpus through it with every
 * message accounted for.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateCorpus } from '../../../src/corpus/generate.js';
import { openCorpus } from '../../../src/corpus/read.js';
import { startClamd, type LabClamd } from '../../../src/lab/clamd.js';
import { startClamsmtpd, type LabClamsmtpd } from '../../../src/lab/clamsmtpd.js';
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
    const sut: LabClamsmtpd = await startClamsmtpd({ clamdSocket: clamd.socket, outPort: sink.port, action, dir: tmp });
    const driver = createSmtpDriver({ url: sut.url, sink, sessions, graceMs: 1_500, timeoutMs: 6_000 });
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

  // clamsmtpd never answers the end of DATA for some messages holding NUL bytes (a random
  // binary "garbage" message of the corpus): the session hangs until our deadline and the
  // driver records `lost`. Everything else is accounted for; nothing without NUL is lost.
  it('the quick corpus through clamsmtpd: every message accounted for, lost only where clamsmtpd hangs on NUL bytes', async () => {
    const dir = join(tmp, 'corpus');
    await generateCorpus({ out: dir, profile: 'quick' });
    const corpus = await openCorpus(dir);
    const msgs: Buffer[] = [];
    const expected: string[] = [];
    for await (const e of corpus.entries) {
      msgs.push(await e.read());
      expected.push(e.expected ?? 'any');
    }
    const { outs, extras } = await through('drop', msgs, 4);
    expect(outs).toHaveLength(msgs.length);
    const lostWithoutNul = outs.filter((o, i) => o.fate === 'lost' && !(msgs[i] as Buffer).includes(0));
    expect(lostWithoutNul).toEqual([]);
    for (const o of outs.filter((x) => x.fate === 'lost')) expect(o).toMatchObject({ verdict: 'error', errorCode: 'TIMEOUT' });
    expect(extras).toBe(0);
    // Every message ends in one of the fates clamsmtpd can produce with Action drop.
    for (const o of outs) expect(['delivered', 'dropped', 'tempfailed', 'rejected', 'lost']).toContain(o.fate);
    // clamd with the lab's EICAR signatures finds EICAR mail that ClamAV itself can parse.
    const caught = outs.filter((o, i) => expected[i] === 'infected' && o.verdict === 'infected').length;
    expect(caught).toBeGreaterThan(0);
    const falsePositives = outs.filter((o, i) => expected[i] === 'clean' && o.verdict === 'infected');
    expect(falsePositives).toEqual([]);
  }, 180_000);
});
