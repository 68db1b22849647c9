/**
 * The embedded scanner and real ClamAV agree, file by file, on one set of signatures
 * (every .ndb form we support, offsets, .hdb/.hsb hashes) and one set of files (each
 * signature's instance and a near miss of it).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describeReal } from '../../helpers/real.js';
import { run } from '../../../src/core/exec.js';
import { createEmbeddedAdapter, signatureDbFromText } from '../../../adapters/embedded.js';

const h = (hex: string): Buffer => Buffer.from(hex.replace(/\s/g, ''), 'hex');
/** Binary filler that ClamAV classifies as plain data (no magic it would parse). */
const fill = (n: number, b = 0x00): Buffer => Buffer.alloc(n, b);
const head = h('0001');

const NDB = [
  'X.Plain:0:*:0a1b2c3d4e5f6071',
  'X.Any:0:*:1a1b1c1d??1e1f1011',
  'X.Nib:0:*:2a2b2c2d4?2e2f',
  'X.NibLow:0:*:2a2b2c2d?72e2f',
  'X.Star:0:*:3a3b3c3d*3e3f3031',
  'X.Gap:0:*:4a4b4c4d{4}4e4f4041',
  'X.Range:0:*:5a5b5c5d{2-5}5e5f5051',
  'X.UpTo:0:*:6a6b6c6d{-3}6e6f6061',
  'X.AtLeast:0:*:7a7b7c7d{6-}7e7f7071',
  'X.Alt:0:*:8a8b8c8d(11|22|33)8e8f',
  'X.AltMulti:0:*:9a9b9c9d(1122|3344)9e9f',
  'X.Neg:0:*:aaabacad!(11|22)aeaf',
  'X.Off0:0:0:bababbbc',
  'X.Off10:0:10:cacbcccd',
  'X.Shift:0:10,20:dadbdcdd',
  'X.Eof:0:EOF-6:eaebeced',
  'X.EofShift:0:EOF-12,4:fafbfcfd',
];

/** [file name, content]: each signature's instance and a near miss. */
function files(hashed: Buffer): [string, Buffer][] {
  const f = (...parts: Buffer[]): Buffer => Buffer.concat([head, ...parts]);
  return [
    ['plain-yes', f(fill(50, 0x41), h('0a1b2c3d4e5f6071'), fill(10))],
    ['plain-no', f(fill(50, 0x41), h('0a1b2c3d4e5f6070'), fill(10))],
    ['any-yes', f(fill(5), h('1a1b1c1d 99 1e1f1011'), fill(5))],
    ['any-no', f(fill(5), h('1a1b1c1d 99 99 1e1f1011'), fill(5))],
    ['nib-yes', f(fill(5), h('2a2b2c2d 4c 2e2f'), fill(5))],
    ['nib-no', f(fill(5), h('2a2b2c2d 5c 2e2f'), fill(5))],
    ['niblow-yes', f(fill(5), h('2a2b2c2d a7 2e2f'), fill(5))],
    ['star-yes', f(fill(5), h('3a3b3c3d'), fill(5000, 0x42), h('3e3f3031'), fill(5))],
    ['star-no', f(fill(5), h('3e3f3031'), fill(50, 0x42), h('3a3b3c3d'), fill(5))],
    ['gap-yes', f(fill(5), h('4a4b4c4d 01020304 4e4f4041'), fill(5))],
    ['gap-no', f(fill(5), h('4a4b4c4d 010203 4e4f4041'), fill(5))],
    ['range-yes', f(fill(5), h('5a5b5c5d 0102030405 5e5f5051'), fill(5))],
    ['range-no', f(fill(5), h('5a5b5c5d 010203040506 5e5f5051'), fill(5))],
    ['upto-yes', f(fill(5), h('6a6b6c6d 6e6f6061'), fill(5))],
    ['upto-no', f(fill(5), h('6a6b6c6d 01020304 6e6f6061'), fill(5))],
    ['atleast-yes', f(fill(5), h('7a7b7c7d'), fill(9, 0x43), h('7e7f7071'), fill(5))],
    ['atleast-no', f(fill(5), h('7a7b7c7d'), fill(5, 0x43), h('7e7f7071'), fill(5))],
    ['alt-yes', f(fill(5), h('8a8b8c8d 33 8e8f'), fill(5))],
    ['alt-no', f(fill(5), h('8a8b8c8d 44 8e8f'), fill(5))],
    ['altmulti-yes', f(fill(5), h('9a9b9c9d 3344 9e9f'), fill(5))],
    ['altmulti-no', f(fill(5), h('9a9b9c9d 3322 9e9f'), fill(5))],
    ['neg-yes', f(fill(5), h('aaabacad 33 aeaf'), fill(5))],
    ['neg-no', f(fill(5), h('aaabacad 22 aeaf'), fill(5))],
    ['off0-yes', Buffer.concat([h('bababbbc'), fill(20)])],
    ['off0-no', Buffer.concat([fill(1), h('bababbbc'), fill(20)])],
    ['off10-yes', Buffer.concat([fill(10), h('cacbcccd'), fill(20)])],
    ['off10-no', Buffer.concat([fill(11), h('cacbcccd'), fill(20)])],
    ['shift-yes', Buffer.concat([fill(25), h('dadbdcdd'), fill(20)])],
    ['shift-no', Buffer.concat([fill(31), h('dadbdcdd'), fill(20)])],
    ['eof-yes', f(fill(30), h('eaebeced'), fill(2))],
    ['eof-no', f(fill(30), h('eaebeced'), fill(3))],
    ['eofshift-yes', f(fill(30), h('fafbfcfd'), fill(6))],
    ['eofshift-no', f(fill(30), h('fafbfcfd'), fill(3))],
    ['many-yes', f(h('0a1b2c3d4e5f6071'), fill(7), h('8a8b8c8d 11 8e8f'), fill(30), h('eaebeced'), fill(2))],
    ['hash-yes', hashed],
    ['hash-no', Buffer.concat([hashed, fill(1)])],
    ['hashany-yes', Buffer.concat([head, Buffer.from('any size will do')])],
    ['clean', f(fill(4000, 0x61))],
  ];
}

