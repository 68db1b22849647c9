/**
 * The recipes of the generated corpus: one per category, each building one message from
 * a seeded Rng and its occurrence index `k` (which picks the structural variant, so every
 * variant appears as soon as a category has as many messages as variants).
 *
 * Labels follow one rule. `infected`: the 68 EICAR bytes (optionally followed by
 * whitespace, at most 128 bytes — the EICAR specification's form) are one whole decoded
 * part, uuencoded block or archive member; or a clamav-testfiles file is attached.
 * `clean`: the full 68-byte string appears in no decoded form anywhere. `any`: scanners
 * legitimately differ (the string inside a bigger file, malformed input).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeGzip, makeTar, makeZip, type Member } from './archive.js';
import { binhex, cabStored, cpioNewc, ole2With, pdfWith, rtfWith, sevenZipArchive, tnefWith } from './formats.js';
import * as c from './content.js';
import { eicar, eicarFragments } from './eicar.js';
import type { Expected } from './manifest.js';
import { base64Lines, crlf, encodedWord, leaf, multipart, quotedPrintable, render, rfc2231Param, uuencode, type Eol, type LeafNode, type MimeNode } from './mime.js';
import type { Rng } from './prng.js';

/** What a recipe hands back: the message bytes and report hints for the manifest. */
export interface Built {
  data: Buffer;
  description: string;
  variant: string;
  part?: string;
  encoding?: string;
}

/** What a recipe gets. */
export interface BuildContext {
  rng: Rng;
  /** Occurrence index of this message within its recipe (0-based). */
  k: number;
  /** How many messages this recipe makes in this profile. */
  count: number;
  /** Folder of clamav-testfiles and its sorted file names (empty when absent). */
  testfiles: { dir: string; files: Array<{ name: string; size: number }> };
}

/** One category of the corpus. */
export interface Recipe {
  category: string;
  expected: Expected;
  malformed: boolean;
  family?: 'eicar' | 'clamav-testfiles';
  /** Messages in the quick and full profiles. */
  quick: number;
  full: number;
  /** One-line summary for documentation and reports. */
  summary: string;
  build(ctx: BuildContext): Built | Promise<Built>;
}

// --- shared helpers -------------------------------------------------------------------

const E = eicar;
const MB = 1024 * 1024;

function boundary(rng: Rng): string {
  switch (rng.int(0, 3)) {
    case 0:
      return `----=_Part_${rng.int(1000, 99999)}_${rng.int(100000000, 999999999)}.${rng.int(1000000000, 1999999999)}`;
    case 1:
      return `=_${rng.hex(24)}`;
    case 2:
      return `Apple-Mail=_${rng.hex(8).toUpperCase()}-${rng.hex(4).toUpperCase()}-${rng.hex(4).toUpperCase()}-${rng.hex(12).toUpperCase()}`;
    default:
      return `------------${rng.chars(24, '0123456789')}`;
  }
}

interface EnvOptions {
  omit?: readonly string[];
  subject?: string;
  from?: string;
  to?: string;
}

/** Top-level headers of a realistic message. */
function envelope(rng: Rng, opts: EnvOptions = {}): Array<[string, string]> {
  const from = c.person(rng);
  const to = c.person(rng);
  const date = c.rfcDate(rng);
  const relay = c.person(rng).address.split('@')[1] ?? 'example.org';
  const headers: Array<[string, string]> = [
    ['Received', `from mail.${relay} (mail.${relay} [192.0.2.${rng.int(1, 254)}])\r\n\tby mx.${to.address.split('@')[1] ?? 'example.com'} with ESMTPS id ${rng.hex(10).toUpperCase()}\r\n\tfor <${to.address}>; ${date}`],
    ['From', opts.from ?? c.mailbox(from)],
    ['To', opts.to ?? c.mailbox(to)],
    ['Subject', opts.subject ?? c.subject(rng)],
    ['Date', date],
    ['Message-ID', c.messageId(rng, from)],
    ['MIME-Version', '1.0'],
  ];
  if (rng.chance(0.5)) headers.push(['User-Agent', c.userAgent(rng)]);
  const omit = new Set((opts.omit ?? []).map((h) => h.toLowerCase()));
  return headers.filter(([n]) => !omit.has(n.toLowerCase()));
}

/** Put top-level headers in front of a node's own headers. */
function top(rng: Rng, node: MimeNode, opts: EnvOptions = {}): MimeNode {
  return { ...node, headers: [...envelope(rng, opts), ...node.headers] } as MimeNode;
}

function text(rng: Rng, words?: string): LeafNode {
  const from = c.person(rng);
  return leaf('text/plain; charset="us-ascii"', '7bit', crlf(words ?? c.bodyText(rng, from)));
}

function html(rng: Rng): LeafNode {
  const from = c.person(rng);
  return leaf('text/html; charset="utf-8"', 'quoted-printable', quotedPrintable(crlf(c.htmlOf(c.bodyText(rng, from)))));
}

/** An attachment leaf with name=, filename= and an encoded body. */
function attachment(contentType: string, name: string, encoding: string | undefined, body: Buffer, disposition = 'attachment'): LeafNode {
  return leaf(`${contentType};\r\n name="${name}"`, encoding, body, [['Content-Disposition', `${disposition};\r\n filename="${name}"`]]);
}

function b64(contentType: string, name: string, data: Buffer): LeafNode {
  return attachment(contentType, name, 'base64', base64Lines(data));
}

/** EICAR, sometimes with trailing whitespace (still the spec's form: ≤128 bytes). */
function payload(rng: Rng): { data: Buffer; note: string } {
  const tails = ['', '', '\r\n', '\n', '   ', '\r\n\r\n'];
  const tail = rng.pick(tails);
  const note = tail === '' ? 'the 68 bytes' : `the 68 bytes + ${JSON.stringify(tail)}`;
  return { data: Buffer.concat([E(), Buffer.from(tail, 'latin1')]), note };
}

const EVIL_NAMES: ReadonlyArray<[string, string]> = [
  ['eicar.com', 'application/octet-stream'],
  ['eicar.txt', 'text/plain'],
  ['scan0012.pdf.com', 'application/octet-stream'],
  ['invoice_2024.exe', 'application/x-msdownload'],
  ['document.scr', 'application/octet-stream'],
  ['readme.txt', 'text/plain'],
  ['update.bat', 'application/x-bat'],
  ['photo.jpg.com', 'application/octet-stream'],
  ['Rechnung_0815.pdf.exe', 'application/x-msdownload'],
];

function evilName(rng: Rng): [string, string] {
  return rng.pick(EVIL_NAMES);
}

function memberName(rng: Rng): string {
  return rng.pick(['eicar.com', 'docs/eicar.com', 'invoice.pdf.exe', 'scan/scan0012.pdf.com', 'setup.exe', 'eicar_com.txt']);
}

