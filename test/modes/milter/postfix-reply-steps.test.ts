/**
 * Which steps our milter asks the MTA to answer (replySteps), and each choice behind a real
 * private Postfix: over TCP (auto = 'data', and 'every') and over a unix socket reached by
 * Postfix's smtpd (auto = 'fewest', socketMode 0666), clean mail relayed with
 * X-Virus-Status: Clean, EICAR refused 550 5.7.1, several messages on one kept-open SMTP
 * session (abort between messages) all relayed.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../../adapters/index.js';
import { run } from '../../../src/core/exec.js';
import { connect } from '../../../src/core/net.js';
import { startPostfix, type LabPostfix } from '../../../src/lab/postfix.js';
import { encodeCommand, PacketDecoder, parseReply, SMFIF_ALL, SMFIP, SMFIP_ALL, type MilterReply } from '../../../src/modes/milter/codec.js';
import { createMilterServer, wantedProtocol, type MilterServer, type ReplySteps } from '../../../src/modes/milter/server.js';
import { milterEndpoint, parseMilterSocket } from '../../../src/modes/milter/socket-spec.js';
import { EICAR, mailWithAttachment } from '../../helpers/eicar.js';
import { describeReal } from '../../helpers/real.js';
import { recordingSink, swaks } from '../../lab/postfix-helpers.js';

const embedded = createEmbeddedAdapter();

/** The protocol flags a server answers an MTA offering everything with. */
async function negotiated(server: MilterServer): Promise<number> {
  const c = await connect(milterEndpoint(parseMilterSocket(server.address)), { deadline: Date.now() + 10_000 });
  try {
    await c.write(encodeCommand({ type: 'optneg', version: 6, actions: SMFIF_ALL, protocol: SMFIP_ALL }));
    const head = await c.readExactly(4);
    const body = await c.readExactly(head.readUInt32BE(0));
    const [p] = new PacketDecoder().push(Buffer.concat([head, body]));
    expect(p).toBeDefined();
    const r = parseReply(p!) as MilterReply & { protocol: number };
    expect(r.type).toBe('optneg');
    return r.protocol;
  } finally {
    c.destroy();
  }
}

