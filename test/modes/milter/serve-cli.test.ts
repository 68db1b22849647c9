/** `avbench serve milter`: the command module (options) and the daemon (listen, key=value log, SIGTERM, usage errors). */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { parseSocketMode, serveMilterCommand, type ServeMilterArgs } from '../../../src/cli/commands/serve-milter.js';
import { run, spawnDaemon } from '../../../src/core/exec.js';
import { parseFields } from '../../../src/daemon/log.js';
import { eicar } from '../../../src/lab/signatures.js';
import { createMilterDriver } from '../../../src/modes/milter/driver.js';

/** The built CLI (npm test builds first): the daemon runs as its own process, signals and all. */
const BIN = join(resolve(import.meta.dirname, '../../..'), 'dist/src/cli/bin.js');

async function parse(argv: string[]): Promise<{ args?: ServeMilterArgs; error?: string }> {
  let error: string | undefined;
  let args: ServeMilterArgs | undefined;
  const cmd = serveMilterCommand({ exitCode: 0 });
  await yargs(argv)
    .command({ ...cmd, handler: (a) => void (args = a as unknown as ServeMilterArgs) })
    .strict()
    .exitProcess(false)
    .fail((msg) => {
      error = msg;
    })
    .parseAsync();
  return { ...(args === undefined ? {} : { args }), ...(error === undefined ? {} : { error }) };
}

describe('avbench serve milter', () => {
  it('parses its options with safe defaults (loopback, reject, tempfail, headers)', async () => {
    const { args } = await parse(['milter']);
    // No --on-infected/--on-fail: the config file's policy, else reject/tempfail (src/modes/policy.ts policyFrom).
    expect(args).toMatchObject({ listen: 'inet:7357@127.0.0.1', scanner: ['embedded'], addHeader: true, timeout: '30s' });
    expect([args?.onInfected, args?.onFail]).toEqual([undefined, undefined]);
    const r = await parse(['milter', '--on-infected', 'quarantine', '--on-fail', 'accept', '--no-add-header', '-s', 'clamd', '-l', 'unix:/tmp/x.sock']);
    expect(r.args).toMatchObject({ onInfected: 'quarantine', onFail: 'accept', addHeader: false, scanner: ['clamd'], listen: 'unix:/tmp/x.sock' });
    expect((await parse(['milter', '--on-infected', 'bounce'])).error).toMatch(/Invalid values/);
    expect((await parse(['milter'])).args).toMatchObject({ replySteps: 'auto', socketMode: '660' });
    expect((await parse(['milter', '--reply-steps', 'every', '--socket-mode', '0666'])).args).toMatchObject({ replySteps: 'every', socketMode: '0666' });
    expect((await parse(['milter', '--reply-steps', 'some'])).error).toMatch(/Invalid values/);
    expect((await parse(['milter', '--socket-mode', '999'])).error).toMatch(/--socket-mode 999: give an octal mode/);
    expect(parseSocketMode('666')).toBe(0o666);
  });

  it('serves on a unix socket, logs one key=value line per message, stops on SIGTERM (exit 0) and removes the socket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'avbench-serve-milter-'));
    const path = join(dir, 'm.sock');
    const logFile = join(dir, 'milter.log');
    const d = await spawnDaemon(process.execPath, [BIN, 'serve', 'milter', '--listen', `unix:${path}`, '--scanner', 'embedded'], { logFile, cwd: dir });
    const log = () => readFile(logFile, 'utf8').catch(() => '');
    try {
      for (let i = 0; i < 400 && !(await log()).includes('event=started'); i++) await new Promise((r) => setTimeout(r, 25));
      expect(await log()).toMatch(new RegExp(`^ts=\\S+ level=info daemon=milter event=started listen=unix:${path} on_infected=reject on_fail=tempfail socket_mode=0660 scanners=embedded pid=${d.pid}\n`));
      expect((await stat(path)).mode & 0o777).toBe(0o660);
      const drv = createMilterDriver({ url: `milter+unix://${path}` });
      await drv.open();
      const raw = Buffer.from(`Subject: t\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${eicar().toString('base64')}\r\n`);
      expect((await drv.send({ file: 'x', raw })).fate).toBe('rejected');
      await drv.close();
      for (let i = 0; i < 400 && !(await log()).includes('event=message'); i++) await new Promise((r) => setTimeout(r, 25));
      const line = (await log()).split('\n').find((l) => l.includes('event=message')) ?? '';
      expect(parseFields(line)).toMatchObject({ level: 'info', daemon: 'milter', event: 'message', conn: '1', from: '<sender@avbench.test>', verdict: 'infected', names: 'Eicar-Test-Signature', action: 'rejected', reply: '550 5.7.1 Virus found: Eicar-Test-Signature' });
      expect(line).toMatch(/ client=127\.0\.0\.1:\d+ bytes=\d+ /);
      process.kill(d.pid, 'SIGTERM');
      expect(await d.exited).toEqual({ exitCode: 0 });
      expect(await log()).toMatch(/event=stopped signal=SIGTERM cut=0 ms=\d+\n$/);
      await expect(stat(path)).rejects.toThrow();
    } finally {
      await d.stop(5_000);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 with one line when it cannot listen; a usage problem (bad --listen, --socket-group on TCP) exits 2 before binding', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'avbench-serve-milter-'));
    const listen = `unix:${join(dir, 'no-such-folder', 'm.sock')}`;
    try {
      const r = await run(process.execPath, [BIN, 'serve', 'milter', '--listen', listen, '--scanner', 'embedded'], { deadline: Date.now() + 20_000 });
      expect(r.ok && r.exitCode).toBe(2);
      expect(r.ok && r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('ts='))).toEqual([(`avbench serve milter: could not start: the folder ${join(dir, 'no-such-folder')} does not exist: create it first (systemd: RuntimeDirectory=)`)]);
      for (const [extra, says] of [
        [['--listen', 'tcp:1234'], 'milter socket must be inet:PORT@HOST or unix:PATH'],
        [['--listen', 'inet:0@127.0.0.1', '--socket-group', 'postfix'], '--socket-owner/--socket-group are for a unix socket'],
        [['--listen', `unix:${join(dir, 'm.sock')}`, '--socket-group', 'no-such-group-avbench'], '--socket-group no-such-group-avbench: no such group'],
      ] as const) {
        const u = await run(process.execPath, [BIN, 'serve', 'milter', '--scanner', 'embedded', ...extra], { deadline: Date.now() + 20_000 });
        expect(u.ok && u.exitCode).toBe(2);
        expect(u.ok && u.stderr).toContain(says);
        expect(u.ok && u.stderr).not.toMatch(/event=started|at .*\.js:\d+/);
      }
      await expect(stat(join(dir, 'm.sock'))).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
