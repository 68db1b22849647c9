import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCorpus } from '../../src/corpus/generate.js';
import { indexMbox, unescapeFrom } from '../../src/corpus/mbox.js';
import { openCorpus, type CorpusEntry } from '../../src/corpus/read.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'avbench-read-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function collect(it: AsyncIterable<CorpusEntry>): Promise<Array<{ e: CorpusEntry; data: Buffer }>> {
  const out: Array<{ e: CorpusEntry; data: Buffer }> = [];
  for await (const e of it) out.push({ e, data: await e.read() });
  return out;
}

/** An mboxrd writer (the test's own, to check the reader against). */
function mboxrd(messages: readonly string[], eol = '\n'): string {
  return messages
    .map((m, i) => `From sender${i}@example.com Mon Jan  1 00:00:0${i % 10} 2024${eol}${m.replace(/^(>*From )/gm, '>$1')}${m.endsWith(eol) ? '' : eol}${eol}`)
    .join('');
}

describe('openCorpus', () => {
  it('a generated folder: labels from the manifest, bytes of every file, streamed in manifest order', async () => {
    const dir = join(root, 'gen');
    const r = await generateCorpus({ out: dir, seed: 3 });
    const { info, entries } = await openCorpus(dir);
    expect(info.kind).toBe('folder');
    expect(info.messages).toBe(r.messages);
    expect(info.bytes).toBe(r.bytes);
    expect(info.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(info.manifest).toHaveLength(r.messages);
    const got = await collect(entries);
    expect(got).toHaveLength(r.messages);
    for (const [i, { e, data }] of got.entries()) {
      const m = info.manifest?.[i];
      expect(e.file).toBe(join(dir, m?.file ?? ''));
      expect(e.expected).toBe(m?.expected);
      expect(e.category).toBe(m?.category);
      expect(e.malformed).toBe(m?.malformed);
      expect(e.manifestEntry).toEqual(m);
      expect(data.equals(await readFile(e.file))).toBe(true);
    }
  });

  it('a folder without manifest: every non-hidden regular file, recursively, sorted, unlabelled', async () => {
    const dir = join(root, 'plain');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'b.eml'), 'Subject: b\r\n\r\nb\r\n');
    await writeFile(join(dir, 'a.eml'), 'Subject: a\r\n\r\na\r\n');
    await writeFile(join(dir, 'sub', 'c.msg'), 'Subject: c\r\n\r\nc\r\n');
    await writeFile(join(dir, '.hidden'), 'x');
    const { info, entries } = await openCorpus(dir);
    expect(info).toEqual({ path: dir, kind: 'folder', messages: 3, bytes: 51 });
    const got = await collect(entries);
    expect(got.map((g) => g.e.file)).toEqual([join(dir, 'a.eml'), join(dir, 'b.eml'), join(dir, 'sub', 'c.msg')]);
    expect(got.map((g) => g.data.toString())).toEqual(['Subject: a\r\n\r\na\r\n', 'Subject: b\r\n\r\nb\r\n', 'Subject: c\r\n\r\nc\r\n']);
    expect(got.every((g) => g.e.expected === undefined && g.e.category === undefined)).toBe(true);
  });

  it('a single .eml file (also an empty one)', async () => {
    const f = join(root, 'one.eml');
    await writeFile(f, 'Subject: one\r\n\r\nbody\r\n');
    const { info, entries } = await openCorpus(f);
    expect(info).toEqual({ path: f, kind: 'file', messages: 1, bytes: 22 });
    expect((await collect(entries)).map((g) => [g.e.file, g.data.toString()])).toEqual([[f, 'Subject: one\r\n\r\nbody\r\n']]);
    const empty = join(root, 'empty.eml');
    await writeFile(empty, '');
    const o = await openCorpus(empty);
    expect(o.info.kind).toBe('file');
    expect((await collect(o.entries))[0]?.data.length).toBe(0);
  });

  it('an mbox: split on From lines after a blank line, >From un-escaped, unescaped From mid-paragraph kept', async () => {
    const msgs = [
      'Subject: first\n\nhello\n>From here on, quoted\nFrom within a paragraph is not a separator\n',
      'Subject: second\n\nFrom the start of a paragraph\n\n>>From twice quoted\n',
      'Subject: third\n\nlast one',
    ];
    const box = join(root, 'box.mbox');
    await writeFile(box, mboxrd(msgs));
    const { info, entries } = await openCorpus(box);
    expect(info.kind).toBe('mbox');
    expect(info.messages).toBe(3);
    const got = await collect(entries);
    expect(got.map((g) => g.e.file)).toEqual([`${box}#1`, `${box}#2`, `${box}#3`]);
    expect(got.map((g) => g.data.toString())).toEqual([msgs[0], msgs[1], `${msgs[2]}\n`]);
    expect(got[0]?.data.toString()).toContain('\n>From here on'); // was >>From in the file
  });

  it('an mbox with CRLF lines and no trailing blank line', async () => {
    const box = join(root, 'crlf.mbox');
    await writeFile(box, 'From a@b Mon Jan  1 00:00:00 2024\r\nSubject: x\r\n\r\nbody\r\n\r\nFrom c@d Mon Jan  1 00:00:00 2024\r\nSubject: y\r\n\r\ntail\r\n');
    const got = await collect((await openCorpus(box)).entries);
    expect(got.map((g) => g.data.toString())).toEqual(['Subject: x\r\n\r\nbody\r\n', 'Subject: y\r\n\r\ntail\r\n']);
  });

  it('an mbox whose separators straddle the read-chunk boundary', async () => {
    const chunk = 256 * 1024;
    const msgs: string[] = [];
    // first message sized so the next "From " line is cut at every offset around the chunk end
    for (let shift = 0; shift < 8; shift++) msgs.push(`Subject: m${shift}\n\n${'x'.repeat(chunk - 60 + shift * 3)}\n`);
    const box = join(root, 'big.mbox');
    await writeFile(box, mboxrd(msgs));
    const got = await collect((await openCorpus(box)).entries);
    expect(got.map((g) => g.data.toString())).toEqual(msgs);
  });

  it('mbox round trip holds for arbitrary bodies (property)', async () => {
    const line = fc.oneof(fc.constantFrom('From x', '>From y', '>>From z', '', 'From', ' From q', 'text'), fc.string({ maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, '')));
    const message = fc.array(line, { maxLength: 8 }).map((ls) => `Subject: p\n\n${ls.join('\n')}\n`);
    const box = join(root, 'prop.mbox');
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 5 }), async (msgs) => {
        await writeFile(box, mboxrd(msgs));
        const got = await collect((await openCorpus(box)).entries);
        expect(got.map((g) => g.data.toString())).toEqual(msgs);
      }),
      { numRuns: 60, seed: 42 },
    );
  });

  it('indexMbox and unescapeFrom on their own', async () => {
    const box = join(root, 'idx.mbox');
    await writeFile(box, 'From a\nA\n\nFrom b\nB\n');
    expect(await indexMbox(box)).toEqual([{ start: 7, end: 9 }, { start: 17, end: 19 }]);
    expect(unescapeFrom(Buffer.from('>From a\n>>From b\nx >From c\n')).toString()).toBe('From a\n>From b\nx >From c\n');
  });

  it('a Maildir: cur/ and new/, sorted, tmp/ and dotfiles ignored', async () => {
    const md = join(root, 'Maildir');
    for (const d of ['cur', 'new', 'tmp']) await mkdir(join(md, d), { recursive: true });
    await writeFile(join(md, 'cur', '1700000002.M2.host:2,S'), 'Subject: two\r\n\r\n2\r\n');
    await writeFile(join(md, 'cur', '1700000001.M1.host:2,S'), 'Subject: one\r\n\r\n1\r\n');
    await writeFile(join(md, 'new', '1700000003.M3.host'), 'Subject: three\r\n\r\n3\r\n');
    await writeFile(join(md, 'tmp', '1700000004.M4.host'), 'partial');
    await writeFile(join(md, 'cur', '.junk'), 'x');
    const { info, entries } = await openCorpus(md);
    expect(info.kind).toBe('maildir');
    expect(info.messages).toBe(3);
    const got = await collect(entries);
    expect(got.map((g) => g.e.file)).toEqual([join(md, 'cur', '1700000001.M1.host:2,S'), join(md, 'cur', '1700000002.M2.host:2,S'), join(md, 'new', '1700000003.M3.host')]);
    expect(got.map((g) => g.data.toString().split('\r\n')[0])).toEqual(['Subject: one', 'Subject: two', 'Subject: three']);
    expect(info.bytes).toBe(got.reduce((s, g) => s + g.data.length, 0));
  });

  it('a path that does not exist is a clear error', async () => {
    await expect(openCorpus(join(root, 'nope'))).rejects.toThrow(/nope: cannot open corpus/);
  });
});
