/**
 * An attacker's names never become a path or a header: quarantine (our SMTP proxy and
 * `deliver`), Maildir delivery and defanging, fed attachment names holding `;`, `$()`,
 * backticks, newlines and `../`. Quarantine and Maildir files get generated names in the
 * configured folder (0600 files, 0700 folders); nothing appears anywhere else; defanged
 * names carry no line break or control character into the rewritten headers.
 */
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../adapters/index.js';
import { Budget, resolveLimits } from '../../src/core/limits.js';
import { parseHeaderBlock, splitHeaderBody } from '../../src/core/mime/headers.js';
import { walkMime } from '../../src/core/mime/walk.js';
import { eicar } from '../../src/lab/signatures.js';
import { defangMessage } from '../../src/modes/lda/defang.js';
import { deliverMessage } from '../../src/modes/lda/deliver.js';
import { createSmtpDriver, createSmtpProxy, createSmtpSink } from '../../src/modes/smtp/index.js';

const embedded = createEmbeddedAdapter();
let base: string;
let canary: string;

function hostileNames(ext: string): string[] {
  return [
    `a; touch ${canary}/semicolon #.${ext}`,
    `$(touch ${canary}/dollar).${ext}`,
    `\`touch ${canary}/backtick\`.${ext}`,
    `b\r\nX-Injected: yes\r\n\r\ntouch.${ext}`,
    `../../../../../../${canary.replace(/^\//, '')}/dotdot.${ext}`,
    `../../../../etc/cron.d/evil.${ext}`,
    `/etc/passwd.${ext}`,
    `-rf.${ext}`,
  ];
}

/** A multipart message with one attachment per name (RFC 2231 encoded, so CR/LF survive into the decoded name). */
function message(names: readonly string[], payload: Buffer): Buffer {
  const b64 = payload.toString('base64');
  const parts = names
    .map((n) => {
      const enc = encodeURIComponent(n).replace(/'/g, '%27');
      return `--H\r\nContent-Type: application/octet-stream; name*=utf-8''${enc}\r\nContent-Disposition: attachment; filename*=utf-8''${enc}\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n`;
    })
    .join('');
  return Buffer.from(`From: m@example.org\r\nTo: b@example.net\r\nSubject: names\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="H"\r\n\r\n${parts}--H--\r\n`, 'latin1');
}

/** Every path under `dir` (relative), recursively. */
async function tree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    out.push(prefix + e.name);
    if (e.isDirectory()) out.push(...(await tree(join(dir, e.name), `${prefix}${e.name}/`)));
  }
  return out.sort();
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'avbench-names-'));
  canary = join(base, 'canary');
  await mkdir(canary);
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('quarantine and delivery never derive a path from an attacker name', () => {
  it('SMTP proxy quarantine: one generated 0600 file in the 0700 folder, nothing else anywhere', async () => {
    const qdir = join(base, 'proxy-q');
    const sink = await createSmtpSink();
    const proxy = createSmtpProxy({ forward: { host: sink.host, port: sink.port }, scanners: [embedded], onInfected: 'quarantine', quarantineDir: qdir });
    const { port } = await proxy.listen();
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${port}`, sink, graceMs: 300 });
    await driver.open();
    const before = await tree(base);
    try {
      const out = await driver.send({ file: 'q.eml', raw: message(hostileNames('com'), eicar()) });
      expect(out).toMatchObject({ fate: 'dropped', verdict: 'infected' });
    } finally {
      await driver.close();
      await proxy.close();
      await sink.close();
    }
    const files = await readdir(qdir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^\d{17}-[0-9a-f]{16}\.eml$/);
    expect((await stat(join(qdir, files[0] as string))).mode & 0o777).toBe(0o600);
    expect((await stat(qdir)).mode & 0o777).toBe(0o700);
    expect(await tree(base)).toEqual([...before, 'proxy-q', `proxy-q/${files[0]}`].sort());
    expect(await readdir(canary)).toEqual([]);
  });

  it('deliver quarantine and Maildir delivery: generated names under the configured folders only', async () => {
    const qdir = join(base, 'lda-q');
    const maildir = join(base, 'Maildir');
    const before = await tree(base);
    const bad = await deliverMessage(message(hostileNames('com'), eicar()), {
      scanners: [embedded], maildir, onInfected: 'quarantine', quarantineDir: qdir, onFail: 'tempfail', fsync: false,
    });
    expect(bad).toMatchObject({ exitCode: 0, action: 'quarantined' });
    expect(bad.file?.startsWith(`${qdir}/`)).toBe(true);
    const good = await deliverMessage(message(hostileNames('exe'), Buffer.from('harmless bytes')), {
      scanners: [embedded], maildir, onInfected: 'quarantine', quarantineDir: qdir, onFail: 'tempfail', fsync: false, defang: true,
    });
    expect(good).toMatchObject({ exitCode: 0, action: 'delivered', fate: 'tagged' });
    expect(good.file?.startsWith(`${maildir}/new/`)).toBe(true);
    const q = await readdir(qdir);
    const n = await readdir(join(maildir, 'new'));
    const generated = /^\d+\.M\d+P\d+R[0-9a-f]{16}\.[A-Za-z0-9._\\-]+(\.eml)?$/;
    expect(q).toHaveLength(1);
    expect(q[0]).toMatch(generated);
    expect(n).toHaveLength(1);
    expect(n[0]).toMatch(generated);
    for (const f of [join(qdir, q[0] as string), join(maildir, 'new', n[0] as string)]) expect((await stat(f)).mode & 0o777).toBe(0o600);
    for (const d of [qdir, maildir, join(maildir, 'new'), join(maildir, 'tmp'), join(maildir, 'cur')]) expect((await stat(d)).mode & 0o777).toBe(0o700);
    const added = (await tree(base)).filter((p) => !before.includes(p));
    expect(added.sort()).toEqual(['Maildir', 'Maildir/cur', 'Maildir/new', `Maildir/new/${n[0]}`, 'Maildir/tmp', 'lda-q', `lda-q/${q[0]}`].sort());
    expect(await readdir(canary)).toEqual([]);
  });
});

describe('defang: hostile names are renamed as data, never injected into headers', () => {
  it('every .exe name defanged; no line break or control character reaches a header; same parts, same bodies', () => {
    const names = hostileNames('exe');
    const raw = message(names, Buffer.from('MZ fake executable'));
    const d = defangMessage(raw);
    expect(d.renamed.map((r) => r.from).filter((f, i, a) => a.indexOf(f) === i)).toHaveLength(names.length);
    for (const r of d.renamed) {
      expect(r.to).toMatch(/\.DEFANGED-EXE$/);
      expect(r.to).not.toMatch(/[\r\n\0]/);
    }
    const leaves = (buf: Buffer) => [...walkMime(buf, new Budget(resolveLimits({})))];
    const a = leaves(raw);
    const b = leaves(d.message);
    expect(b.length).toBe(a.length);
    expect(b.map((l) => Buffer.from(l.data).toString('base64'))).toEqual(a.map((l) => Buffer.from(l.data).toString('base64')));
    for (const l of b) {
      expect(l.filename ?? '').toMatch(/\.DEFANGED-EXE$/);
      expect(l.filename ?? '').not.toMatch(/[\r\n]/);
    }
    // No header was injected: the top-level header names are the same, and no part has an X-Injected field.
    const top = (buf: Buffer) => parseHeaderBlock(splitHeaderBody(buf).header).map((f) => f.name.toLowerCase());
    expect(top(d.message)).toEqual(top(raw));
    expect(d.message.toString('latin1')).not.toMatch(/^X-Injected:/im);
  });
});
