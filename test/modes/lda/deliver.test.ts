import { mkdtemp, readdir, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClamdAdapter, createEmbeddedAdapter } from '../../../adapters/index.js';
import { splitHeaderBody } from '../../../src/core/mime/headers.js';
import { addHeaders, deliverMessage, EX_NOPERM, EX_TEMPFAIL, type DeliverOptions } from '../../../src/modes/lda/deliver.js';
import { EICAR, mailWithAttachment } from '../../helpers/eicar.js';

let dir: string;
const embedded = createEmbeddedAdapter();
/** A real clamd adapter pointed at a socket nobody listens on: a real CONNECT_FAILED. */
let broken: ReturnType<typeof createClamdAdapter>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-deliver-'));
  broken = createClamdAdapter({ name: 'clamd-down', socket: join(dir, 'no-such.sock'), timeoutMs: 2_000 });
});
afterAll(async () => {
  await embedded.close();
  await broken.close();
  await rm(dir, { recursive: true, force: true });
});

const clean = mailWithAttachment('notes.txt', Buffer.from('meeting at noon\n'));
const bad = mailWithAttachment('eicar.com', EICAR);

/** A script that copies stdin to a file and exits with a given code (a stand-in delivery agent run through run()). */
async function recorder(name: string, exitCode: number): Promise<{ cmd: string[]; out: string }> {
  const out = join(dir, `${name}.out`);
  const script = join(dir, `${name}.sh`);
  await writeFile(script, `#!/bin/sh\ncat > "$1"\necho "delivery agent says hi" >&2\nexit ${exitCode}\n`, { mode: 0o700 });
  return { cmd: [script, out], out };
}

function opts(o: Partial<DeliverOptions>): DeliverOptions {
  return { scanners: [embedded], onInfected: 'reject', onFail: 'tempfail', fsync: false, ...o };
}

