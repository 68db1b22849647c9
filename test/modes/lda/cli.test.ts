import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverCommand } from '../../../src/cli/commands/deliver.js';
import { EICAR, mailWithAttachment } from '../../helpers/eicar.js';

/** Run `avbench deliver ARGS` in process with `message` as stdin; returns exit code and the stderr lines. */
async function deliver(argv: string[], message: Buffer): Promise<{ code: number; log: string[] }> {
  const state = { exitCode: -1 };
  const log: string[] = [];
  let failed: string | undefined;
  await yargs(['deliver', ...argv])
    .command(deliverCommand(state, { readStdin: async () => message, log: (l) => log.push(l) }))
    .strict()
    .exitProcess(false)
    .fail((msg, err) => {
      failed = msg || String(err);
    })
    .parseAsync();
  if (failed !== undefined) throw new Error(failed);
  return { code: state.exitCode, log };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-deliver-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('avbench deliver (command module)', () => {
  const clean = mailWithAttachment('notes.txt', Buffer.from('hi\n'));

  it('passes everything after -- to COMMAND verbatim (no number parsing, no shell)', async () => {
    const script = join(dir, 'argv.sh');
    const out = join(dir, 'argv.out');
    await writeFile(script, `#!/bin/sh\nprintf '%s\\n' "$@" > ${out}\ncat > /dev/null\n`, { mode: 0o700 });
    const r = await deliver(['-s', 'embedded', '--', script, '0755', '1e3', '0x10', '-5', '$(id)', 'a b'], clean);
    expect(r.code).toBe(0);
    expect(r.log[0]).toMatch(/^delivered: clean via /);
    expect(await readFile(out, 'utf8')).toBe('0755\n1e3\n0x10\n-5\n$(id)\na b\n');
  });

  it('--maildir delivers; --on-infected reject exits 77 (or --reject-code); --quarantine exits 0', async () => {
    const md = join(dir, 'Maildir');
    expect((await deliver(['-s', 'embedded', '--no-fsync', '--maildir', md], clean)).code).toBe(0);
    const bad = mailWithAttachment('eicar.com', EICAR);
    const rej = await deliver(['-s', 'embedded', '--maildir', md], bad);
    expect(rej).toEqual({ code: 77, log: ['rejected: infected: Eicar-Test-Signature'] });
    expect((await deliver(['-s', 'embedded', '--maildir', md, '--reject-code', '69'], bad)).code).toBe(69);
    const q = join(dir, 'q');
    const quar = await deliver(['-s', 'embedded', '--maildir', md, '--quarantine', q], bad);
    expect(quar.code).toBe(0);
    expect(quar.log[0]).toMatch(/^quarantined: infected: Eicar-Test-Signature in /);
    expect(await readdir(q)).toHaveLength(1);
    expect(await readdir(join(md, 'new'))).toHaveLength(1);
  });

  it('--defang-ext renames the listed extensions', async () => {
    const md = join(dir, 'Maildir-defang');
    const r = await deliver(['-s', 'embedded', '--maildir', md, '--defang-ext', 'txt,doc'], clean);
    expect(r.code).toBe(0);
    expect(r.log[0]).toContain('defanged notes.txt -> notes.DEFANGED-TXT');
    const [f] = await readdir(join(md, 'new'));
    expect(await readFile(join(md, 'new', f!), 'utf8')).toContain('filename=notes.DEFANGED-TXT');
  });

  it('configuration problems exit 75 (the MTA keeps the mail) with a message', async () => {
    const unknown = await deliver(['-s', 'nosuch', '--maildir', dir], clean);
    expect(unknown.code).toBe(75);
    expect(unknown.log[0]).toMatch(/^tempfail: CONFIG: unknown scanner "nosuch"/);
    // No COMMAND and no --maildir is a command-line error: 64 before stdin is read (test/cli/usage.test.ts).
    const badcfg = join(dir, 'bad.json');
    await writeFile(badcfg, '{ not json');
    expect((await deliver(['-s', 'embedded', '--maildir', dir, '--config', badcfg], clean)).code).toBe(75);
  });
});
