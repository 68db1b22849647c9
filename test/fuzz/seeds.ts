/**
 * Seeds and mutations for the fuzz tests: well-formed messages and containers built at run
 * time (fflate zip, tar-stream tar, node:zlib gzip), and a fast-check arbitrary that damages
 * them the ways hostile or broken mail does — flipped bytes, cut short, spliced, boundary
 * and header lines inserted, ranges repeated.
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { zipSync } from 'fflate';
import tarStream from 'tar-stream';
import { eicar } from '../../src/lab/signatures.js';
import type { ErrorCode } from '../../src/core/types.js';

/** The stable error codes (src/core/types.ts ErrorCode): a verdict's code must be one of them. */
export const STABLE_CODES: readonly ErrorCode[] = [
  'NOT_AVAILABLE', 'CONNECT_FAILED', 'TIMEOUT', 'SCANNER_EXIT', 'PROTOCOL', 'SIZE_LIMIT', 'LIMIT_EXCEEDED', 'UNPARSEABLE', 'ABORTED', 'IO', 'INTERNAL',
];

/** How many fuzz cases in total (AVBENCH_FUZZ_RUNS; 2,000 in the regular suite, 100,000 in test:faults). */
export function fuzzRuns(): number {
  const n = Number(process.env['AVBENCH_FUZZ_RUNS'] ?? 2_000);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`AVBENCH_FUZZ_RUNS must be a positive integer, got ${process.env['AVBENCH_FUZZ_RUNS']}`);
  return n;
}

const MTIME = new Date('2024-01-02T03:04:05Z');

function b64(data: Buffer, nl = '\r\n'): string {
  return data.toString('base64').replace(/.{1,76}/g, (l) => l + nl);
}

/** A multipart message with the given attachments (base64). */
export function withAttachments(files: Array<{ name: string; data: Buffer; type?: string }>, nl = '\r\n'): Buffer {
  const parts = files
    .map(
      (f) =>
        `--BND${nl}Content-Type: ${f.type ?? 'application/octet-stream'}; name="${f.name}"${nl}Content-Disposition: attachment; filename="${f.name}"${nl}` +
        `Content-Transfer-Encoding: base64${nl}${nl}${b64(f.data, nl)}`,
    )
    .join('');
  return Buffer.from(
    `From: a@example.org${nl}To: b@example.net${nl}Subject: files${nl}MIME-Version: 1.0${nl}Content-Type: multipart/mixed; boundary="BND"${nl}${nl}` +
      `--BND${nl}Content-Type: text/plain; charset=utf-8${nl}${nl}see attached${nl}${parts}--BND--${nl}`,
    'latin1',
  );
}

