import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run } from '../../src/core/exec.js';
import { freePort } from '../../src/core/net.js';
import { countSent, startPostfix, type LabPostfix } from '../../src/lab/postfix.js';
import { describeReal } from '../helpers/real.js';

/** A real SMTP server (smtp-server) as the next hop; records every message's bytes. */
export async function recordingSink(): Promise<{ port: number; messages: Buffer[]; close(): Promise<void> }> {
  const messages: Buffer[] = [];
  const port = await freePort();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push(Buffer.concat(chunks));
        cb();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { port, messages, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Send one message with swaks (a real SMTP client); returns its exit code and transcript. */
export async function swaks(port: number, body: string, headers: Record<string, string> = {}): Promise<{ exitCode: number; out: string }> {
  const args = ['--server', '127.0.0.1', '--port', String(port), '--from', 'alice@example.org', '--to', 'bob@example.net', '--helo', 'client.localhost', '--body', body, '--suppress-data', '--timeout', '20'];
  for (const [k, v] of Object.entries(headers)) args.push('--add-header', `${k}: ${v}`);
  const r = await run('swaks', args, { deadline: Date.now() + 60_000 });
  return r.ok ? { exitCode: r.exitCode, out: r.stdout + r.stderr } : { exitCode: -1, out: r.message + r.stdout + r.stderr };
}

await describeReal('private Postfix instance', ['postfix', 'swaks'], () => {
  let sink: Awaited<ReturnType<typeof recordingSink>>;
  let pf: LabPostfix;
  beforeAll(async () => {
    sink = await recordingSink();
    pf = await startPostfix({ relayPort: sink.port });
  }, 60_000);
  afterAll(async () => {
    await pf?.stop();
    await sink?.close();
  }, 60_000);

  it('relays a message to the sink; the maillog says status=sent', async () => {
    const r = await swaks(pf.port, 'hello through postfix', { 'X-Avbench-Id': 'pf-1' });
    expect(r.exitCode, r.out).toBe(0);
    expect(r.out).toMatch(/<-  250 2\.0\.0 Ok: queued as \w+/);
    expect(await pf.waitForSent(1, Date.now() + 30_000)).toBe(true);
    expect(sink.messages).toHaveLength(1);
    const text = sink.messages[0]!.toString('latin1');
    expect(text).toContain('X-Avbench-Id: pf-1');
    expect(text).toContain('hello through postfix');
    expect(text).toMatch(/Received: from client\.localhost/);
    expect(countSent(await pf.log())).toBe(1);
  }, 60_000);
});
