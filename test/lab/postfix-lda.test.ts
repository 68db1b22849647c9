/**
 * Point C end to end: a real private Postfix routes mail for two domains to `avbench deliver`
 * through pipe(8) transports (docs/mta.md's snippet), and the sysexits codes do what the
 * docs say: 0 → status=sent (in the Maildir), 77 → bounced 5.7.0, 75 → deferred (retried).
 */
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startPostfix, type LabPostfix } from '../../src/lab/postfix.js';
import { EICAR, mailWithAttachment } from '../helpers/eicar.js';
import { describeReal } from '../helpers/real.js';
import { buildCli, type Build } from '../modes/lda/build.js';
import { recordingSink, swaks } from './postfix-helpers.js';

const NOBODY = 65534;

await describeReal('Postfix pipe transport → avbench deliver (point C)', ['postfix', 'swaks'], () => {
  let dir: string;
  let build: Build;
  let sink: Awaited<ReturnType<typeof recordingSink>>;
  let pf: LabPostfix;
  let maildir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-pf-lda-'));
    await chmod(dir, 0o755);
    build = await buildCli();
    await chmod(build.dir, 0o755); // the pipe runs as nobody
    maildir = join(dir, 'Maildir');
    const down = join(dir, 'down.json');
    await writeFile(down, JSON.stringify({ scanners: { down: { type: 'clamd', socket: join(dir, 'none.sock'), timeoutMs: 2000 } } }), { mode: 0o644 });
    await mkdir(maildir, { mode: 0o700 });
    await chown(maildir, NOBODY, NOBODY);
    sink = await recordingSink();
    pf = await startPostfix({
      relayPort: sink.port,
      pipeTransports: [
        { name: 'avbench', domain: 'scan.example', user: 'nobody', argv: [...build.deliver, '--scanner', 'embedded', '--no-fsync', '--maildir', maildir] },
        { name: 'avbench-down', domain: 'down.example', user: 'nobody', argv: [...build.deliver, '--scanner', 'down', '--config', down, '--maildir', maildir] },
      ],
    });
  }, 300_000);
  afterAll(async () => {
    await pf?.stop();
    await sink?.close();
    await build?.remove();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const send = (to: string, raw: Buffer) => swaks(pf.port, { raw: Buffer.concat([Buffer.from(`To: ${to}\r\n`), raw]) }, to);

  it('clean → exit 0 → status=sent, in the Maildir with X-Virus-Status: Clean', async () => {
    const r = await send('bob@scan.example', mailWithAttachment('notes.txt', Buffer.from('agenda\n')));
    expect(r.exitCode, r.out).toBe(0);
    expect(await pf.waitForSent(1, Date.now() + 60_000), await pf.log()).toBe(true);
    const files = await readdir(join(maildir, 'new'));
    expect(files).toHaveLength(1);
    const text = await readFile(join(maildir, 'new', files[0]!), 'latin1');
    expect(text).toMatch(/^X-Virus-Scanned: avbench deliver \(embedded\)/);
    expect(text).toContain('X-Virus-Status: Clean');
    expect(text).toContain('Return-Path: <alice@example.org>');
    expect(await pf.log()).toMatch(/to=<bob@scan\.example>, relay=avbench, .* status=sent/);
  }, 90_000);

  it('EICAR → exit 77 → bounced with 5.7.0; nothing in the Maildir', async () => {
    const r = await send('carol@scan.example', mailWithAttachment('eicar.com', EICAR));
    expect(r.exitCode, r.out).toBe(0); // accepted into the queue: the LDA decides after the queue
    const deadline = Date.now() + 60_000;
    let log = '';
    while (Date.now() < deadline && !/to=<carol@scan\.example>.*status=bounced/.test(log)) {
      await new Promise((res) => setTimeout(res, 200));
      log = await pf.log();
    }
    expect(log).toMatch(/to=<carol@scan\.example>, relay=avbench, .*dsn=5\.7\.0, status=bounced \(.*rejected: infected: Eicar-Test-Signature/);
    expect(await readdir(join(maildir, 'new'))).toHaveLength(1);
  }, 90_000);

  it('scanner down → exit 75 → deferred (kept in the queue for a retry), nothing delivered', async () => {
    const r = await send('dave@down.example', mailWithAttachment('notes.txt', Buffer.from('agenda\n')));
    expect(r.exitCode, r.out).toBe(0);
    const deadline = Date.now() + 60_000;
    let log = '';
    while (Date.now() < deadline && !/to=<dave@down\.example>.*status=deferred/.test(log)) {
      await new Promise((res) => setTimeout(res, 200));
      log = await pf.log();
    }
    expect(log).toMatch(/to=<dave@down\.example>, relay=avbench-down, .*dsn=4\.3\.0, status=deferred \(.*tempfail: CONNECT_FAILED/);
    expect(await readdir(join(maildir, 'new'))).toHaveLength(1);
  }, 90_000);
});
