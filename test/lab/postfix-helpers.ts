/** Test helpers for the private Postfix tests: a recording sink (smtp-server), swaks as the client, a plain Postfix beside a gateway. */
import { SMTPServer } from 'smtp-server';
import { run } from '../../src/core/exec.js';
import { freePort } from '../../src/core/net.js';
import { startPostfix, type LabPostfix } from '../../src/lab/postfix.js';

/** A private Postfix with no filter and its `--sut` URL (named `postfix`, relaying to a free sink port). */
export type PlainPostfix = LabPostfix & { sut: string };

/** Start a plain Postfix in DIR (no filter) relaying to a free port: what Postfix alone does to a corpus, beside a gateway built on it. */
export async function startPlainPostfix(dir: string): Promise<PlainPostfix> {
  const sinkPort = await freePort();
  const pf = await startPostfix({ relayPort: sinkPort, dir });
  return { ...pf, sut: `smtp://127.0.0.1:${pf.port}?sink=${sinkPort}&name=postfix` };
}

/** A real SMTP server (smtp-server) as Postfix's next hop; records every message's bytes. */
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

/**
 * Send one message with swaks (a real SMTP client). `message` is a whole raw message
 * (fed on stdin with `--data -`) or a body text. Exit codes (REFERENCE.md): 0 ok, 26 rejected after DATA.
 */
export async function swaks(
  port: number,
  message: { raw: Buffer } | { body: string; headers?: Record<string, string> },
  to = 'bob@example.net',
): Promise<{ exitCode: number; out: string }> {
  const args = ['--server', '127.0.0.1', '--port', String(port), '--from', 'alice@example.org', '--to', to, '--helo', 'client.localhost', '--suppress-data', '--timeout', '30'];
  let input: Buffer | undefined;
  if ('raw' in message) {
    args.push('--data', '-');
    input = message.raw;
  } else {
    args.push('--body', message.body);
    for (const [k, v] of Object.entries(message.headers ?? {})) args.push('--add-header', `${k}: ${v}`);
  }
  const r = await run('swaks', args, { deadline: Date.now() + 60_000, ...(input === undefined ? {} : { input }) });
  return r.ok ? { exitCode: r.exitCode, out: r.stdout + r.stderr } : { exitCode: -1, out: r.message + r.stdout + r.stderr };
}
