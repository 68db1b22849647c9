/**
 * The daemons as their systemd units in docs/daemons.md run them (issue 12.4), without
 * systemd: the unit's own ExecStart line (paths and ports pointed at a test folder, the
 * user at `nobody`), its ExecReload run with the daemon's pid while a session is open, and
 * SIGTERM while a message is in flight. A real clamd and Postfix's smtp-sink (which waits
 * 2 s before answering DATA, so a message stays in flight) are the other parts.
 */
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, spawnDaemon, type Daemon } from '../../src/core/exec.js';
import { connect, freePort, type Connection } from '../../src/core/net.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { startSmtpSink, type LabSmtpSink } from '../../src/lab/smtp-sink.js';
import { EICAR, mailWithAttachment } from '../helpers/eicar.js';
import { describeReal } from '../helpers/real.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'dist/src/cli/bin.js');

/** The `[Service]` lines of the unit whose block names `path`. */
async function unit(path: string): Promise<Record<string, string>> {
  const md = await readFile(join(ROOT, 'docs/daemons.md'), 'utf8');
  const block = [...md.matchAll(/```ini\n([\s\S]*?)```/g)].map((m) => m[1] as string).find((b) => b.startsWith(`# ${path}\n`));
  if (block === undefined) throw new Error(`docs/daemons.md has no unit ${path}`);
  const out: Record<string, string> = {};
  for (const line of block.split('\n')) {
    const m = /^(\w+)=(.*)$/.exec(line);
    if (m !== null) out[m[1] as string] = m[2] as string;
  }
  return out;
}

/** Split a unit command line (no quoting is used in ours). */
const words = (cmd: string) => cmd.trim().split(/\s+/);

