/**
 * `avbench lab up --detach | status | down` as a user runs them: the real CLI (built into
 * dist/ by `npm test`), real daemons, nothing left running.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run } from '../../src/core/exec.js';
import { alive, type LabState } from '../../src/lab/up.js';
import { EICAR, mailWithAttachment } from '../helpers/eicar.js';
import { describeReal } from '../helpers/real.js';

const BIN = resolve(import.meta.dirname, '../../dist/src/cli/bin.js');
const avbench = (...args: string[]) => run(process.execPath, [BIN, ...args], { deadline: Date.now() + 120_000 });

await describeReal('avbench lab up/status/down', ['clamd', 'c-icap', 'clamav-milter', 'clamsmtpd', 'smtp-sink', 'yara'], () => {
  let dir: string;
  let state: LabState | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-labtest-'));
  });
  afterAll(async () => {
    await avbench('lab', 'down', '--dir', join(dir, 'lab'));
    for (const d of state?.daemons ?? []) if (alive(d.pid)) process.kill(d.pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('starts every daemon in the background, reports them, serves scans, and stops them all', async () => {
    expect(existsSync(BIN), 'run `npm run build` first (npm test does)').toBe(true);
    const lab = join(dir, 'lab');
    const up = await avbench('lab', 'up', '--detach', '--dir', lab);
    expect(up, JSON.stringify(up)).toMatchObject({ ok: true, exitCode: 0 });
    expect(up.stdout).toContain('--sut for clamsmtpd: smtp://127.0.0.1:');

    const st = await avbench('lab', 'status', '--json', '--dir', lab);
    expect(st).toMatchObject({ ok: true, exitCode: 0 });
    state = JSON.parse(st.stdout) as LabState;
    // Haraka (npm devDependencies) is part of the lab when installed, as in this tree.
    // rspamd (apt, issue 15.4) likewise: its milter --sut with the PIDs of its main process, workers and clamd.
    // Exim (issue 15.3: unpacked by scripts/install-exim.sh, as .ci/run does) likewise.
    // Sendmail (issue 15.2: unpacked by scripts/install-sendmail.sh, as .ci/run does) with clamav-milter as its input milter, likewise.
    // amavisd-new (issue 15.1, apt) after the queue of its own private Postfix, likewise.
    expect(state.daemons.map((d) => d.name)).toEqual(['clamd', 'c-icap', 'clamav-milter', 'clamsmtpd', 'smtp-sink', 'rspamd', 'haraka', 'exim', 'sendmail', 'postfix (postfix+clamav-milter)', 'postfix (postfix+rspamd)', 'avbench serve milter (postfix+avbench-milter)', 'postfix (postfix+avbench-milter)', 'avbench serve smtp (postfix+avbench-proxy)', 'postfix (postfix+avbench-proxy)', 'amavisd-new', 'postfix (amavisd-new)', 'amavisd-milter']);
    // Postfix in front of each milter (issue 15.7): the whole gateway as an administrator deploys it.
    expect(state.suts['postfix+clamav-milter']).toMatch(/^smtp:\/\/127\.0\.0\.1:\d+\?sink=\d+&name=postfix%2Bclamav-milter&pid=\d+,\d+,\d+$/);
    expect(state.suts['postfix+rspamd']).toMatch(/^smtp:\/\/127\.0\.0\.1:\d+\?sink=\d+&name=postfix%2Brspamd&pid=\d+(,\d+){4,}$/);
    // And in front of our own serve milter / serve smtp (the built CLI, its own process): pid= master, ours, clamd.
    expect(state.suts['postfix+avbench-milter']).toMatch(/^smtp:\/\/127\.0\.0\.1:\d+\?sink=\d+&name=postfix%2Bavbench-milter&pid=\d+,\d+,\d+$/);
    expect(state.suts['postfix+avbench-proxy']).toMatch(/^smtp:\/\/127\.0\.0\.1:\d+\?sink=\d+&name=postfix%2Bavbench-proxy&pid=\d+,\d+,\d+$/);
    expect(state.suts['amavisd-milter']).toMatch(/^milter:\/\/127\.0\.0\.1:\d+\?name=amavisd-milter&pid=\d+,\d+,\d+$/);
    expect(state.suts['amavisd-new']).toMatch(/^smtp:\/\/127\.0\.0\.1:\d+\?sink=\d+&name=amavisd-new&pid=\d+,\d+,\d+$/);
    expect(state.suts['exim']).toMatch(/^smtp:\/\/127\.0\.0\.1:\d+\?sink=\d+&name=exim&pid=\d+,\d+$/);
    expect(state.suts['sendmail']).toMatch(/^smtp:\/\/127\.0\.0\.1:\d+\?sink=\d+&name=sendmail&pid=\d+,\d+,\d+$/);
    expect(state.suts['rspamd']).toMatch(/^milter:\/\/127\.0\.0\.1:\d+\?name=rspamd&pid=\d+(,\d+){3,}$/);
    expect(state.suts['haraka']).toMatch(/^smtp:\/\/127\.0\.0\.1:\d+\?sink=\d+&name=haraka&pid=\d+,\d+$/);
    for (const d of state.daemons) expect([d.name, alive(d.pid)]).toEqual([d.name, true]);

    // The written config reaches the lab's scanners.
    const msg = join(dir, 'eicar.eml');
    await writeFile(msg, mailWithAttachment('eicar.com', EICAR));
    const scan = await avbench('scan', '--json', '--config', state.configFile, '-s', 'clamd', '-s', 'icap', '-s', 'clamdscan', '-s', 'yara', msg);
    expect(scan.ok && scan.exitCode, scan.stdout + scan.stderr).toBe(1);
    const rows = JSON.parse(scan.stdout) as { scanner: string; status: string }[];
    expect(rows.map((r) => [r.scanner, r.status])).toEqual([
      ['clamd', 'infected'],
      ['icap', 'infected'],
      ['clamdscan', 'infected'],
      ['yara', 'infected'],
    ]);

    const again = await avbench('lab', 'up', '--detach', '--dir', lab);
    expect(again.ok && again.exitCode).not.toBe(0); // one lab per folder

    const down = await avbench('lab', 'down', '--dir', lab);
    expect(down).toMatchObject({ ok: true, exitCode: 0 });
    expect(down.stdout).toContain('stopped');
    for (const d of state.daemons) expect([d.name, alive(d.pid)]).toEqual([d.name, false]);
    expect(existsSync(join(lab, 'state.json'))).toBe(false);
    const after = await avbench('lab', 'status', '--dir', lab);
    expect(after.ok && after.exitCode).toBe(3);
  }, 180_000);

  it('--only starts clamd and the named daemons (Sendmail and Postfix + clamav-milter with their clamav-milter), nothing else', async () => {
    const lab = join(dir, 'only');
    const only = process.getuid?.() === 0 ? 'smtp-sink,sendmail,postfix+clamav-milter' : 'smtp-sink';
    const up = await avbench('lab', 'up', '--detach', '--dir', lab, '--only', only);
    expect(up, JSON.stringify(up)).toMatchObject({ ok: true, exitCode: 0 });
    const st = JSON.parse((await avbench('lab', 'status', '--json', '--dir', lab)).stdout) as LabState;
    try {
      expect(st.daemons.map((d) => d.name)).toEqual(only.includes('sendmail') ? ['clamd', 'clamav-milter', 'smtp-sink', 'sendmail', 'postfix (postfix+clamav-milter)'] : ['clamd', 'smtp-sink']);
      expect(Object.keys(st.suts)).toEqual(only.includes('sendmail') ? ['clamav-milter', 'sendmail', 'postfix+clamav-milter'] : []);
    } finally {
      expect(await avbench('lab', 'down', '--dir', lab)).toMatchObject({ ok: true, exitCode: 0 });
    }
    for (const d of st.daemons) expect([d.name, alive(d.pid)]).toEqual([d.name, false]);
  }, 120_000);

  it('--only with an unknown name is a usage error before anything starts', async () => {
    const lab = join(dir, 'bad');
    const r = await avbench('lab', 'up', '--detach', '--dir', lab, '--only', 'clamd,postfixx');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('no lab daemon named postfixx');
    expect(existsSync(lab)).toBe(false);
  });

  it('--only naming a gateway that is not installed stops --detach before its folder or log exist', async () => {
    const lab = join(dir, 'absent');
    const r = await run(process.execPath, [BIN, 'lab', 'up', '--detach', '--dir', lab, '--only', 'exim'], { deadline: Date.now() + 60_000, env: { AVBENCH_EXIM_PREFIX: join(dir, 'no-exim-here') } });
    expect(r.ok && r.exitCode).toBe(2);
    expect(r.ok ? r.stderr : '').toContain('Exim is not unpacked (bash scripts/install-exim.sh)');
    expect(existsSync(lab)).toBe(false);
  });
});
