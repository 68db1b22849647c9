/**
 * One vocabulary on the command line (issue 12.6): a bad word or duration is a usage error
 * found before anything is read, written, delivered or bound (deliver 64, the others 2);
 * the old spellings still work, each with one deprecation line on stderr.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDeliver, type DeliverArgs } from '../../src/cli/commands/deliver.js';
import { deliverMain } from '../../src/cli/deliver-lean.js';
import { runCli } from '../../src/cli/main.js';
import { spawnDaemon } from '../../src/core/exec.js';
import { connect, freePort } from '../../src/core/net.js';
import { createSmtpSink } from '../../src/modes/smtp/index.js';
import { captureOutput } from '../helpers/capture.js';

/** The built CLI (npm test builds first): daemons run as their own process. */
const BIN = join(resolve(import.meta.dirname, '../..'), 'dist/src/cli/bin.js');
const CLEAN = Buffer.from('From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-policy-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cli = (...argv: string[]) => captureOutput(() => runCli(argv));

/** Whether something listens on 127.0.0.1:port. */
async function listening(port: number): Promise<boolean> {
  try {
    const c = await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 1_000 });
    c.destroy();
    return true;
  } catch {
    return false;
  }
}

describe('usage errors in the policy options stop the command first', () => {
  it('deliver: a bad --on-fail, --on-infected or --timeout exits 64, nothing delivered', async () => {
    const md = join(dir, 'never');
    for (const bad of [['--on-fail', 'open'], ['--on-infected', 'bounce'], ['--timeout', '5x'], ['--timeout', '0'], ['--on-infected', 'quarantine']]) {
      const r = await cli('deliver', '-s', 'embedded', ...bad, '--maildir', md);
      expect(r.result, bad.join(' ')).toBe(64);
      expect(r.stderr).toMatch(/Invalid values|--timeout|--on-infected quarantine needs --quarantine DIR/);
      // The lean entry leaves these to yargs (undefined), without reading stdin.
      expect(await deliverMain(['-s', 'embedded', ...bad, '--maildir', md])).toBeUndefined();
    }
    await expect(readdir(md)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('serve smtp / serve milter: a bad word, duration or config policy exits 2, nothing bound', async () => {
    const port = await freePort();
    const cfg = join(dir, 'bad-policy.json');
    await writeFile(cfg, JSON.stringify({ scanners: {}, policy: { onFail: 'maybe' } }));
    const cases: Array<[string[], RegExp]> = [
      [['serve', 'smtp', '--listen', `127.0.0.1:${port}`, '--forward', '127.0.0.1:25', '--on-fail', 'open'], /Invalid values/],
      [['serve', 'smtp', '--listen', `127.0.0.1:${port}`, '--forward', '127.0.0.1:25', '--next-hop-timeout', 'soon'], /--next-hop-timeout: expected seconds/],
      [['serve', 'smtp', '--listen', `127.0.0.1:${port}`, '--forward', '127.0.0.1:25', '--config', cfg], /config policy\.onFail: expected one of tempfail, accept/],
      [['serve', 'milter', '--listen', `inet:${port}@127.0.0.1`, '--on-infected', 'bounce'], /Invalid values/],
      [['serve', 'milter', '--listen', `inet:${port}@127.0.0.1`, '--timeout', 'soon'], /--timeout: expected seconds/],
    ];
    for (const [argv, says] of cases) {
      const r = await cli(...argv);
      expect(r.result, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(says);
      expect(await listening(port)).toBe(false);
    }
  });
});

describe('old spellings still work, with one deprecation line', () => {
  it('deliver --on-fail deliver-tagged (full and lean entry): one warning, then delivered as --on-fail accept', async () => {
    const md = join(dir, 'md');
    const lines: string[] = [];
    const io = { readStdin: async () => CLEAN, log: (l: string) => void lines.push(l) };
    const args: DeliverArgs = { scanner: ['embedded'], defang: false, rejectCode: 77, onFail: 'deliver-tagged', timeout: '30s', fsync: false, maildir: md };
    expect(await runDeliver(args, io)).toBe(0);
    expect(await deliverMain(['-s', 'embedded', '--on-fail', 'deliver-tagged', '--timeout', '30000', '--no-fsync', '--maildir', md], io)).toBe(0);
    expect(lines.filter((l) => l.includes('deprecated'))).toEqual(['--on-fail deliver-tagged is deprecated; use --on-fail accept', '--on-fail deliver-tagged is deprecated; use --on-fail accept']);
    expect(lines.filter((l) => l.startsWith('delivered: clean'))).toHaveLength(2);
    expect(await readdir(join(md, 'new'))).toHaveLength(2);
  });

  it('serve smtp --on-fail accept-tagged --next-hop-timeout 30000 and serve milter --on-infected discard --timeout 30000: warned, started with the new words', async () => {
    const sink = await createSmtpSink();
    const smtpPort = await freePort();
    const milterPort = await freePort();
    const runs = [
      { argv: ['serve', 'smtp', '--listen', `127.0.0.1:${smtpPort}`, '--forward', `127.0.0.1:${sink.port}`, '--on-fail', 'accept-tagged', '--next-hop-timeout', '30000'], started: /on_infected=reject on_fail=accept/, warned: ['--on-fail accept-tagged is deprecated; use --on-fail accept', '--next-hop-timeout 30000 in milliseconds is deprecated; timeouts are seconds now: use --next-hop-timeout 30s'] },
      { argv: ['serve', 'milter', '--listen', `inet:${milterPort}@127.0.0.1`, '--on-infected', 'discard', '--on-fail', 'accept', '--timeout', '30000'], started: /on_infected=drop on_fail=accept/, warned: ['--on-infected discard is deprecated; use --on-infected drop', '--timeout 30000 in milliseconds is deprecated; timeouts are seconds now: use --timeout 30s'] },
    ];
    try {
      for (const r of runs) {
        const logFile = join(dir, `${r.argv[1]}.log`);
        const d = await spawnDaemon(process.execPath, [BIN, ...r.argv, '--scanner', 'embedded'], { logFile, cwd: dir });
        const log = () => readFile(logFile, 'utf8').catch(() => '');
        try {
          for (let i = 0; i < 400 && !(await log()).includes('event=started'); i++) await new Promise((res) => setTimeout(res, 25));
          const text = await log();
          expect(text).toMatch(r.started);
          expect(text.split('\n').filter((l) => l.includes('deprecated'))).toEqual(r.warned.map((w) => `avbench: ${w}`));
          process.kill(d.pid, 'SIGTERM');
          expect(await d.exited).toEqual({ exitCode: 0 });
        } finally {
          await d.stop(5_000);
        }
      }
    } finally {
      await sink.close();
    }
  }, 60_000);
});