function companion(rng: Rng): Member {
  return { name: rng.pick(['readme.txt', 'notes/agenda.txt', 'LICENSE', 'info.csv']), data: Buffer.from(c.bodyText(rng, c.person(rng))) };
}

function qpForce(rng: Rng): (b: number) => boolean {
  const p = rng.pick([0, 0.3, 1]);
  return (b) => !((b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122)) && rng.next() < p;
}

/** Build a mixed message: text body first, then the given parts (numbered 2, 3, ...). */
function mixed(rng: Rng, parts: MimeNode[], env: EnvOptions = {}, close = true): MimeNode {
  return top(rng, multipart('mixed', boundary(rng), [text(rng), ...parts], { close }), env);
}

function done(data: Buffer, variant: string, description: string, extra: { part?: string; encoding?: string } = {}): Built {
  const b: Built = { data, variant, description };
  if (extra.part !== undefined) b.part = extra.part;
  if (extra.encoding !== undefined) b.encoding = extra.encoding;
  return b;
}

/**
 * The name a gzip stream's content goes by in a `part` location: the file name without
 * ".gz", ".tgz" becoming ".tar" (the convention of src/core/containers/gzip.ts).
 */
function gunzipName(name: string): string {
  if (/\.tgz$/i.test(name)) return name.replace(/\.tgz$/i, '.tar');
  return name.replace(/\.gz$/i, '');
}

/** Size ladder for large messages: spread evenly over [lo, hi] MB, a little jitter. */
function ladder(ctx: BuildContext, lo: number, hi: number): number {
  const f = ctx.count <= 1 ? 0 : ctx.k / (ctx.count - 1);
  return Math.round((lo + (hi - lo) * f) * MB) + ctx.rng.int(0, 64 * 1024);
}

function mutate(rng: Rng, data: Buffer): Buffer {
  const out = Buffer.from(data);
  const i = rng.int(0, out.length - 1);
  let v = out[i] as number;
  while (v === out[i]) v = rng.int(33, 126);
  out[i] = v;
  return out;
}

// --- infected: EICAR in every encoding and structure -----------------------------------

function simpleEncoding(category: string, cte: string, contentType: (rng: Rng, ct: string) => string, quick: number, full: number): Recipe {
  return {
    category, expected: 'infected', malformed: false, family: 'eicar', quick, full,
    summary: `EICAR as an attachment with Content-Transfer-Encoding ${cte}`,
    build({ rng }) {
      const [name, ct] = evilName(rng);
      const p = payload(rng);
      const msg = mixed(rng, [attachment(contentType(rng, ct), name, cte, p.data)]);
      return done(render(msg), cte, `EICAR (${p.note}) as ${cte} attachment ${name}`, { part: `2:${name}`, encoding: cte });
    },
  };
}