describe('deliverMessage', () => {
  it('clean: the command receives the exact message plus X-Virus-Scanned / X-Virus-Status, exit 0', async () => {
    const { cmd, out } = await recorder('clean', 0);
    const r = await deliverMessage(clean, opts({ command: cmd }));
    expect(r.exitCode).toBe(0);
    expect(r.fate).toBe('delivered');
    expect(r.verdict.status).toBe('clean');
    expect(r.command?.exitCode).toBe(0);
    const got = await readFile(out);
    const text = got.toString('latin1');
    expect(text.startsWith('X-Virus-Scanned: avbench deliver (embedded) on ')).toBe(true);
    expect(text).toContain('\r\nX-Virus-Status: Clean\r\n');
    // Everything after our two header lines is the original, byte for byte.
    const rest = got.subarray(got.indexOf('X-Virus-Status: Clean\r\n') + 'X-Virus-Status: Clean\r\n'.length);
    expect(rest.equals(clean)).toBe(true);
  });

  it('infected + reject: exit 77 (EX_NOPERM) by default, configurable, nothing delivered', async () => {
    const { cmd, out } = await recorder('rej', 0);
    const r = await deliverMessage(bad, opts({ command: cmd }));
    expect(r.exitCode).toBe(EX_NOPERM);
    expect(r.fate).toBe('rejected');
    expect(r.message).toBe('rejected: infected: Eicar-Test-Signature');
    await expect(stat(out)).rejects.toThrow();
    const r2 = await deliverMessage(bad, opts({ command: cmd, rejectExitCode: 69 }));
    expect(r2.exitCode).toBe(69);
    await expect(deliverMessage(bad, opts({ command: cmd, rejectExitCode: 75 }))).rejects.toThrow(/75/);
  });

  it('infected + quarantine: exit 0, a generated safe name, mode 0600, tagged copy kept', async () => {
    const q = join(dir, 'quarantine');
    const { cmd, out } = await recorder('quar', 0);
    // A hostile file name in the message never reaches a path.
    const hostile = mailWithAttachment('../../x;rm -rf.com', EICAR);
    const r = await deliverMessage(hostile, opts({ command: cmd, onInfected: 'quarantine', quarantineDir: q }));
    expect(r.exitCode).toBe(0);
    expect(r.fate).toBe('dropped');
    expect(r.action).toBe('quarantined');
    await expect(stat(out)).rejects.toThrow();
    const files = await readdir(q);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^\d+\.M\d+P\d+R[0-9a-f]{16}\.[A-Za-z0-9._\\-]+\.eml$/);
    expect(r.file).toBe(join(q, files[0]!));
    const st = await stat(r.file!);
    expect(st.mode & 0o777).toBe(0o600);
    expect((await stat(q)).mode & 0o777).toBe(0o700);
    const kept = await readFile(r.file!, 'latin1');
    expect(kept).toContain('X-Virus-Status: Infected (Eicar-Test-Signature)');
  });

  it('scanner error: exit 75 (EX_TEMPFAIL) and the command is not run', async () => {
    const { cmd, out } = await recorder('err', 0);
    const r = await deliverMessage(clean, opts({ scanners: [broken], command: cmd }));
    expect(r.verdict.status).toBe('error');
    expect(r.exitCode).toBe(EX_TEMPFAIL);
    expect(r.fate).toBe('tempfailed');
    expect(r.message).toMatch(/^tempfail: CONNECT_FAILED: /);
    await expect(stat(out)).rejects.toThrow();
  });

  it('scanner error with onFail accept: delivered with X-Virus-Status: Unchecked', async () => {
    const md = join(dir, 'Maildir-unchecked');
    const r = await deliverMessage(clean, opts({ scanners: [broken], maildir: md, onFail: 'accept' }));
    expect(r.exitCode).toBe(0);
    expect(r.action).toBe('delivered-unchecked');
    expect(await readFile(r.file!, 'latin1')).toContain('X-Virus-Status: Unchecked (CONNECT_FAILED)');
  });

  it("the command's own exit code is passed back: 75 stays 75, 67 stays 67", async () => {
    const t = await recorder('t75', 75);
    const r = await deliverMessage(clean, opts({ command: t.cmd }));
    expect(r.exitCode).toBe(75);
    expect(r.fate).toBe('tempfailed');
    expect(r.command?.stderr).toContain('delivery agent says hi');
    const u = await recorder('t67', 67);
    const r2 = await deliverMessage(clean, opts({ command: u.cmd }));
    expect(r2.exitCode).toBe(67);
    expect(r2.fate).toBe('rejected');
  });

  it('a delivery command that cannot start or is killed tempfails (75)', async () => {
    const r = await deliverMessage(clean, opts({ command: [join(dir, 'no-such-lda')] }));
    expect(r.exitCode).toBe(75);
    expect(r.message).toMatch(/^tempfail: NOT_AVAILABLE/);
    const hang = join(dir, 'hang.sh');
    await writeFile(hang, '#!/bin/sh\nexec sleep 30\n', { mode: 0o700 });
    const r2 = await deliverMessage(clean, opts({ command: [hang], commandTimeoutMs: 300 }));
    expect(r2.exitCode).toBe(75);
    expect(r2.message).toMatch(/^tempfail: TIMEOUT/);
  });

  it('a delivery command that writes more than 16 MiB of output still delivers by its exit code (output cut, not killed)', async () => {
    const chatty = join(dir, 'chatty.sh');
    const done = join(dir, 'chatty.done');
    await writeFile(chatty, `#!/bin/sh\ncat > /dev/null\nhead -c 17000000 /dev/zero\nhead -c 17000000 /dev/zero >&2\ntouch "${done}"\nexit 0\n`, { mode: 0o700 });
    const r = await deliverMessage(clean, opts({ command: [chatty] }));
    expect([r.exitCode, r.action]).toEqual([0, 'delivered']);
    expect([r.command?.stdout.length, r.command?.stderr.length]).toEqual([16 * 1024 * 1024, 16 * 1024 * 1024]);
    await stat(done); // it ran to its end
  });

  it('Maildir delivery: tmp/ then new/, unique private names, content intact', async () => {
    const md = join(dir, 'Maildir');
    const a = await deliverMessage(clean, opts({ maildir: md }));
    const b = await deliverMessage(clean, opts({ maildir: md }));
    expect(a.exitCode).toBe(0);
    expect(a.file).not.toBe(b.file);
    expect(await readdir(join(md, 'tmp'))).toEqual([]);
    expect((await readdir(join(md, 'new'))).sort()).toEqual([a.file!, b.file!].map((f) => f.split('/').pop()!).sort());
    expect((await stat(a.file!)).mode & 0o777).toBe(0o600);
    const got = await readFile(a.file!);
    expect(splitHeaderBody(got).body.equals(splitHeaderBody(clean).body)).toBe(true);
  });

  it('an unwritable Maildir tempfails instead of losing the message', async () => {
    const md = join(dir, 'ro');
    await writeFile(md, 'not a folder');
    const r = await deliverMessage(clean, opts({ maildir: md }));
    expect(r.exitCode).toBe(75);
    expect(r.message).toMatch(/^tempfail: IO: /);
    await chmod(md, 0o600);
  });

  it('bad options throw (configuration errors)', async () => {
    await expect(deliverMessage(clean, opts({}))).rejects.toThrow(/command or a Maildir/);
    await expect(deliverMessage(clean, opts({ maildir: dir, onInfected: 'quarantine' }))).rejects.toThrow(/quarantine folder/);
  });
});

describe('addHeaders', () => {
  it('drops forged X-Virus-Status / X-Virus-Scanned (with continuations) from the top-level header only', () => {
    const msg = Buffer.from('From: a@b\nX-Virus-Status: Clean\n  forged\nX-Virus-Scanned: by nobody\nSubject: s\n\nX-Virus-Status: body text stays\n');
    const out = addHeaders(msg, ['X-Virus-Status: Infected (Foo)']).toString();
    expect(out).toBe('X-Virus-Status: Infected (Foo)\nFrom: a@b\nSubject: s\n\nX-Virus-Status: body text stays\n');
  });

  it('keeps an mbox From_ line first and uses the message line ending', () => {
    const out = addHeaders(Buffer.from('From a@b Mon Jan  1 00:00:00 2024\r\nSubject: s\r\n\r\nbody\r\n'), ['X-A: 1']).toString();
    expect(out).toBe('From a@b Mon Jan  1 00:00:00 2024\r\nX-A: 1\r\nSubject: s\r\n\r\nbody\r\n');
  });
});
