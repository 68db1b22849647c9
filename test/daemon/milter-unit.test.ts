/**
 * `serve milter` as its systemd unit in docs/daemons.md runs it (issue 12.4), without
 * systemd: the unit's own ExecStart line (as root, `--user nobody`, the unix socket given
 * `--socket-group postfix --socket-mode 660`, paths pointed at a test folder), behind a real
 * private Postfix whose smtpd (user postfix) connects to that socket, a real clamd (over
 * TCP: the daemon runs as nobody) and a recording next hop. Checked: the socket's owner,
 * group and mode; clean relayed and EICAR refused through Postfix; the unit's ExecReload
 * while an SMTP session is in the middle of a message (the milter connection is not
 * dropped); SIGTERM with a message in flight (it finishes, 250, delivered; exit 0); the pid
 * file; a second daemon on the same socket (one line, exit 2); a socket left by a killed
 * daemon replaced.
 */
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run, spawnDaemon, type Daemon } from '../../src/core/exec.js';
import { connect, type Connection } from '../../src/core/net.js';
import { encodeCommand, SMFIF_ALL, SMFIP_ALL } from '../../src/modes/milter/codec.js';
import { parseFields } from '../../src/daemon/log.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { startPostfix, type LabPostfix } from '../../src/lab/postfix.js';
import { EICAR, mailWithAttachment } from '../helpers/eicar.js';
import { describeReal } from '../helpers/real.js';
import { recordingSink, swaks } from '../lab/postfix-helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'dist/src/cli/bin.js');
const NOBODY = 65534;

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

/** gid of a group in /etc/group. */
async function gidOf(name: string): Promise<number> {
  for (const line of (await readFile('/etc/group', 'utf8')).split('\n')) {
    const f = line.split(':');
    if (f[0] === name) return Number(f[2]);
  }
  throw new Error(`no group ${name}`);
}

/** The `event=message` lines of a log, parsed. */
const messages = (text: string) => text.split('\n').filter((l) => l.includes(' event=message ')).map(parseFields);