/** A tar with the given files. */
export async function tarOf(files: Record<string, Buffer>): Promise<Buffer> {
  const pack = tarStream.pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) out.push(Buffer.from(chunk as Uint8Array));
  })();
  for (const [name, data] of Object.entries(files)) {
    await new Promise<void>((resolve, reject) => pack.entry({ name, mtime: MTIME, mode: 0o644 }, data, (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(out);
}

export function zipOf(files: Record<string, Buffer>, level: 0 | 6 = 6): Buffer {
  const input: Record<string, [Uint8Array, { level: 0 | 6; mtime: Date }]> = {};
  for (const [k, v] of Object.entries(files)) input[k] = [new Uint8Array(v), { level, mtime: MTIME }];
  return Buffer.from(zipSync(input, { level, mtime: MTIME }));
}

/** Well-formed messages covering the walker's paths (multipart, nesting, encodings, uuencode, RFC 2231 names). */
export async function messageSeeds(): Promise<Buffer[]> {
  const ev = eicar();
  const text = Buffer.from('The quick brown fox jumps over the lazy dog.\r\n'.repeat(20));
  const inner = withAttachments([{ name: 'inner.com', data: ev }]);
  return [
    Buffer.from('From: a@example.org\r\nTo: b@example.net\r\nSubject: plain\r\n\r\nHello.\r\n.dot line\r\n'),
    Buffer.from('Subject: lf only\nContent-Type: text/plain\n\nline one\nline two\n'),
    withAttachments([{ name: 'eicar.com', data: ev }]),
    withAttachments([{ name: 'a.zip', data: zipOf({ 'docs/eicar.com': ev, 'readme.txt': text }) }, { name: 'b.txt', data: text }]),
    withAttachments([{ name: 'stored.zip', data: zipOf({ 'x/y/eicar.com': ev }, 0) }]),
    withAttachments([{ name: 'c.tar', data: await tarOf({ 'eicar.com': ev, 'fox.txt': text }) }]),
    withAttachments([{ name: 'd.tar.gz', data: gzipSync(await tarOf({ 'dir/eicar.com': ev })) }]),
    withAttachments([{ name: 'e.gz', data: gzipSync(ev) }]),
    withAttachments([{ name: 'nested.zip', data: zipOf({ 'inner.zip': zipOf({ 'eicar.com': ev }) }) }]),
    Buffer.from(
      'Subject: fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="o"\r\n\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n' +
        inner.toString('latin1') +
        '\r\n--o\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak =3D done\r\n--o--\r\n',
      'latin1',
    ),
    Buffer.from(`Subject: uu\r\n\r\nbegin 644 eicar.com\r\n${uuencode(ev)}\`\r\nend\r\n`, 'latin1'),
    Buffer.from(
      "Subject: =?UTF-8?B?w6nDqQ==?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\nContent-Type: application/pdf;\r\n name*0*=UTF-8''%E2%82%AC;\r\n name*1=\"rest.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
        b64(text) +
        '--alt--\r\n',
      'latin1',
    ),
  ];
}

/** Containers (raw bytes) for the expansion fuzzing. */
export async function containerSeeds(): Promise<Buffer[]> {
  const ev = eicar();
  const text = Buffer.from('lorem ipsum dolor sit amet '.repeat(40));
  return [
    zipOf({ 'eicar.com': ev, 'a/b/c.txt': text }),
    zipOf({ 'eicar.com': ev }, 0),
    zipOf({ 'in.zip': zipOf({ 'in2.zip': zipOf({ 'eicar.com': ev }) }) }),
    await tarOf({ 'eicar.com': ev, 'x.txt': text }),
    gzipSync(await tarOf({ 'eicar.com': ev })),
    gzipSync(text),
    gzipSync(zipOf({ 'e.com': ev })),
  ];
}

function uuencode(data: Buffer): string {
  const lines: string[] = [];
  const enc = (n: number): string => String.fromCharCode(n === 0 ? 0x60 : n + 0x20);
  for (let i = 0; i < data.length; i += 45) {
    const chunk = data.subarray(i, i + 45);
    let line = enc(chunk.length);
    for (let j = 0; j < chunk.length; j += 3) {
      const a = chunk[j] ?? 0;
      const b = chunk[j + 1] ?? 0;
      const c = chunk[j + 2] ?? 0;
      line += enc(a >> 2) + enc(((a & 3) << 4) | (b >> 4)) + enc(((b & 15) << 2) | (c >> 6)) + enc(c & 63);
    }
    lines.push(line);
  }
  return lines.join('\r\n') + '\r\n';
}

/** One damage done to a buffer; positions are fractions of its length. */
export type Mutation =
  | { op: 'flip'; at: number; xor: number }
  | { op: 'set'; at: number; byte: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; len: number }
  | { op: 'truncate'; at: number }
  | { op: 'repeat'; at: number; len: number; times: number }
  | { op: 'line'; at: number; text: string };

const pos = fc.double({ min: 0, max: 1, noNaN: true });
const hostileLines = [
  '--BND', '--BND--', '--o', '--alt--', 'Content-Type: multipart/mixed; boundary=""', 'Content-Type: multipart/mixed; boundary="BND"',
  'Content-Transfer-Encoding: base64', 'Content-Transfer-Encoding: quoted-printable', 'Content-Type: message/rfc822', 'begin 644 x.com',
  'end', `Content-Disposition: attachment; filename*0*=utf-8''%ff%fe; filename*1="../x"`, '=?utf-8?B?////?=', ' folded continuation',
  'X: ' + '\0'.repeat(8), '', '.', '=', '==', '=\r', '\t',
];

/** Arbitrary list of mutations (1..8). */
export const mutationsArb: fc.Arbitrary<Mutation[]> = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at: pos, xor: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ op: fc.constant('set' as const), at: pos, byte: fc.constantFrom(0x00, 0x0a, 0x0d, 0x2d, 0x3d, 0x22, 0x3b, 0x80, 0xff) }),
    fc.record({ op: fc.constant('insert' as const), at: pos, bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
    fc.record({ op: fc.constant('delete' as const), at: pos, len: fc.integer({ min: 1, max: 512 }) }),
    fc.record({ op: fc.constant('truncate' as const), at: pos }),
    fc.record({ op: fc.constant('repeat' as const), at: pos, len: fc.integer({ min: 1, max: 200 }), times: fc.integer({ min: 2, max: 50 }) }),
    fc.record({ op: fc.constant('line' as const), at: pos, text: fc.constantFrom(...hostileLines) }),
  ),
  { minLength: 1, maxLength: 8 },
);

/** Apply mutations in order. */
export function mutate(input: Buffer, muts: readonly Mutation[]): Buffer {
  let b = input;
  for (const m of muts) {
    const at = Math.min(b.length, Math.floor(m.at * b.length));
    switch (m.op) {
      case 'flip':
        if (b.length > 0) {
          b = Buffer.from(b);
          const i = Math.min(at, b.length - 1);
          b[i] = (b[i] as number) ^ m.xor;
        }
        break;
      case 'set':
        if (b.length > 0) {
          b = Buffer.from(b);
          b[Math.min(at, b.length - 1)] = m.byte;
        }
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'repeat': {
        const piece = b.subarray(at, at + m.len);
        b = Buffer.concat([b.subarray(0, at), ...Array.from({ length: m.times }, () => piece), b.subarray(at)]);
        break;
      }
      case 'line': {
        // At the start of the line that holds `at`.
        const ls = b.lastIndexOf(0x0a, Math.max(0, at - 1)) + 1;
        b = Buffer.concat([b.subarray(0, ls), Buffer.from(`${m.text}\r\n`, 'latin1'), b.subarray(ls)]);
        break;
      }
    }
  }
  return b;
}

/**
 * Containers of the formats added in issue 16, each holding EICAR: 7z, bzip2, xz, zip with
 * the bzip2 / deflate64 methods (made by 7-Zip), cpio, BinHex, PDF, RTF, TNEF, SIS, HTML,
 * a mail message as a plain attachment, a PE with a zip appended — plus ClamAV's own test
 * files for the formats we cannot write (CAB, ARJ, CHM, OLE2, PowerPoint, SZDD, NSIS), when
 * Debian's clamav-testfiles is installed (those hold clam.exe, not EICAR).
 */
export async function formatSeeds(): Promise<{ name: string; data: Buffer }[]> {
  const f = await import('../core/containers/format-fixtures.js');
  const { existsSync, readFileSync } = await import('node:fs');
  const ev = eicar();
  const seeds: { name: string; data: Buffer }[] = [
    { name: 'e.7z', data: await f.sevenZipArchive('7z', { 'eicar.com': ev }) },
    { name: 'e.bz2', data: await f.sevenZipArchive('bzip2', { 'eicar.com': ev }) },
    { name: 'e.xz', data: await f.sevenZipArchive('xz', { 'eicar.com': ev }) },
    { name: 'bz.zip', data: await f.sevenZipArchive('zip', { 'eicar.com': ev }, ['-mm=BZip2']) },
    { name: 'd64.zip', data: await f.sevenZipArchive('zip', { 'eicar.com': ev }, ['-mm=Deflate64']) },
    { name: 'e.cpio', data: f.cpioNewc({ 'eicar.com': ev }) },
    { name: 'e.hqx', data: f.binhex('eicar.com', ev) },
    { name: 'e.pdf', data: f.pdfWith(ev) },
    { name: 'e.rtf', data: f.rtfWith('eicar.com', ev) },
    { name: 'winmail.dat', data: f.tnefWith('eicar.com', ev) },
    { name: 'e.sis', data: f.sisWith(ev) },
    { name: 'e.html', data: f.htmlWith(ev) },
    { name: 'saved.eml', data: f.emlWith('eicar.com', ev) },
    { name: 'setup.exe', data: f.peWithOverlay(zipOf({ 'eicar.com': ev })) },
  ];
  const dir = '/usr/share/clamav-testfiles';
  for (const name of ['clam.cab', 'clam.arj', 'clam.chm', 'clam.ole.doc', 'clam.ppt', 'clam.exe.szdd', 'clam-nsis.exe', 'clam.bin-le.cpio']) {
    if (existsSync(`${dir}/${name}`)) seeds.push({ name, data: readFileSync(`${dir}/${name}`) });
  }
  return seeds;
}