describe('replySteps: what our milter asks the MTA to answer', () => {
  const NR = SMFIP.NR_CONN | SMFIP.NR_MAIL | SMFIP.NR_HDR | SMFIP.NR_BODY;
  it('fewest: no reply before end of message, RCPT and DATA skipped; data: DATA sent and answered; every: every step answered', () => {
    expect(wantedProtocol('fewest') & (NR | SMFIP.NORCPT | SMFIP.NODATA)).toBe(NR | SMFIP.NORCPT | SMFIP.NODATA);
    expect(wantedProtocol('data') & (NR | SMFIP.NORCPT)).toBe(NR | SMFIP.NORCPT);
    expect(wantedProtocol('data') & (SMFIP.NODATA | SMFIP.NR_DATA)).toBe(0);
    expect(wantedProtocol('every') & (NR | SMFIP.NORCPT | SMFIP.NODATA | SMFIP.NR_DATA | SMFIP.NR_RCPT)).toBe(0);
    for (const s of ['fewest', 'data', 'every'] as const) {
      // Headers and body are always wanted; HELO, end of headers, unknown commands never.
      expect(wantedProtocol(s) & (SMFIP.NOHDRS | SMFIP.NOBODY)).toBe(0);
      expect(wantedProtocol(s) & (SMFIP.NOHELO | SMFIP.NOEOH | SMFIP.NOUNKNOWN | SMFIP.HDR_LEADSPC)).toBe(SMFIP.NOHELO | SMFIP.NOEOH | SMFIP.NOUNKNOWN | SMFIP.HDR_LEADSPC);
    }
    expect(() => createMilterServer({ scanners: [embedded], listen: 'inet:0', replySteps: 'some' as ReplySteps })).toThrow(/replySteps/);
  });

  it('auto: data over TCP, fewest on a unix socket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'avbench-reply-steps-'));
    const tcp = createMilterServer({ scanners: [embedded], listen: 'inet:0' });
    const unix = createMilterServer({ scanners: [embedded], listen: `unix:${join(dir, 'm.sock')}` });
    try {
      await tcp.listen();
      await unix.listen();
      expect(await negotiated(tcp)).toBe(wantedProtocol('data'));
      expect(await negotiated(unix)).toBe(wantedProtocol('fewest'));
    } finally {
      await tcp.close();
      await unix.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const clean = (id: string): Buffer => Buffer.concat([Buffer.from(`X-Avbench-Id: ${id}\r\n`), mailWithAttachment('notes.txt', Buffer.from('minutes of the meeting\n'))]);
const bad = (id: string): Buffer => Buffer.concat([Buffer.from(`X-Avbench-Id: ${id}\r\n`), mailWithAttachment('eicar.com', EICAR)]);

for (const c of [
  { how: 'TCP, auto (data)', listen: 'inet' as const, replySteps: 'auto' as const },
  { how: 'TCP, every', listen: 'inet' as const, replySteps: 'every' as const },
  { how: 'unix socket, auto (fewest)', listen: 'unix' as const, replySteps: 'auto' as const },
]) {
  await describeReal(`Postfix + our milter over ${c.how}`, ['postfix', 'swaks', 'smtp-source'], () => {
    let sink: Awaited<ReturnType<typeof recordingSink>>;
    let pf: LabPostfix;
    let milter: MilterServer;
    let dir = '';
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'avbench-milter-postfix-'));
      await chmod(dir, 0o711); // Postfix's smtpd (user postfix) reaches the socket inside
      sink = await recordingSink();
      milter = createMilterServer({ scanners: [embedded], listen: c.listen === 'unix' ? `unix:${join(dir, 'milter.sock')}` : 'inet:0@127.0.0.1', replySteps: c.replySteps, socketMode: 0o666 });
      await milter.listen();
      pf = await startPostfix({ relayPort: sink.port, milter: milter.address });
    }, 60_000);
    afterAll(async () => {
      await pf?.stop();
      await milter?.close();
      await sink?.close();
      await rm(dir, { recursive: true, force: true });
    }, 60_000);

    it('relays a clean message with X-Virus-Status: Clean and refuses EICAR with 550 5.7.1', async () => {
      const r = await swaks(pf.port, { raw: clean('rs-clean') });
      expect(r.exitCode, r.out).toBe(0);
      expect(await pf.waitForSent(1, Date.now() + 30_000)).toBe(true);
      const text = sink.messages.at(-1)!.toString('latin1');
      expect(text).toContain('X-Avbench-Id: rs-clean');
      expect(text, text).toMatch(/^X-Virus-Status: Clean\r?$/m);
      const b = await swaks(pf.port, { raw: bad('rs-bad') });
      expect(b.exitCode, b.out).toBe(26);
      expect(b.out).toMatch(/<\*\* 550 5\.7\.1 Virus found: Eicar-Test-Signature/);
    }, 60_000);

    it('carries several messages over one kept-open SMTP session and over parallel sessions (smtp-source), every one sent', async () => {
      const before = await pf.sentCount();
      const kept = await run('smtp-source', ['-d', '-s', '1', '-m', '5', '-l', '2000', `127.0.0.1:${pf.port}`], { deadline: Date.now() + 60_000 });
      expect(kept.ok && kept.exitCode, kept.ok ? kept.stderr : kept.message).toBe(0);
      const par = await run('smtp-source', ['-s', '4', '-m', '20', '-l', '70000', `127.0.0.1:${pf.port}`], { deadline: Date.now() + 60_000 });
      expect(par.ok && par.exitCode, par.ok ? par.stderr : par.message).toBe(0);
      expect(await pf.waitForSent(before + 25, Date.now() + 60_000)).toBe(true);
      expect(await pf.sentCount()).toBe(before + 25);
    }, 90_000);
  });
}