async function waitFor(what: string, f: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One SMTP reply (multi-line aware). */
async function reply(c: Connection): Promise<string> {
  let text = '';
  for (;;) {
    const line = (await c.readUntil('\r\n')).toString('latin1');
    text += line;
    if (/^\d{3} /.test(line)) return text;
  }
}

async function say(c: Connection, line: string): Promise<string> {
  await c.write(Buffer.from(`${line}\r\n`, 'latin1'));
  return reply(c);
}

await describeReal('daemons as their systemd units run them', ['clamd', 'smtp-sink'], () => {
  let dir: string;
  let clamd: LabClamd;
  let sink: LabSmtpSink;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-units-'));
    // Traversable by the daemon once it runs as nobody (its pid file folder is inside).
    await chmod(dir, 0o711);
    clamd = await startClamd();
    sink = await startSmtpSink({ extraArgs: ['-w', '2'] });
  }, 60_000);
  afterAll(async () => {
    await sink?.stop();
    await clamd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serve smtp: ExecReload reloads without dropping an open session; SIGTERM lets the message in flight finish, exit 0', async () => {
    const svc = await unit('/etc/systemd/system/avbench-smtp.service');
    expect(svc['Type']).toBe('simple');
    expect(svc['ExecReload']).toBe('/bin/kill -HUP $MAINPID');
    const config = join(dir, 'smtp.config.json');
    // clamd over TCP: the daemon runs as nobody after binding and cannot enter the lab's private folder.
    await writeFile(config, JSON.stringify({ scanners: { clamd: { type: 'clamd', host: '127.0.0.1', port: clamd.port } } }));
    const port = await freePort();
    const argv = words(svc['ExecStart'] as string).map((w) =>
      w === '/etc/avbench/avbench.config.json' ? config : w === '127.0.0.1:10025' ? `127.0.0.1:${port}` : w === '127.0.0.1:10026' ? `127.0.0.1:${sink.port}` : w === 'avbench' ? 'nobody' : w,
    );
    expect(argv[0]).toBe('/usr/local/bin/avbench');
    const logFile = join(dir, 'smtp.log');
    const d: Daemon = await spawnDaemon(process.execPath, [BIN, ...argv.slice(1)], { logFile, cwd: dir });
    const log = () => readFile(logFile, 'utf8').catch(() => '');
    try {
      await waitFor('event=started', async () => (await log()).includes('event=started'));
      expect(await log()).toMatch(/event=started listen=127\.0\.0\.1:\d+ .*scanners=clamd pid=\d+ user=nobody/);
      const status = await readFile(`/proc/${d.pid}/status`, 'utf8');
      expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).not.toBe('0');

      // A session in the middle of its message when the reload comes.
      const c = await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 30_000 });
      expect(await reply(c)).toMatch(/^220 /);
      expect(await say(c, 'EHLO client.example')).toMatch(/^250/m);
      expect(await say(c, 'MAIL FROM:<a@example.org>')).toMatch(/^250 /);
      expect(await say(c, 'RCPT TO:<b@example.net>')).toMatch(/^250 /);
      expect(await say(c, 'DATA')).toMatch(/^354 /);
      await c.write(Buffer.from('Subject: before the reload\r\n\r\nfirst half\r\n', 'latin1'));
      // Reload: the config now says `clamd` is the embedded scanner.
      await writeFile(config, JSON.stringify({ scanners: { clamd: { type: 'embedded' } } }));
      const reload = words((svc['ExecReload'] as string).replace('$MAINPID', String(d.pid)));
      expect((await run(reload[0] as string, reload.slice(1), { deadline: Date.now() + 10_000 })).ok).toBe(true);
      await waitFor('event=reloaded', async () => (await log()).includes('event=reloaded')).catch(async (e: Error) => {
        throw new Error(`${e.message}; log:\n${await log()}`);
      });
      await c.write(Buffer.from('second half\r\n.\r\n', 'latin1'));
      expect(await reply(c)).toMatch(/^250 /);
      // The next message on the same session is scanned with the reloaded set.
      expect(await say(c, 'MAIL FROM:<a@example.org>')).toMatch(/^250 /);
      expect(await say(c, 'RCPT TO:<b@example.net>')).toMatch(/^250 /);
      expect(await say(c, 'DATA')).toMatch(/^354 /);
      await c.write(mailWithAttachment('eicar.com', EICAR), Buffer.from('\r\n.\r\n', 'latin1'));
      const r550 = await reply(c);
      expect(r550, JSON.stringify(r550)).toMatch(/^550 5\.7\.1 Virus found: Eicar-Test-Signature$/);

      // SIGTERM with a message in flight (the next hop waits 2 s before its DATA reply).
      expect(await say(c, 'MAIL FROM:<a@example.org>')).toMatch(/^250 /);
      expect(await say(c, 'RCPT TO:<b@example.net>')).toMatch(/^250 /);
      expect(await say(c, 'DATA')).toMatch(/^354 /);
      await c.write(Buffer.from('Subject: in flight\r\n\r\nhello\r\n.\r\n', 'latin1'));
      await new Promise((r) => setTimeout(r, 300));
      process.kill(d.pid, 'SIGTERM');
      expect(await reply(c)).toMatch(/^250 /);
      c.destroy();
      const exit = await Promise.race([d.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 40_000))]);
      expect(exit).toEqual({ exitCode: 0 });
      const text = await log();
      expect(text).toMatch(/event=stopping signal=SIGTERM drain_ms=30000/);
      expect(text).toMatch(/event=stopped signal=SIGTERM cut=0 ms=\d+/);
      expect(text).not.toMatch(/Error|at .*\.js:\d+/);
      for (const line of text.trim().split('\n')) expect(line).toMatch(/^ts=\S+ level=(info|warning|error) daemon=smtp event=\S+/);
    } finally {
      await d.stop(5_000);
    }
  }, 90_000);

  it('--pid-file with --user: written with the pid, removed on exit; a second daemon on the same address: one line, exit 2, no usage text', async () => {
    const runDir = await mkdtemp(join(dir, 'run-'));
    await chown(runDir, 65534, 65534);
    const pidFile = join(runDir, 'smtp.pid');
    const port = await freePort();
    const args = [BIN, 'serve', 'smtp', '--listen', `127.0.0.1:${port}`, '--forward', `127.0.0.1:${sink.port}`, '--scanner', 'embedded', '--user', 'nobody', '--pid-file', pidFile];
    const logFile = join(dir, 'pid.log');
    const d = await spawnDaemon(process.execPath, args, { logFile, cwd: dir });
    try {
      await waitFor('the pid file', async () => (await readFile(pidFile, 'utf8').catch(() => '')) === `${d.pid}\n`);
      const second = await run(process.execPath, [BIN, 'serve', 'smtp', '--listen', `127.0.0.1:${port}`, '--forward', `127.0.0.1:${sink.port}`, '--scanner', 'embedded'], { deadline: Date.now() + 20_000 });
      expect(second.ok && second.exitCode).toBe(2);
      expect(second.stderr.trim().split('\n').filter((l) => !l.startsWith('ts='))).toEqual([`avbench serve smtp: cannot listen on 127.0.0.1:${port}: the address is in use (another MTA, milter or avbench there?); stop it or choose another --listen`]);
      process.kill(d.pid, 'SIGTERM');
      expect(await d.exited).toEqual({ exitCode: 0 });
      await expect(readFile(pidFile)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await d.stop(5_000);
    }
  }, 60_000);

  it('usage problems exit 2 before binding: an unknown --user, a bad --drain', async () => {
    const port = await freePort();
    for (const [extra, says] of [
      [['--user', 'no-such-user-avbench'], '--user no-such-user-avbench: no such user'],
      [['--drain', 'soon'], '--drain: expected seconds or a duration'],
    ] as const) {
      const r = await run(process.execPath, [BIN, 'serve', 'smtp', '--listen', `127.0.0.1:${port}`, '--forward', `127.0.0.1:${sink.port}`, ...extra], { deadline: Date.now() + 20_000 });
      expect(r.ok && r.exitCode).toBe(2);
      expect(r.stderr).toContain(says);
      // Nothing was bound: the port is still free.
      const c = await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 2_000 }).catch(() => undefined);
      expect(c).toBeUndefined();
    }
  }, 60_000);
});