const INFECTED: Recipe[] = [
  {
    category: 'base64', expected: 'infected', malformed: false, family: 'eicar', quick: 8, full: 80,
    summary: 'EICAR as a base64 attachment (wrapped at 76, or in one long line)',
    build({ rng, k }) {
      const [name, ct] = evilName(rng);
      const p = payload(rng);
      const width = k % 3 === 2 ? 1000 : 76;
      const body = base64Lines(p.data, width);
      const inline = k % 4 === 3;
      const msg = mixed(rng, [attachment(ct, name, 'base64', body, inline ? 'inline' : 'attachment')]);
      return done(render(msg), `${width === 76 ? 'wrapped' : 'one-line'}${inline ? '+inline' : ''}`, `EICAR (${p.note}) base64 attachment ${name}`, { part: `2:${name}`, encoding: 'base64' });
    },
  },
  {
    category: 'qp', expected: 'infected', malformed: false, family: 'eicar', quick: 5, full: 50,
    summary: 'EICAR as a quoted-printable attachment (some bytes =XX-escaped, soft line breaks)',
    build({ rng }) {
      const [name, ct] = evilName(rng);
      const p = payload(rng);
      const msg = mixed(rng, [attachment(ct, name, 'quoted-printable', quotedPrintable(p.data, qpForce(rng)))]);
      return done(render(msg), 'qp', `EICAR (${p.note}) quoted-printable attachment ${name}`, { part: `2:${name}`, encoding: 'quoted-printable' });
    },
  },
  simpleEncoding('7bit', '7bit', (_r, ct) => (ct.startsWith('text/') ? 'text/plain; charset=us-ascii' : ct), 3, 30),
  simpleEncoding('8bit', '8bit', (r) => r.pick(['text/plain; charset=iso-8859-1', 'application/octet-stream']), 3, 30),
  simpleEncoding('binary', 'binary', () => 'application/octet-stream', 3, 30),
  {
    category: 'uuencode', expected: 'infected', malformed: false, family: 'eicar', quick: 4, full: 40,
    summary: 'EICAR as a uuencoded block inside a text body',
    build({ rng, k }) {
      const name = rng.pick(['eicar.com', 'attach.exe', 'file.bin']);
      const from = c.person(rng);
      const bodyText = `${rng.pick(['Hi', 'Hello'])},\r\n\r\nthe file you asked for is below.\r\n\r\n${uuencode(E(), name)}\r\n${c.sentence(rng)}\r\n\r\n${from.name}\r\n`;
      if (k % 2 === 0) {
        const msg = top(rng, leaf('text/plain; charset=us-ascii', '7bit', Buffer.from(bodyText, 'latin1')), { from: c.mailbox(from) });
        return done(render(msg), 'single-part', `uuencoded EICAR block (${name}) in a single-part text body`, { part: `1:${name}`, encoding: 'uuencode' });
      }
      const msg = top(rng, multipart('mixed', boundary(rng), [leaf('text/plain; charset=us-ascii', '7bit', Buffer.from(bodyText, 'latin1')), b64('application/pdf', c.businessName(rng, 'pdf'), c.pdf(rng))]), { from: c.mailbox(from) });
      return done(render(msg), 'multipart', `uuencoded EICAR block (${name}) in the first text part`, { part: `1:${name}`, encoding: 'uuencode' });
    },
  },
  {
    category: 'encoding-case', expected: 'infected', malformed: false, family: 'eicar', quick: 5, full: 50,
    summary: 'EICAR attachment whose encoding, type or header names are in odd letter case',
    build({ rng, k }) {
      const [name, ct] = evilName(rng);
      const p = payload(rng);
      const v = k % 5;
      const cte = ['BASE64', 'Quoted-Printable', 'Base64', 'bAsE64', 'QUOTED-PRINTABLE'][v] as string;
      const body = cte.toLowerCase() === 'base64' ? base64Lines(p.data) : quotedPrintable(p.data, qpForce(rng));
      let part = attachment(v === 2 ? ct.toUpperCase() : ct, name, cte, body);
      if (v === 3) part = { ...part, headers: part.headers.map(([n, val]) => [n.toLowerCase(), val] as [string, string]) };
      const msg = mixed(rng, [part]);
      return done(render(msg), cte + (v === 2 ? '+upper-type' : v === 3 ? '+lower-header-names' : ''), `EICAR (${p.note}) with Content-Transfer-Encoding "${cte}"`, { part: `2:${name}`, encoding: cte });
    },
  },
  {
    category: 'filename', expected: 'infected', malformed: false, family: 'eicar', quick: 5, full: 50,
    summary: 'EICAR attachment named with RFC 2231 parameters or RFC 2047 encoded words',
    build({ rng, k }) {
      const p = payload(rng);
      const v = k % 5;
      const name = v === 0 ? 'eicar test file.com' : rng.pick(['Rechnung_März_2024.pdf.com', 'счёт-фактура.exe', 'résumé.com', '請求書.scr']);
      let ctParam: string;
      let dispParam: string;
      let variant: string;
      if (v === 0 || v === 1 || v === 4) {
        const pieces = v === 1 ? 3 : 1;
        ctParam = v === 4 ? `name="${encodedWord(name, 'B')}"` : rfc2231Param('name', name, pieces);
        dispParam = rfc2231Param('filename', name, pieces);
        variant = v === 1 ? 'rfc2231-continuations' : v === 4 ? 'rfc2231+encoded-word-name' : 'rfc2231';
      } else {
        const mode = v === 2 ? 'B' : 'Q';
        ctParam = `name="${encodedWord(name, mode)}"`;
        dispParam = `filename="${encodedWord(name, mode)}"`;
        variant = `encoded-word-${mode}`;
      }
      const part = leaf(`application/octet-stream;\r\n ${ctParam}`, 'base64', base64Lines(p.data), [['Content-Disposition', `attachment;\r\n ${dispParam}`]]);
      const msg = mixed(rng, [part]);
      return done(render(msg), variant, `EICAR (${p.note}) as attachment "${name}" named with ${variant}`, { part: `2:${name}`, encoding: 'base64' });
    },
  },
  {
    category: 'lf-only', expected: 'infected', malformed: false, family: 'eicar', quick: 3, full: 30,
    summary: 'EICAR attachment in a message with LF-only line endings',
    build({ rng, k }) {
      const [name, ct] = evilName(rng);
      const p = payload(rng);
      const qp = k % 3 === 2;
      const part = qp ? attachment(ct, name, 'quoted-printable', quotedPrintable(p.data, qpForce(rng))) : b64(ct, name, p.data);
      const eol: Eol = '\n';
      return done(render(mixed(rng, [part]), eol), qp ? 'qp' : 'base64', `EICAR (${p.note}) ${qp ? 'quoted-printable' : 'base64'} attachment ${name}, LF line endings`, { part: `2:${name}`, encoding: qp ? 'quoted-printable' : 'base64' });
    },
  },
  {
    category: 'unclosed-final', expected: 'infected', malformed: true, family: 'eicar', quick: 3, full: 30,
    summary: 'EICAR in the last part of a multipart whose closing boundary is missing',
    build({ rng, k }) {
      const [name, ct] = evilName(rng);
      const p = payload(rng);
      let data = render(mixed(rng, [b64(ct, name, p.data)], {}, false));
      if (k % 2 === 1) data = data.subarray(0, data.length - 2); // and no final line break
      return done(data, k % 2 === 1 ? 'no-final-newline' : 'unclosed', `EICAR (${p.note}) base64 attachment ${name}; the final boundary is never closed`, { part: `2:${name}`, encoding: 'base64' });
    },
  },
  {
    category: 'headers', expected: 'infected', malformed: false, family: 'eicar', quick: 4, full: 40,
    summary: 'EICAR attachment in a message missing Subject, Date, Message-ID (or From/To too)',
    build({ rng, k }) {
      const [name, ct] = evilName(rng);
      const p = payload(rng);
      const sets: ReadonlyArray<readonly string[]> = [['Subject', 'Date', 'Message-ID'], ['Subject'], ['From', 'To', 'Subject', 'Date', 'Message-ID', 'Received', 'User-Agent'], ['Date', 'Message-ID']];
      const omit = sets[k % sets.length] as readonly string[];
      const msg = mixed(rng, [b64(ct, name, p.data)], { omit });
      return done(render(msg), `no-${omit.join('-')}`, `EICAR (${p.note}) base64 attachment ${name}; no ${omit.join(', ')} header`, { part: `2:${name}`, encoding: 'base64' });
    },
  },
  {
    category: 'nested-multipart', expected: 'infected', malformed: false, family: 'eicar', quick: 3, full: 30,
    summary: 'EICAR three multipart levels deep',
    build({ rng, k }) {
      const [name, ct] = evilName(rng);
      const p = payload(rng);
      const evil = b64(ct, name, p.data);
      if (k % 2 === 0) {
        const alt = multipart('alternative', boundary(rng), [text(rng), html(rng)]);
        const inner = multipart('mixed', boundary(rng), [text(rng), evil]);
        const mid = multipart('mixed', boundary(rng), [text(rng), inner]);
        const msg = top(rng, multipart('mixed', boundary(rng), [alt, mid]));
        return done(render(msg), 'mixed>mixed>mixed', `EICAR (${p.note}) base64 at multipart depth 3`, { part: `2.2.2:${name}`, encoding: 'base64' });
      }
      const alt = multipart('alternative', boundary(rng), [text(rng), html(rng)]);
      const l2 = multipart('mixed', boundary(rng), [alt, evil]);
      const l1 = multipart('mixed', boundary(rng), [l2]);
      const msg = top(rng, multipart('mixed', boundary(rng), [l1]));
      return done(render(msg), 'mixed>mixed>mixed>alternative', `EICAR (${p.note}) base64 at multipart depth 3 beside an alternative`, { part: `1.1.2:${name}`, encoding: 'base64' });
    },
  },
  {
    category: 'rfc822', expected: 'infected', malformed: false, family: 'eicar', quick: 4, full: 40,
    summary: 'EICAR inside a forwarded message/rfc822 attachment (once or twice nested)',
    build({ rng, k }) {
      const [name, ct] = evilName(rng);
      const p = payload(rng);
      const twice = k % 2 === 1;
      const innermost = top(rng, multipart('mixed', boundary(rng), [text(rng), b64(ct, name, p.data)]));
      const wrap = (inner: MimeNode): MimeNode => ({ kind: 'message', headers: [['Content-Type', 'message/rfc822'], ['Content-Disposition', `${rng.pick(['attachment', 'inline'])}; filename="forwarded.eml"`]], inner });
      let carried: MimeNode = wrap(innermost);
      if (twice) carried = wrap(top(rng, multipart('mixed', boundary(rng), [text(rng), carried]), { subject: 'Fwd: look at this' }));
      const msg = top(rng, multipart('mixed', boundary(rng), [text(rng), carried]), { subject: twice ? 'Fwd: Fwd: look at this' : 'Fwd: look at this' });
      return done(render(msg), twice ? 'rfc822x2' : 'rfc822', `EICAR (${p.note}) in a forwarded message${twice ? ' forwarded again' : ''}`, { part: `${twice ? '2.2.2' : '2.2'}:${name}`, encoding: 'base64' });
    },
  },
  {
    category: 'zip', expected: 'infected', malformed: false, family: 'eicar', quick: 5, full: 50,
    summary: 'EICAR in a zip attachment, stored or deflated',
    build({ rng, k }) {
      const p = payload(rng);
      const level = k % 2 === 0 ? 0 : 6;
      const mname = memberName(rng);
      const members = rng.shuffle([{ name: mname, data: p.data }, companion(rng)]);
      const zname = rng.pick(['invoice_2024.zip', c.businessName(rng, 'zip'), 'documents.zip', 'scan.zip']);
      const msg = mixed(rng, [b64(rng.pick(['application/zip', 'application/x-zip-compressed', 'application/octet-stream']), zname, makeZip(members, level))]);
      return done(render(msg), level === 0 ? 'stored' : 'deflated', `EICAR (${p.note}) as ${mname} in ${level === 0 ? 'stored' : 'deflated'} zip ${zname}`, { part: `2:${zname} > ${mname}`, encoding: 'base64' });
    },
  },
  {
    category: 'zip-nested', expected: 'infected', malformed: false, family: 'eicar', quick: 4, full: 40,
    summary: 'EICAR in a zip inside a zip (2 or 3 levels)',
    build({ rng, k }) {
      const p = payload(rng);
      const levels = 2 + (k % 2);
      const mname = memberName(rng);
      let data = makeZip([{ name: mname, data: p.data }], k % 4 < 2 ? 6 : 0);
      const path = [mname];
      for (let i = 1; i < levels; i++) {
        const n = rng.pick(['inner.zip', 'archive.zip', 'files.zip', `part${i}.zip`]);
        data = makeZip(rng.shuffle([{ name: n, data }, companion(rng)]), 6);
        path.unshift(n);
      }
      const zname = c.businessName(rng, 'zip');
      const msg = mixed(rng, [b64('application/zip', zname, data)]);
      return done(render(msg), `${levels}-levels`, `EICAR (${p.note}) in zip nested ${levels} levels`, { part: `2:${[zname, ...path].join(' > ')}`, encoding: 'base64' });
    },
  },
  {
    category: 'gzip', expected: 'infected', malformed: false, family: 'eicar', quick: 3, full: 30,
    summary: 'EICAR gzip-compressed as an attachment',
    build({ rng }) {
      const p = payload(rng);
      const name = rng.pick(['eicar.com.gz', 'invoice.exe.gz', 'data.gz']);
      const msg = mixed(rng, [b64(rng.pick(['application/gzip', 'application/x-gzip']), name, makeGzip(p.data))]);
      return done(render(msg), 'gzip', `EICAR (${p.note}) gzipped as ${name}`, { part: `2:${name} > ${gunzipName(name)}`, encoding: 'base64' });
    },
  },
  {
    category: 'tar', expected: 'infected', malformed: false, family: 'eicar', quick: 3, full: 30,
    summary: 'EICAR in a tar attachment',
    async build({ rng }) {
      const p = payload(rng);
      const mname = memberName(rng);
      const name = rng.pick(['backup.tar', 'files.tar', c.businessName(rng, 'tar')]);
      const msg = mixed(rng, [b64('application/x-tar', name, await makeTar(rng.shuffle([{ name: mname, data: p.data }, companion(rng)])))]);
      return done(render(msg), 'tar', `EICAR (${p.note}) as ${mname} in tar ${name}`, { part: `2:${name} > ${mname}`, encoding: 'base64' });
    },
  },
  {
    category: 'targz', expected: 'infected', malformed: false, family: 'eicar', quick: 3, full: 30,
    summary: 'EICAR in a tar.gz attachment',
    async build({ rng }) {
      const p = payload(rng);
      const mname = memberName(rng);
      const name = rng.pick(['backup.tar.gz', 'logs.tgz', c.businessName(rng, 'tar.gz')]);
      const msg = mixed(rng, [b64('application/gzip', name, makeGzip(await makeTar(rng.shuffle([{ name: mname, data: p.data }, companion(rng)]))))]);
      return done(render(msg), 'tar.gz', `EICAR (${p.note}) as ${mname} in tar.gz ${name}`, { part: `2:${name} > ${gunzipName(name)} > ${mname}`, encoding: 'base64' });
    },
  },
  {
    category: 'targz-zip', expected: 'infected', malformed: false, family: 'eicar', quick: 3, full: 30,
    summary: 'EICAR in a zip inside a tar.gz attachment',
    async build({ rng, k }) {
      const p = payload(rng);
      const mname = memberName(rng);
      const zname = rng.pick(['inner.zip', 'files.zip', 'docs.zip']);
      const zip = makeZip([{ name: mname, data: p.data }], k % 2 === 0 ? 0 : 6);
      const name = rng.pick(['export.tar.gz', 'archive.tgz']);
      const msg = mixed(rng, [b64('application/gzip', name, makeGzip(await makeTar([companion(rng), { name: zname, data: zip }])))]);
      return done(render(msg), k % 2 === 0 ? 'stored-zip' : 'deflated-zip', `EICAR (${p.note}) in zip ${zname} inside ${name}`, { part: `2:${name} > ${gunzipName(name)} > ${zname} > ${mname}`, encoding: 'base64' });
    },
  },
  {
    category: 'plain', expected: 'infected', malformed: false, family: 'eicar', quick: 3, full: 30,
    summary: 'EICAR as the whole text/plain body of a single-part message',
    build({ rng, k }) {
      const v = k % 3;
      const body = Buffer.concat([E(), Buffer.from(v === 2 ? '' : '\r\n', 'latin1')]);
      const node: LeafNode = v === 1 ? { kind: 'leaf', headers: [], body } : leaf('text/plain; charset=us-ascii', '7bit', body);
      const msg = top(rng, node, v === 1 ? { omit: ['MIME-Version'] } : {});
      return done(render(msg), ['mime-text-plain', 'no-mime-headers', 'no-final-newline'][v] as string, 'EICAR as the whole text/plain body', { part: '1', encoding: '7bit' });
    },
  },
  {
    category: 'large-infected', expected: 'infected', malformed: false, family: 'eicar', quick: 1, full: 8,
    summary: 'A multi-MB clean attachment plus EICAR in a zip',
    build(ctx) {
      const { rng } = ctx;
      const size = ladder(ctx, 0.8, 3.5);
      const p = payload(rng);
      const mname = memberName(rng);
      const zname = c.businessName(rng, 'zip');
      const pdfName = c.businessName(rng, 'pdf');
      const msg = mixed(rng, [b64('application/pdf', pdfName, c.pdf(rng, undefined, size)), b64('application/zip', zname, makeZip([{ name: mname, data: p.data }]))]);
      return done(render(msg), 'pdf+zip', `${(size / MB).toFixed(1)} MB PDF plus EICAR (${p.note}) in zip ${zname}`, { part: `3:${zname} > ${mname}`, encoding: 'base64' });
    },
  },
];

