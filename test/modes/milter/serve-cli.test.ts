/** `avbench serve milter`: the command module (options) and the run loop (listen, log, stop). */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { parseSocketMode, runServeMilter, serveMilterCommand, type ServeMilterArgs } from '../../../src/cli/commands/serve-milter.js';
import { eicar } from '../../../src/lab/signatures.js';
import { createMilterDriver } from '../../../src/modes/milter/driver.js';

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
    expect(args).toMatchObject({ listen: 'inet:7357@127.0.0.1', scanner: ['embedded'], onInfected: 'reject', onFail: 'tempfail', addHeader: true });
    const r = await parse(['milter', '--on-infected', 'quarantine', '--on-fail', 'accept', '--no-add-header', '-s', 'clamd', '-l', 'unix:/tmp/x.sock']);
    expect(r.args).toMatchObject({ onInfected: 'quarantine', onFail: 'accept', addHeader: false, scanner: ['clamd'], listen: 'unix:/tmp/x.sock' });
    expect((await parse(['milter', '--on-infected', 'bounce'])).error).toMatch(/Invalid values/);
    expect((await parse(['milter'])).args).toMatchObject({ replySteps: 'auto', socketMode: '660' });
    expect((await parse(['milter', '--reply-steps', 'every', '--socket-mode', '0666'])).args).toMatchObject({ replySteps: 'every', socketMode: '0666' });
    expect((await parse(['milter', '--reply-steps', 'some'])).error).toMatch(/Invalid values/);
    expect((await parse(['milter', '--socket-mode', '999'])).error).toMatch(/socket-mode must be octal/);
    expect(parseSocketMode('666')).toBe(0o666);
  });

  it('serves on a unix socket, logs one line per message, stops cleanly and removes the socket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'avbench-serve-milter-'));
    const path = join(dir, 'm.sock');
    const lines: string[] = [];
    const stop = new AbortController();
    try {
      const running = runServeMilter(
        { listen: `unix:${path}`, scanner: ['embedded'], onInfected: 'reject', onFail: 'tempfail', rejectMessage: 'Virus found: %v', addHeader: true, timeout: 30_000 },
        stop.signal,
        (l) => lines.push(l),
      );
      for (let i = 0; i < 200 && !lines.some((l) => l.includes('listening')); i++) await new Promise((r) => setTimeout(r, 20));
      expect(lines[0]).toBe(`avbench milter listening on unix:${path} (scanners: embedded; on infected: reject; on fail: tempfail)`);
      const d = createMilterDriver({ url: `milter+unix://${path}` });
      await d.open();
      const raw = Buffer.from(`Subject: t\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${eicar().toString('base64')}\r\n`);
      expect((await d.send({ file: 'x', raw })).fate).toBe('rejected');
      await d.close();
      expect(lines[1]).toMatch(/conn=1 id=\w+ from=<sender@avbench\.test> client=127\.0\.0\.1:\d+ bytes=\d+ infected Eicar-Test-Signature action="replycode 550 5\.7\.1 Virus found: Eicar-Test-Signature" ms=/);
      stop.abort();
      expect(await running).toBe(0);
      expect(lines.at(-1)).toBe('avbench milter: stopped, closing');
      await expect(stat(path)).rejects.toThrow();
    } finally {
      stop.abort();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 when it cannot listen', async () => {
    const lines: string[] = [];
    const dir = await mkdtemp(join(tmpdir(), 'avbench-serve-milter-'));
    const listen = `unix:${join(dir, 'no-such-folder', 'm.sock')}`;
    try {
      const code = await runServeMilter(
        { listen, scanner: ['embedded'], onInfected: 'reject', onFail: 'tempfail', rejectMessage: '%v', addHeader: true, timeout: 1000 },
        AbortSignal.abort(),
        (l) => lines.push(l),
      );
      expect(code).toBe(2);
      expect(lines.join('\n')).toContain(`cannot listen on ${listen}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