await describeReal('serve milter as its systemd unit runs it, behind a real Postfix', ['clamd', 'postfix', 'swaks'], () => {
  let dir: string;
  let clamd: LabClamd;
  let sink: Awaited<ReturnType<typeof recordingSink>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-milter-unit-'));
    // Traversable by nobody (the daemon) and postfix (smtpd reaches the socket inside).
    await chmod(dir, 0o711);
    clamd = await startClamd();
    sink = await recordingSink();
  }, 60_000);
  afterAll(async () => {
    await sink?.close();
    await clamd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('socket nobody:postfix 0660 reached by Postfix; clean relayed, EICAR 550; ExecReload mid-message keeps the session; SIGTERM lets the message in flight finish, exit 0', async () => {
    const svc = await unit('/etc/systemd/system/avbench-milter.service');
    expect(svc['Type']).toBe('simple');
    expect(svc['ExecReload']).toBe('/bin/kill -HUP $MAINPID');
    expect(svc['RuntimeDirectory']).toBe('avbench');
    // What systemd's RuntimeDirectory=avbench makes: /run/avbench, root-owned, 0755.
    const runDir = join(dir, 'run-avbench');
    await mkdir(runDir, { mode: 0o755 });
    const sock = join(runDir, 'milter.sock');
    const config = join(dir, 'milter.config.json');
    await writeFile(config, JSON.stringify({ scanners: { clamd: { type: 'clamd', host: '127.0.0.1', port: clamd.port } } }));
    const argv = words(svc['ExecStart'] as string).map((w) =>
      w === '/etc/avbench/avbench.config.json' ? config : w === 'unix:/run/avbench/milter.sock' ? `unix:${sock}` : w === 'avbench' ? 'nobody' : w,
    );
    expect(argv[0]).toBe('/usr/local/bin/avbench');
    expect(argv).toContain(`unix:${sock}`);
    expect(argv.slice(argv.indexOf('--socket-group'), argv.indexOf('--socket-group') + 2)).toEqual(['--socket-group', 'postfix']);
    const logFile = join(dir, 'milter.log');
    const d: Daemon = await spawnDaemon(process.execPath, [BIN, ...argv.slice(1)], { logFile, cwd: dir });
    const log = () => readFile(logFile, 'utf8').catch(() => '');
    let pf: LabPostfix | undefined;
    let c: Connection | undefined;
    try {
      await waitFor('event=started', async () => (await log()).includes('event=started')).catch(async (e: Error) => {
        throw new Error(`${e.message}; log:\n${await log()}`);
      });
      expect(await log()).toMatch(new RegExp(`event=started listen=unix:${sock} .*socket_mode=0660 scanners=clamd pid=${d.pid} user=nobody`));
      expect(/^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${d.pid}/status`, 'utf8'))?.[1]).toBe(String(NOBODY));
      const st = await stat(sock);
      expect(st.isSocket()).toBe(true);
      expect({ uid: st.uid, gid: st.gid, mode: (st.mode & 0o777).toString(8) }).toEqual({ uid: NOBODY, gid: await gidOf('postfix'), mode: '660' });

      pf = await startPostfix({ relayPort: sink.port, milter: `unix:${sock}` });
      const good = await swaks(pf.port, { raw: Buffer.concat([Buffer.from('X-Avbench-Id: unit-clean\r\n'), mailWithAttachment('notes.txt', Buffer.from('minutes\n'))]) });
      expect(good.exitCode, good.out).toBe(0);
      expect(await pf.waitForSent(1, Date.now() + 30_000)).toBe(true);
      const relayed = sink.messages.at(-1)?.toString('latin1') ?? '';
      expect(relayed).toContain('X-Avbench-Id: unit-clean');
      expect(relayed).toMatch(/^X-Virus-Status: Clean\r?$/m);
      const bad = await swaks(pf.port, { raw: mailWithAttachment('eicar.com', EICAR) });
      expect(bad.exitCode, bad.out).toBe(26);
      // The lab clamd's own signature names it Eicar-Test-NDB.UNOFFICIAL.
      expect(bad.out).toMatch(/<\*\* 550 5\.7\.1 Virus found: Eicar-Test-NDB\.UNOFFICIAL/);

      // An SMTP session in the middle of its message (MAIL reached the milter) when the reload comes.
      c = await connect({ host: '127.0.0.1', port: pf.port }, { deadline: Date.now() + 60_000 });
      expect(await reply(c)).toMatch(/^220 /);
      expect(await say(c, 'EHLO client.example')).toMatch(/^250/);
      expect(await say(c, 'MAIL FROM:<a@example.org>')).toMatch(/^250 /);
      expect(await say(c, 'RCPT TO:<b@example.net>')).toMatch(/^250 /);
      expect(await say(c, 'DATA')).toMatch(/^354 /);
      await c.write(Buffer.from('X-Avbench-Id: unit-reload\r\nSubject: before the reload\r\n\r\nfirst half\r\n', 'latin1'));
      // Reload: the config now says `clamd` is the embedded scanner (its EICAR name: Eicar-Test-Signature).
      await writeFile(config, JSON.stringify({ scanners: { clamd: { type: 'embedded' } } }));
      const reload = words((svc['ExecReload'] as string).replace('$MAINPID', String(d.pid)));
      expect((await run(reload[0] as string, reload.slice(1), { deadline: Date.now() + 10_000 })).ok).toBe(true);
      await waitFor('event=reloaded', async () => (await log()).includes('event=reloaded')).catch(async (e: Error) => {
        throw new Error(`${e.message}; log:\n${await log()}`);
      });
      await c.write(Buffer.from('second half\r\n.\r\n', 'latin1'));
      expect(await reply(c)).toMatch(/^250 /);
      // The next message of the same session: scanned by the reloaded set on the same milter connection.
      expect(await say(c, 'MAIL FROM:<a@example.org>')).toMatch(/^250 /);
      expect(await say(c, 'RCPT TO:<b@example.net>')).toMatch(/^250 /);
      expect(await say(c, 'DATA')).toMatch(/^354 /);
      await c.write(mailWithAttachment('eicar.com', EICAR), Buffer.from('\r\n.\r\n', 'latin1'));
      expect(await reply(c)).toMatch(/^550 5\.7\.1 Virus found: Eicar-Test-Signature$/);
      await waitFor('two message lines after the reload', async () => messages(await log()).length >= 4);
      const [, , midReload, afterReload] = messages(await log());
      expect(midReload).toMatchObject({ verdict: 'clean', action: 'accepted' });
      expect(afterReload).toMatchObject({ verdict: 'infected', action: 'rejected', conn: midReload?.['conn'] });
      expect(await pf.waitForSent(2, Date.now() + 30_000)).toBe(true);
      expect(sink.messages.at(-1)?.toString('latin1')).toMatch(/X-Avbench-Id: unit-reload[\s\S]*first half\r\nsecond half/);

      // SIGTERM with a message in flight: it finishes (250, relayed), then the daemon exits 0.
      expect(await say(c, 'MAIL FROM:<a@example.org>')).toMatch(/^250 /);
      expect(await say(c, 'RCPT TO:<b@example.net>')).toMatch(/^250 /);
      expect(await say(c, 'DATA')).toMatch(/^354 /);
      await c.write(Buffer.from('X-Avbench-Id: unit-in-flight\r\nSubject: in flight\r\n\r\nhello\r\n', 'latin1'));
      process.kill(d.pid, 'SIGTERM');
      await waitFor('event=stopping', async () => (await log()).includes('event=stopping'));
      // Not accepting any more: a new connection to the socket is refused.
      await expect(connect({ path: sock }, { deadline: Date.now() + 2_000 })).rejects.toMatchObject({ code: 'CONNECT_FAILED' });
      await c.write(Buffer.from('world\r\n.\r\n', 'latin1'));
      expect(await reply(c)).toMatch(/^250 /);
      await say(c, 'QUIT').catch(() => '');
      c.destroy();
      const exit = await Promise.race([d.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 40_000))]);
      expect(exit).toEqual({ exitCode: 0 });
      expect(await pf.waitForSent(3, Date.now() + 30_000)).toBe(true);
      const last = sink.messages.at(-1)?.toString('latin1') ?? '';
      expect(last).toContain('X-Avbench-Id: unit-in-flight');
      expect(last).toMatch(/^X-Virus-Status: Clean\r?$/m);
      const text = await log();
      expect(text).toMatch(/event=stopping signal=SIGTERM drain_ms=30000/);
      expect(text).toMatch(/event=stopped signal=SIGTERM cut=0 ms=\d+/);
      expect(messages(text).at(-1)).toMatchObject({ verdict: 'clean', action: 'accepted', conn: midReload?.['conn'] });
      // That message was scanned after the SIGTERM, on the connection Postfix had open.
      expect(text.lastIndexOf(' event=message ')).toBeGreaterThan(text.indexOf(' event=stopping '));
      expect(text).not.toMatch(/Error:|at .*\.js:\d+/);
      for (const line of text.trim().split('\n')) expect(line).toMatch(/^ts=\S+ level=(info|warning|error) daemon=milter event=\S+/);
    } finally {
      c?.destroy();
      await pf?.stop();
      await d.stop(5_000);
    }
  }, 180_000);

  it('--pid-file written and removed; a second daemon on the live socket: one line, exit 2; a socket and pid file left by a killed daemon are replaced', async () => {
    const runDir = await mkdtemp(join(dir, 'run-'));
    await chown(runDir, NOBODY, NOBODY);
    const pidFile = join(runDir, 'milter.pid');
    const sock = join(runDir, 'milter.sock');
    const args = [BIN, 'serve', 'milter', '--listen', `unix:${sock}`, '--scanner', 'embedded', '--user', 'nobody', '--socket-group', 'postfix', '--pid-file', pidFile];
    const first = await spawnDaemon(process.execPath, args, { logFile: join(dir, 'pid-1.log'), cwd: dir });
    let third: Daemon | undefined;
    try {
      await waitFor('the pid file', async () => (await readFile(pidFile, 'utf8').catch(() => '')) === `${first.pid}\n`);
      const second = await run(process.execPath, [BIN, 'serve', 'milter', '--listen', `unix:${sock}`, '--scanner', 'embedded'], { deadline: Date.now() + 20_000 });
      expect(second.ok && second.exitCode).toBe(2);
      expect(second.ok && second.stderr.trim().split('\n').filter((l) => !l.startsWith('ts='))).toEqual([
        `avbench serve milter: cannot listen on unix:${sock}: the address is in use (another MTA, milter or avbench there?); stop it or choose another --listen`,
      ]);
      // The live socket was left alone: it still answers.
      (await connect({ path: sock }, { deadline: Date.now() + 5_000 })).destroy();

      // Killed without a chance to clean up: its socket file and pid file stay behind.
      process.kill(first.pid, 'SIGKILL');
      await first.exited;
      expect((await stat(sock)).isSocket()).toBe(true);
      expect(await readFile(pidFile, 'utf8')).toBe(`${first.pid}\n`);
      const logFile = join(dir, 'pid-3.log');
      third = await spawnDaemon(process.execPath, args, { logFile, cwd: dir });
      const t = third;
      await waitFor('the new pid file', async () => (await readFile(pidFile, 'utf8').catch(() => '')) === `${t.pid}\n`);
      await waitFor('event=started', async () => (await readFile(logFile, 'utf8').catch(() => '')).includes('event=started'));
      (await connect({ path: sock }, { deadline: Date.now() + 5_000 })).destroy();
      process.kill(third.pid, 'SIGTERM');
      expect(await third.exited).toEqual({ exitCode: 0 });
      await expect(readFile(pidFile)).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(stat(sock)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await first.stop(5_000);
      await third?.stop(5_000);
    }
  }, 90_000);

  it('SIGTERM: an idle MTA connection is closed at once; a message that does not finish within --drain is cut (cut=1), exit 0', async () => {
    const sock = join(dir, 'drain.sock');
    const logFile = join(dir, 'drain.log');
    const log = () => readFile(logFile, 'utf8').catch(() => '');
    const d = await spawnDaemon(process.execPath, [BIN, 'serve', 'milter', '--listen', `unix:${sock}`, '--scanner', 'embedded', '--drain', '1500ms', '--reply-steps', 'every'], { logFile, cwd: dir });
    const conns: Connection[] = [];
    try {
      await waitFor('event=started', async () => (await log()).includes('event=started'));
      const open = async (mail: boolean): Promise<Connection> => {
        const c = await connect({ path: sock }, { deadline: Date.now() + 30_000 });
        conns.push(c);
        await c.write(encodeCommand({ type: 'optneg', version: 6, actions: SMFIF_ALL, protocol: SMFIP_ALL }));
        const head = await c.readExactly(4);
        await c.readExactly(head.readUInt32BE(0));
        // --reply-steps every: connect and MAIL are answered (continue), so MAIL has arrived before the signal.
        await c.write(encodeCommand({ type: 'connect', hostname: 'client.example', family: '4', port: 40000, address: '192.0.2.7' }));
        await c.readExactly(5);
        if (mail) {
          await c.write(encodeCommand({ type: 'mail', args: ['<a@example.org>'] }));
          await c.readExactly(5);
        }
        return c;
      };
      const idle = await open(false);
      const stalled = await open(true);
      process.kill(d.pid, 'SIGTERM');
      // The idle connection ends at once (EOF); the stalled one stays until the deadline.
      await expect(idle.readExactly(1)).rejects.toMatchObject({ code: 'CONNECT_FAILED' });
      expect(await log()).not.toMatch(/event=stopped/);
      await expect(stalled.readExactly(1)).rejects.toBeDefined();
      expect(await d.exited).toEqual({ exitCode: 0 });
      expect(await log()).toMatch(/event=stopping signal=SIGTERM drain_ms=1500\n[\s\S]*event=stopped signal=SIGTERM cut=1 ms=\d+\n$/);
    } finally {
      for (const c of conns) c.destroy();
      await d.stop(5_000);
    }
  }, 60_000);

  it('usage problems exit 2 before binding: an unknown --socket-owner or --socket-group, a bad --socket-mode, --drain', async () => {
    const sock = join(dir, 'usage.sock');
    for (const [extra, says] of [
      [['--socket-owner', 'no-such-user-avbench'], '--socket-owner no-such-user-avbench: no such user'],
      [['--socket-group', 'no-such-group-avbench'], '--socket-group no-such-group-avbench: no such group'],
      [['--socket-mode', 'rw-rw----'], '--socket-mode rw-rw----: give an octal mode'],
      [['--drain', 'soon'], '--drain: expected seconds or a duration'],
    ] as const) {
      const r = await run(process.execPath, [BIN, 'serve', 'milter', '--listen', `unix:${sock}`, '--scanner', 'embedded', ...extra], { deadline: Date.now() + 20_000 });
      expect(r.ok && r.exitCode, r.ok ? r.stderr : r.message).toBe(2);
      expect(r.ok && r.stderr).toContain(says);
      expect(r.ok && r.stderr).not.toMatch(/event=started|at .*\.js:\d+/);
      await expect(stat(sock)).rejects.toMatchObject({ code: 'ENOENT' });
    }
  }, 60_000);
});