await describeReal('embedded scanner agrees with clamscan', ['clamscan'], () => {
  let dir: string;
  const hashed = Buffer.concat([head, Buffer.from('a unit known by its hash')]);
  const md5 = createHash('md5').update(hashed).digest('hex');
  const sha256 = createHash('sha256').update(hashed).digest('hex');
  const sha1 = createHash('sha1').update(hashed).digest('hex');
  const other = createHash('md5').update(Buffer.concat([head, Buffer.from('any size will do')])).digest('hex');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-emb-clam-'));
    await mkdir(join(dir, 'db'), { mode: 0o700 });
    await mkdir(join(dir, 'files'), { mode: 0o700 });
    await writeFile(join(dir, 'db', 'x.ndb'), `${NDB.join('\n')}\n`, { mode: 0o600 });
    await writeFile(join(dir, 'db', 'x.hdb'), `${md5}:${hashed.length}:X.Md5\n${other}:*:X.Md5Any:73\n`, { mode: 0o600 });
    await writeFile(join(dir, 'db', 'x.hsb'), `${sha256}:${hashed.length}:X.Sha256\n${sha1}:*:X.Sha1Any:73\n`, { mode: 0o600 });
    for (const [name, data] of files(hashed)) await writeFile(join(dir, 'files', name), data, { mode: 0o600 });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the same signatures for every file', async () => {
    const list = files(hashed);
    const paths = list.map(([n]) => join(dir, 'files', n));
    const r = await run('clamscan', ['-d', join(dir, 'db'), '--no-summary', '--allmatch', '--stdout', ...paths], { deadline: Date.now() + 50_000 });
    if (!r.ok || (r.exitCode !== 0 && r.exitCode !== 1)) throw new Error(`clamscan failed: ${JSON.stringify(r)}`);
    const clam = new Map<string, Set<string>>(list.map(([n]) => [n, new Set()]));
    for (const line of r.stdout.split('\n')) {
      const m = /^(.*): (\S+) FOUND$/.exec(line);
      if (m !== null) clam.get(basename(m[1]!))!.add(m[2]!.replace(/\.UNOFFICIAL$/, ''));
    }
    const emb = createEmbeddedAdapter({ signatures: join(dir, 'db') });
    expect((await emb.probe()).signatures).toBe(`EICAR + ${NDB.length + 4} signatures from ${join(dir, 'db')} (0 lines rejected)`);
    const ours = new Map<string, Set<string>>();
    for (const [name, data] of list) {
      const v = await emb.scan({ kind: 'part', data, location: name }, { signal: new AbortController().signal, deadline: Date.now() + 10_000 });
      expect(v.status).not.toBe('error');
      ours.set(name, new Set(v.status === 'infected' ? v.detections.map((d) => d.name) : []));
    }
    const show = (m: Map<string, Set<string>>): Record<string, string[]> =>
      Object.fromEntries([...m].map(([k, s]) => [k, [...s].sort()]));
    expect(show(ours)).toEqual(show(clam));
    // and the files really exercise something: every *-yes file is infected, every *-no / clean file is not
    for (const [name] of list) expect(ours.get(name)!.size > 0).toBe(name.endsWith('-yes'));
  });

  it('agrees on random signatures (seeded) over random files, for every signature ClamAV accepts', async () => {
    // small alphabet so that wildcards, gaps and alternatives really get exercised
    const alphabet = [0x00, 0x01, 0x02, 0xfe];
    const bh = fc.constantFrom(...alphabet).map((b) => b.toString(16).padStart(2, '0'));
    const fixed = fc.array(bh, { minLength: 2, maxLength: 4 }).map((a) => a.join(''));
    const token = fc.oneof(
      fixed,
      fc.constant('??'),
      bh.map((x) => `${x[0]}?`),
      bh.map((x) => `?${x[1]}`),
      fc.array(bh, { minLength: 2, maxLength: 3 }).map((o) => `(${o.join('|')})`),
      fc.array(bh, { minLength: 2, maxLength: 2 }).map((o) => `!(${o.join('|')})`),
    );
    const gap = fc.oneof(
      fc.constant('*'),
      fc.integer({ min: 1, max: 3 }).map((n) => `{${n}}`),
      fc.integer({ min: 1, max: 3 }).map((n) => `{${n}-}`),
      fc.integer({ min: 1, max: 3 }).map((n) => `{-${n}}`),
      fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 })).map(([a, b]) => `{${a}-${a + b}}`),
    );
    const sig = fc
      .tuple(fixed, fc.array(fc.tuple(fc.option(gap, { nil: '' }), token), { maxLength: 3 }), fc.option(gap, { nil: '' }), fixed)
      .map(([f, r, g, l]) => f + r.map(([a, b]) => a + b).join('') + g + l);
    const off = fc.oneof(
      fc.constant('*'),
      fc.constant('*'),
      fc.nat(6).map(String),
      fc.tuple(fc.nat(6), fc.nat(10)).map(([a, b]) => `${a},${b}`),
      fc.integer({ min: 4, max: 12 }).map((n) => `EOF-${n}`),
    );
    const lines = fc.sample(fc.tuple(sig, off), { numRuns: 160, seed: 7 }).map(([s, o], i) => `R${i}:0:${o}:${s}`);
    const datas = fc
      .sample(fc.uint8Array({ minLength: 8, maxLength: 40 }), { numRuns: 120, seed: 8 })
      .map((a) => Buffer.concat([head, Buffer.from(a.map((x) => alphabet[x % 4]!))]));
    const rdir = join(dir, 'random');
    await mkdir(join(rdir, 'db'), { recursive: true, mode: 0o700 });
    await mkdir(join(rdir, 'f'), { mode: 0o700 });
    for (const [i, d] of datas.entries()) await writeFile(join(rdir, 'f', String(i)), d, { mode: 0o600 });
    // ClamAV refuses a whole database for one signature it dislikes (subpatterns shorter
    // than 2 static bytes, ...): drop the refused line and retry, counting them.
    let kept = [...lines];
    let refused = 0;
    let out = '';
    for (;;) {
      await writeFile(join(rdir, 'db', 'r.ndb'), `${kept.join('\n')}\n`, { mode: 0o600 });
      const r = await run('clamscan', ['-d', join(rdir, 'db'), '--no-summary', '--allmatch', '--stdout', '-r', join(rdir, 'f')], { deadline: Date.now() + 20_000 });
      if (!r.ok) throw new Error(`clamscan failed: ${r.message}`);
      if (r.exitCode !== 2) {
        out = r.stdout;
        break;
      }
      const m = /Problem parsing database at line (\d+)/.exec(r.stderr);
      if (m === null) throw new Error(`clamscan exit 2: ${r.stderr}`);
      kept = kept.filter((_, i) => i !== Number(m[1]) - 1);
      refused++;
    }
    const clam = new Map<number, Set<string>>(datas.map((_, i) => [i, new Set()]));
    for (const line of out.split('\n')) {
      const m = /\/(\d+): (\S+) FOUND$/.exec(line);
      if (m !== null) clam.get(Number(m[1]))!.add(m[2]!.replace(/\.UNOFFICIAL$/, ''));
    }
    const { db, report } = signatureDbFromText({ ndb: kept.join('\n') });
    expect(report.rejected).toEqual([]);
    let matches = 0;
    for (const [i, d] of datas.entries()) {
      expect([...new Set(db.body.matchSync(d))].sort(), `file ${i}: ${d.toString('hex')}`).toEqual([...clam.get(i)!].sort());
      matches += clam.get(i)!.size;
    }
    // the sample is not degenerate: many signatures kept, many matches compared
    expect(kept.length).toBeGreaterThan(50);
    expect(refused).toBeLessThan(lines.length);
    expect(matches).toBeGreaterThan(50);
  });
});