// --- formats the core opens beyond zip/gzip/tar (issue 16): which scanner sees into which --

/** What a format recipe wraps a file into: the attachment, its type and the path of the file inside. */
interface Wrapped {
  name: string;
  contentType: string;
  data: Buffer;
  /** Path of the wrapped file below the attachment, as the core names it. */
  inner: string;
  variant: string;
}

/** The formats, each wrapping one file `m` (with a companion text where the format holds several). */
/** `m` and a companion text of another name, in a random order. */
function withCompanion(rng: Rng, m: Member): Member[] {
  const other = companion(rng);
  if (other.name === m.name) other.name = `more-${other.name}`;
  return rng.shuffle([m, other]);
}

const FORMATS: ReadonlyArray<{ category: string; summary: string; wrap: (rng: Rng, k: number, m: Member) => Promise<Wrapped> | Wrapped }> = [
  {
    category: 'bzip2', summary: 'bzip2-compressed (7-Zip)',
    async wrap(rng, _k, m) {
      const base = rng.pick(['data', 'invoice', 'report']);
      return { name: `${base}.bz2`, contentType: 'application/x-bzip2', data: await sevenZipArchive('bzip2', [{ name: base, data: m.data }]), inner: base, variant: 'bzip2' };
    },
  },
  {
    category: 'xz', summary: 'xz-compressed (7-Zip)',
    async wrap(rng, _k, m) {
      const base = rng.pick(['data', 'invoice', 'report']);
      return { name: `${base}.xz`, contentType: 'application/x-xz', data: await sevenZipArchive('xz', [{ name: base, data: m.data }]), inner: base, variant: 'xz' };
    },
  },
  {
    category: '7z', summary: 'in a 7z archive (LZMA2, or stored)',
    async wrap(rng, k, m) {
      const name = rng.pick(['archive.7z', 'documents.7z', c.businessName(rng, '7z')]);
      const extra = k % 2 === 0 ? ['-mx=5'] : ['-mx=0'];
      return { name, contentType: 'application/x-7z-compressed', data: await sevenZipArchive('7z', withCompanion(rng, m), extra), inner: m.name, variant: k % 2 === 0 ? 'lzma2' : 'stored' };
    },
  },
  {
    category: 'cab', summary: 'in a Microsoft Cabinet (stored)',
    wrap(rng, _k, m) {
      const name = rng.pick(['setup.cab', 'update.cab', c.businessName(rng, 'cab')]);
      return { name, contentType: 'application/vnd.ms-cab-compressed', data: cabStored(withCompanion(rng, m)), inner: m.name, variant: 'stored' };
    },
  },
  {
    category: 'cpio', summary: 'in a cpio archive (newc)',
    wrap(rng, _k, m) {
      const name = rng.pick(['files.cpio', 'initrd.cpio', c.businessName(rng, 'cpio')]);
      return { name, contentType: 'application/x-cpio', data: cpioNewc(withCompanion(rng, m)), inner: m.name, variant: 'newc' };
    },
  },
  {
    category: 'binhex', summary: 'BinHex 4.0 encoded',
    wrap(rng, _k, m) {
      const name = rng.pick(['file.hqx', 'document.hqx', c.businessName(rng, 'hqx')]);
      const inner = m.name.replace(/.*\//, '');
      return { name, contentType: 'application/mac-binhex40', data: binhex(inner, m.data), inner, variant: 'binhex4' };
    },
  },
  {
    category: 'tnef', summary: 'attached inside a TNEF winmail.dat',
    wrap(_rng, _k, m) {
      const inner = m.name.replace(/.*\//, '');
      return { name: 'winmail.dat', contentType: 'application/ms-tnef', data: tnefWith(inner, m.data), inner, variant: 'tnef' };
    },
  },
  {
    category: 'ole2', summary: 'embedded in an OLE2 compound document (an Ole10Native package object, or a stream)',
    async wrap(rng, k, m) {
      const name = rng.pick(['report.doc', 'minutes.doc', c.businessName(rng, 'doc')]);
      const inner = m.name.replace(/.*\//, '');
      const filler = Buffer.from(c.bodyText(rng, c.person(rng)).repeat(8));
      if (k % 2 === 0) return { name, contentType: 'application/msword', data: await ole2With(inner, m.data, 'package', filler), inner: `ObjectPool/_1279313719/[1]Ole10Native > ${inner}`, variant: 'ole10native' };
      return { name, contentType: 'application/msword', data: await ole2With(inner, m.data, 'stream', filler), inner, variant: 'stream' };
    },
  },
  {
    category: 'rtf-object', summary: 'embedded in an RTF document as a packaged object (\\objdata)',
    wrap(rng, _k, m) {
      const name = rng.pick(['letter.rtf', 'contract.rtf', c.businessName(rng, 'rtf')]);
      const inner = m.name.replace(/.*\//, '');
      return { name, contentType: 'application/rtf', data: rtfWith(inner, m.data), inner, variant: 'objdata' };
    },
  },
  {
    category: 'pdf-flate', summary: 'as a FlateDecode stream of a PDF',
    wrap(rng, _k, m) {
      const name = rng.pick(['scan.pdf', 'statement.pdf', c.businessName(rng, 'pdf')]);
      return { name, contentType: 'application/pdf', data: pdfWith(m.data), inner: 'stream1', variant: 'flatedecode' };
    },
  },
];

const FORMAT_INFECTED: Recipe[] = FORMATS.map((f) => ({
  category: f.category, expected: 'infected', malformed: false, family: 'eicar', quick: 1, full: 20,
  summary: `EICAR ${f.summary}`,
  async build({ rng, k }) {
    const p = payload(rng);
    const mname = memberName(rng);
    const w = await f.wrap(rng, k, { name: mname, data: p.data });
    const msg = mixed(rng, [b64(w.contentType, w.name, w.data)]);
    return done(render(msg), w.variant, `EICAR (${p.note}) ${f.summary}: ${w.name}`, { part: `2:${w.name} > ${w.inner}`, encoding: 'base64' });
  },
}));

const FORMAT_CLEAN: Recipe = {
  category: 'clean-formats', expected: 'clean', malformed: false, quick: 2, full: 40,
  summary: 'Clean text in each of the formats of the infected format categories (bzip2, xz, 7z, CAB, cpio, BinHex, TNEF, OLE2, RTF, PDF)',
  async build({ rng, k }) {
    const f = FORMATS[k % FORMATS.length] as (typeof FORMATS)[number];
    const w = await f.wrap(rng, k, companion(rng));
    const msg = mixed(rng, [b64(w.contentType, w.name, w.data)]);
    return done(render(msg), f.category, `clean text ${f.summary}: ${w.name}`);
  },
};

/**
 * clamav-testfiles left out: clam_cache_emax.tgz nests archives so deep (it tests ClamAV's
 * cache and limits) that, once inside a mail, ClamAV's default recursion limit stops it.
 */
export const TESTFILES_EXCLUDED: readonly string[] = ['clam_cache_emax.tgz'];

/** clamav-testfiles picked for the quick profile (small, varied formats). */
const QUICK_TESTFILES = ['clam.exe', 'clam.zip', 'clam.7z', 'clam.cab', 'clam.pdf', 'clam.tar.gz', 'clam.exe.bz2', 'clam.ole.doc', 'clam.arj', 'clam-upx.exe'];

const TESTFILES: Recipe = {
  category: 'clamav-testfiles', expected: 'infected', malformed: false, family: 'clamav-testfiles', quick: 8, full: 86,
  summary: "Debian clamav-testfiles (ClamAV's own test files) as base64 attachments",
  async build({ rng, k, testfiles }) {
    const quickSet = testfiles.files.filter((f) => QUICK_TESTFILES.includes(f.name));
    // In the quick profile (count ≤ quickSet) prefer the small well-known formats.
    const pool = k < quickSet.length && quickSet.length > 0 && testfiles.files.length > 0 ? quickSet : testfiles.files;
    const file = pool[k % pool.length];
    if (file === undefined) throw new Error('internal: clamav-testfiles recipe run without files');
    const data = await readFile(join(testfiles.dir, file.name));
    const msg = mixed(rng, [b64('application/octet-stream', file.name, data)]);
    return done(render(msg), file.name, `clamav-testfiles ${file.name} (${file.size} bytes) as a base64 attachment`, { part: `2:${file.name}`, encoding: 'base64' });
  },
};

// --- clean ------------------------------------------------------------------------------

function images(rng: Rng, n: number): LeafNode[] {
  const out: LeafNode[] = [];
  for (let i = 0; i < n; i++) {
    const kind = rng.int(0, 2);
    if (kind === 0) out.push(b64('image/png', c.businessName(rng, 'png'), c.png(rng)));
    else if (kind === 1) out.push(b64('image/gif', c.businessName(rng, 'gif'), c.gif(rng)));
    else out.push(b64('image/jpeg', c.businessName(rng, 'jpg'), c.jpeg(rng)));
  }
  return out;
}

const CLEAN: Recipe[] = [
  {
    category: 'clean-plain', expected: 'clean', malformed: false, quick: 14, full: 450,
    summary: 'Plain-text mail (7bit, quoted-printable, replies, "From " at line start)',
    build({ rng, k }) {
      const from = c.person(rng);
      const v = k % 4;
      let body = c.bodyText(rng, from);
      if (v === 1) body = `${body}\nOn ${c.rfcDate(rng)}, ${c.person(rng).name} wrote:\n${c.bodyText(rng, c.person(rng)).trim().split('\n').map((l) => `> ${l}`).join('\n')}\n`;
      if (v === 2) body = `${body}\nFrom the desk of ${from.name}:\nFrom now on please use the new address.\n`;
      const node = v === 3 ? leaf('text/plain; charset=utf-8; format=flowed', 'quoted-printable', quotedPrintable(crlf(body + c.sentence(rng).repeat(3) + '\n'))) : leaf('text/plain; charset=us-ascii', '7bit', crlf(body));
      const msg = top(rng, node, { subject: v === 1 ? `Re: ${c.subject(rng)}` : c.subject(rng), from: c.mailbox(from) });
      return done(render(msg), ['plain', 'reply', 'from-lines', 'qp-flowed'][v] as string, 'plain-text message');
    },
  },
  {
    category: 'clean-html', expected: 'clean', malformed: false, quick: 10, full: 350,
    summary: 'HTML mail: alternative text+HTML, related with an inline image, HTML only',
    build({ rng, k }) {
      const v = k % 3;
      let node: MimeNode;
      if (v === 0) node = multipart('alternative', boundary(rng), [text(rng), html(rng)]);
      else if (v === 1) {
        const cid = `${rng.hex(12)}@example.com`;
        const img = leaf('image/png', 'base64', base64Lines(c.png(rng)), [['Content-ID', `<${cid}>`], ['Content-Disposition', 'inline; filename="logo.png"']]);
        node = multipart('related', boundary(rng), [multipart('alternative', boundary(rng), [text(rng), html(rng)]), img]);
      } else node = html(rng);
      return done(render(top(rng, node)), ['alternative', 'related', 'html-only'][v] as string, 'HTML message');
    },
  },
  {
    category: 'image', expected: 'clean', malformed: false, quick: 5, full: 60,
    summary: 'Mail with PNG, GIF and JPEG attachments (valid headers, pseudo-random data)',
    build({ rng }) {
      const n = rng.int(1, 3);
      return done(render(mixed(rng, images(rng, n))), `${n}-images`, `${n} image attachment(s)`);
    },
  },
  {
    category: 'pdf', expected: 'clean', malformed: false, quick: 4, full: 50,
    summary: 'Mail with a small valid PDF attachment',
    build({ rng }) {
      const name = c.businessName(rng, 'pdf');
      return done(render(mixed(rng, [b64('application/pdf', name, c.pdf(rng, undefined, rng.int(0, 40000)))])), 'pdf', `PDF attachment ${name}`);
    },
  },
  {
    category: 'office', expected: 'clean', malformed: false, quick: 4, full: 50,
    summary: 'Mail with docx/xlsx-like zip attachments ([Content_Types].xml, _rels, document)',
    build({ rng, k }) {
      const kind = k % 2 === 0 ? 'docx' : 'xlsx';
      const name = c.businessName(rng, kind);
      const ct = kind === 'docx' ? 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
      return done(render(mixed(rng, [b64(ct, name, c.officeZip(rng, kind))])), kind, `${kind} attachment ${name}`);
    },
  },
  {
    category: 'csv-ics', expected: 'clean', malformed: false, quick: 4, full: 40,
    summary: 'Mail with a CSV table or an iCalendar invitation',
    build({ rng, k }) {
      if (k % 2 === 0) {
        const name = c.businessName(rng, 'csv');
        const data = c.csv(rng);
        const asB64 = rng.chance(0.5);
        const part = attachment('text/csv; charset=utf-8', name, asB64 ? 'base64' : '7bit', asB64 ? base64Lines(data) : data);
        return done(render(mixed(rng, [part])), 'csv', `CSV attachment ${name}`);
      }
      const org = c.person(rng);
      const cal = leaf('text/calendar; charset=utf-8; method=REQUEST', 'base64', base64Lines(c.ics(rng, org)), [['Content-Disposition', 'attachment; filename="invite.ics"']]);
      const msg = top(rng, multipart('mixed', boundary(rng), [multipart('alternative', boundary(rng), [text(rng), html(rng)]), cal]), { subject: `Invitation: ${c.subject(rng)}`, from: c.mailbox(org) });
      return done(render(msg), 'ics', 'calendar invitation');
    },
  },
  {
    category: 'near-miss', expected: 'clean', malformed: false, family: 'eicar', quick: 9, full: 60,
    summary: 'Strings close to EICAR that are not it: truncated by a byte, one byte mutated, lower-cased',
    build({ rng, k }) {
      const kinds = ['truncated', 'mutated', 'lowercase'] as const;
      const kind = kinds[k % 3] as (typeof kinds)[number];
      const data = kind === 'truncated' ? E().subarray(0, 67) : kind === 'mutated' ? mutate(rng, E()) : Buffer.from(E().toString('latin1').toLowerCase(), 'latin1');
      const carrier = Math.floor(k / 3) % 3;
      const name = rng.pick(['eicar.com', 'test.txt', 'sample.bin']);
      let part: MimeNode;
      let where: string;
      if (carrier === 0) { part = b64('application/octet-stream', name, data); where = `2:${name}`; }
      else if (carrier === 1) { part = attachment('text/plain; charset=us-ascii', name, '7bit', data); where = `2:${name}`; }
      else { part = b64('application/zip', 'test.zip', makeZip([{ name, data }])); where = `2:test.zip > ${name}`; }
      return done(render(mixed(rng, [part])), `${kind}/${['base64', '7bit', 'zip'][carrier]}`, `near miss: EICAR ${kind}`, { part: where, encoding: ['base64', '7bit', 'base64'][carrier] as string });
    },
  },
  {
    category: 'near-miss-embedded', expected: 'any', malformed: false, family: 'eicar', quick: 4, full: 30,
    summary: 'The full EICAR string inside a bigger file (a byte before it, or >60 bytes after it): not the spec form, but an anywhere-matching scanner sees it',
    build({ rng, k }) {
      const before = k % 2 === 0;
      const data = before ? Buffer.concat([Buffer.from(rng.pick(['X', ' ', '\n', '#']), 'latin1'), E()]) : Buffer.concat([E(), Buffer.from(`\r\n${c.sentence(rng)} ${c.sentence(rng)} ${c.sentence(rng)} This line only pads the file past 128 bytes.\r\n`, 'latin1')]);
      const name = rng.pick(['eicar.com', 'notes.txt']);
      const zipped = Math.floor(k / 2) % 2 === 1;
      const part = zipped ? b64('application/zip', 'sample.zip', makeZip([{ name, data }])) : b64('application/octet-stream', name, data);
      return done(render(mixed(rng, [part])), `${before ? 'byte-before' : 'long-tail'}/${zipped ? 'zip' : 'base64'}`, `EICAR ${before ? 'preceded by a byte' : `followed by more text (${data.length} bytes)`}`, { part: zipped ? `2:sample.zip > ${name}` : `2:${name}`, encoding: 'base64' });
    },
  },
  {
    category: 'discussion', expected: 'clean', malformed: false, family: 'eicar', quick: 4, full: 30,
    summary: 'Mail that talks about the EICAR test file and quotes only fragments of it',
    build({ rng, k }) {
      const f = eicarFragments();
      const quotes = [
        `It starts with ${f.head} and goes on from there.`,
        `The file contains the words ${f.name} in capitals.`,
        `The part after the dollar sign is ${f.tail}, but I left out the start.`,
        `Start: ${f.head}\n(snip)\nEnd: ${f.tail}`,
      ];
      const body = `Hi team,\n\nfor the mail gateway test we should use the EICAR test file, the standard harmless anti-virus test string. ${quotes[k % quotes.length]}\nPlease do not paste the whole string into mail: our gateway would reject it.\n\n${c.sentence(rng)}\n\nRegards,\n${c.person(rng).name}\n`;
      const msg = top(rng, leaf('text/plain; charset=us-ascii', '7bit', crlf(body)), { subject: rng.pick(['EICAR test for the gateway', 'Re: anti-virus test file', 'How do we test the virus scanner?']) });
      return done(render(msg), `fragment-${k % quotes.length}`, 'discusses EICAR, quotes fragments only');
    },
  },
  {
    category: 'unicode', expected: 'clean', malformed: false, quick: 6, full: 60,
    summary: 'Encoded-word Subject/From, UTF-8 bodies (8bit, QP, base64), RFC 2231 unicode filenames',
    build({ rng, k }) {
      const who = c.unicodePerson(rng);
      const subj = c.unicodeSubject(rng);
      const mode = k % 2 === 0 ? 'B' : 'Q';
      const bodyText = `${subj}\n\n${who.name} schreibt / écrit / пишет: ${c.sentence(rng)} — ✓ 日本語テキスト, naïve café, Ελληνικά.\n\n${c.bodyText(rng, who)}`;
      const v = k % 3;
      const bodyPart = v === 0 ? leaf('text/plain; charset=utf-8', '8bit', crlf(bodyText)) : v === 1 ? leaf('text/plain; charset=utf-8', 'quoted-printable', quotedPrintable(crlf(bodyText))) : leaf('text/plain; charset=utf-8', 'base64', base64Lines(crlf(bodyText)));
      const env = { subject: encodedWord(subj, mode), from: `${encodedWord(who.name, mode)} <${who.address}>` };
      let node: MimeNode = bodyPart;
      if (k % 2 === 1) {
        const fname = c.unicodeFilename(rng);
        const att = leaf(`application/octet-stream;\r\n ${rfc2231Param('name', fname)}`, 'base64', base64Lines(fname.endsWith('.png') ? c.png(rng) : fname.endsWith('.pdf') ? c.pdf(rng) : c.csv(rng)), [['Content-Disposition', `attachment;\r\n ${rfc2231Param('filename', fname, 2)}`]]);
        node = multipart('mixed', boundary(rng), [bodyPart, att]);
      }
      return done(render(top(rng, node, env)), `${['8bit', 'qp', 'base64'][v]}/${mode}${k % 2 === 1 ? '+rfc2231-file' : ''}`, 'unicode headers and body');
    },
  },
  {
    category: 'many-parts', expected: 'clean', malformed: false, quick: 1, full: 10,
    summary: 'One message with 100+ small parts',
    build({ rng }) {
      const n = rng.int(100, 150);
      const parts: MimeNode[] = [];
      for (let i = 0; i < n; i++) {
        const t = rng.int(0, 2);
        if (t === 0) parts.push(attachment('text/plain; charset=us-ascii', `note${i + 1}.txt`, '7bit', crlf(c.sentence(rng))));
        else if (t === 1) parts.push(b64('text/csv', `table${i + 1}.csv`, c.csv(rng, rng.int(2, 8))));
        else parts.push(b64('image/png', `icon${i + 1}.png`, c.png(rng, 4, 4)));
      }
      return done(render(mixed(rng, parts)), `${n + 1}-parts`, `${n + 1} parts`);
    },
  },
  {
    category: 'large', expected: 'clean', malformed: false, quick: 1, full: 25,
    summary: 'Multi-MB messages (1–4 MB base64 attachments)',
    build(ctx) {
      const { rng, k } = ctx;
      const size = ladder(ctx, 1, 4);
      const v = k % 3;
      let part: LeafNode;
      if (v === 0) part = b64('image/jpeg', c.businessName(rng, 'jpg'), c.jpeg(rng, size));
      else if (v === 1) part = b64('application/pdf', c.businessName(rng, 'pdf'), c.pdf(rng, undefined, size));
      else {
        const photos: Member[] = [];
        for (let left = size, i = 1; left > 0; i++) {
          const n = Math.min(left, rng.int(200_000, 600_000));
          photos.push({ name: `photos/IMG_${String(i).padStart(4, '0')}.jpg`, data: c.jpeg(rng, n) });
          left -= n;
        }
        part = b64('application/zip', 'photos.zip', makeZip(photos, 0));
      }
      return done(render(mixed(rng, [part])), ['jpeg', 'pdf', 'zip-of-jpegs'][v] as string, `${(size / MB).toFixed(1)} MB attachment`);
    },
  },
];

// --- malformed ------------------------------------------------------------------------

function malformed(category: string, summary: string, quick: number, full: number, build: Recipe['build']): Recipe {
  return { category, expected: 'any', malformed: true, quick, full, summary, build };
}

function longWords(rng: Rng, bytes: number): string {
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    const s = c.sentence(rng) + ' ';
    parts.push(s);
    n += s.length;
  }
  return parts.join('').slice(0, bytes);
}

const MALFORMED: Recipe[] = [
  malformed('empty', 'An empty file', 1, 3, () => done(Buffer.alloc(0), 'empty', 'empty file')),
  malformed('garbage', 'Binary garbage', 2, 10, ({ rng }) => {
    const n = rng.int(512, 64 * 1024);
    return done(rng.bytes(n), 'random', `${n} bytes of binary garbage`);
  }),
  malformed('long-line', 'A 2 MB single line (after headers, or the whole file)', 1, 3, ({ rng, k }) => {
    const size = 2 * MB;
    if (k % 2 === 0) {
      const head = render(top(rng, leaf('text/plain; charset=us-ascii', '7bit', Buffer.alloc(0))));
      return done(Buffer.concat([head, Buffer.from(longWords(rng, size), 'latin1')]), 'body-line', 'headers, then a 2 MB body line with no line break');
    }
    return done(Buffer.from(`Subject: ${longWords(rng, size)}`, 'latin1'), 'header-line', 'a 2 MB Subject line, no line break, no body');
  }),
  malformed('deep-nesting', '200 levels of multipart nesting', 2, 6, ({ rng, k }) => {
    const withEicar = k % 2 === 1;
    let node: MimeNode = withEicar ? b64('application/octet-stream', 'eicar.com', E()) : text(rng);
    for (let i = 0; i < 200; i++) node = multipart('mixed', `nest${String(i).padStart(3, '0')}_${rng.hex(6)}`, [node]);
    return done(render(top(rng, node)), withEicar ? 'eicar-at-bottom' : 'text-at-bottom', `200 nested multiparts with ${withEicar ? 'EICAR' : 'text'} at the bottom`);
  }),
  malformed('corrupt-zip', 'A corrupt zip attachment (truncated, overwritten, bad directory)', 2, 9, ({ rng, k }) => {
    const zip = makeZip([{ name: 'eicar.com', data: E() }, companion(rng)], 6);
    const v = k % 3;
    let bad: Buffer;
    if (v === 0) bad = zip.subarray(0, Math.floor(zip.length * 0.6));
    else if (v === 1) {
      bad = Buffer.from(zip);
      rng.bytes(16).copy(bad, 20);
    } else {
      bad = Buffer.from(zip);
      bad.writeUInt32LE(0xfffffff0, bad.length - 6); // central directory offset
    }
    return done(render(mixed(rng, [b64('application/zip', 'broken.zip', bad)])), ['truncated', 'overwritten', 'bad-cd-offset'][v] as string, 'corrupt zip (a deflated EICAR member inside)');
  }),
  malformed('broken-base64', 'Broken base64: junk characters, truncated, padding in the middle', 3, 9, ({ rng, k }) => {
    const v = k % 3;
    const b = E().toString('base64');
    let enc: string;
    if (v === 0) {
      let s = '';
      for (const ch of b) s += ch + (rng.chance(0.2) ? rng.pick(['!', '*', '#', '~', '\u00e9', ' ']) : '');
      enc = s;
    } else if (v === 1) enc = b.slice(0, b.length - 7);
    else enc = `${b.slice(0, 40)}==\r\n${b.slice(40)}`;
    const part = attachment('application/octet-stream', 'eicar.com', 'base64', Buffer.from(enc, 'latin1'));
    return done(render(mixed(rng, [part])), ['junk-chars', 'truncated', 'padding-in-middle'][v] as string, 'EICAR in broken base64');
  }),
  malformed('unclosed-nested', 'Nested multiparts none of which is closed', 2, 6, ({ rng, k }) => {
    const withEicar = k % 2 === 1;
    const innerParts: MimeNode[] = [text(rng), withEicar ? b64('application/octet-stream', 'eicar.com', E()) : html(rng)];
    const inner = multipart('alternative', boundary(rng), innerParts, { close: false });
    const mid = multipart('mixed', boundary(rng), [text(rng), inner], { close: false });
    return done(render(top(rng, multipart('mixed', boundary(rng), [text(rng), mid], { close: false }))), withEicar ? 'eicar-inside' : 'text-only', `three nested multiparts, none closed${withEicar ? ', EICAR in the innermost' : ''}`);
  }),
  malformed('header-only', 'A message with headers and no body', 1, 6, ({ rng, k }) => {
    const head = render(top(rng, leaf('text/plain', undefined, Buffer.alloc(0))));
    // render ends headers with an empty line; variant 0 drops it
    return done(k % 2 === 0 ? head.subarray(0, head.length - 2) : head, k % 2 === 0 ? 'no-blank-line' : 'blank-line', 'headers only, no body');
  }),
  malformed('nul-header', 'NUL bytes in headers', 2, 6, ({ rng, k }) => {
    const msg = render(top(rng, leaf('text/plain; charset=us-ascii', '7bit', crlf(c.bodyText(rng, c.person(rng)))), { subject: k % 2 === 0 ? `Hello\0world ${rng.int(1, 999)}` : 'Report' }));
    const data = k % 2 === 0 ? msg : Buffer.concat([Buffer.from('X-Bad\0Header: a\0b\r\n', 'latin1'), msg]);
    return done(data, k % 2 === 0 ? 'nul-in-subject' : 'nul-in-name', 'NUL bytes in a header');
  }),
];

/** Every recipe, in a fixed order. */
export const RECIPES: readonly Recipe[] = [...INFECTED, TESTFILES, ...CLEAN, ...MALFORMED, ...FORMAT_INFECTED, FORMAT_CLEAN];
