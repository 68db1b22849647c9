/**
 * Realistic-looking ingredients for generated mail: people, domains, subjects, body text,
 * dates and Message-IDs, and clean attachments with valid headers (PNG, GIF, JPEG, PDF,
 * docx/xlsx-like zips, CSV, ICS). Everything comes from the seeded Rng.
 */
import { deflateSync } from 'node:zlib';
import { makeZip } from './archive.js';
import type { Rng } from './prng.js';

const FIRST = ['Anna', 'Ben', 'Carla', 'David', 'Elena', 'Farid', 'Greta', 'Hiro', 'Ines', 'Jonas', 'Kari', 'Luis', 'Maya', 'Nils', 'Olga', 'Pavel', 'Quinn', 'Rosa', 'Sven', 'Tara', 'Umar', 'Vera', 'Wim', 'Xenia', 'Yusuf', 'Zoe'];
const LAST = ['Adler', 'Berg', 'Castro', 'Dubois', 'Eriksen', 'Fischer', 'Garcia', 'Hansen', 'Ivanova', 'Jensen', 'Kowalski', 'Lindqvist', 'Moreau', 'Novak', 'Okafor', 'Petrov', 'Rossi', 'Schmidt', 'Tanaka', 'Urban', 'Vogel', 'Weber', 'Young', 'Zimmer'];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.com', 'corp.example', 'acme.example', 'shop.example', 'lists.example.org', 'uni.example.edu', 'bank.example'];
const UNICODE_NAMES = ['Jürgen Müller', 'Zoë Brontë', 'François Lefèvre', 'Łukasz Żółć', 'Søren Kierkegård', 'Ζωή Παπαδοπούλου', 'Дмитрий Иванов', '山田 太郎', 'Nguyễn Văn An', 'José Núñez'];
const UNICODE_SUBJECTS = ['Grüße aus München', 'Café-Rechnung für März', 'Réunion de l’équipe — ordre du jour', 'Отчёт за квартал', '会議の議事録', 'Ελάτε στη συνάντηση', 'Zażółć gęślą jaźń', 'Año nuevo, presupuesto nuevo ✓'];
const UNICODE_FILES = ['Übersicht_2024.pdf', 'résumé-final.pdf', 'отчёт.csv', '議事録.txt', 'Ærøskøbing kort.png', 'naïve façade.docx'];
const WORDS = ('the a an of to and in for on with as by at from about meeting report invoice order shipment '
  + 'please find attached review update schedule budget quarter project team customer account payment '
  + 'delivery contract draft version agenda minutes notes question answer thanks regards office week month '
  + 'today tomorrow monday friday next last new final revised summary figures numbers results plan call').split(' ');
const SUBJECTS = ['Invoice {n}', 'Re: meeting on {day}', 'Quarterly report', 'Fwd: shipment {n} delayed', 'Your order #{n}', 'Minutes of the team call',
  'Re: Re: budget draft', 'Updated contract', 'Scan from office printer', 'Photos from the event', 'Payment reminder', 'Agenda for {day}',
  'Project status {n}', 'Question about your account', 'Travel expenses', 'New price list'];
const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const ZONES = ['+0000', '+0100', '+0200', '-0500', '-0800', '+0530', '+0900'];
const AGENTS = ['Mozilla Thunderbird', 'Microsoft Outlook 16.0', 'Apple Mail (2.3774)', 'Roundcube Webmail/1.6', 'Mutt/2.2.12', 'Evolution 3.50'];

/** A person as a display name and an address. */
export interface Person {
  name: string;
  address: string;
}

/** A random plain-ASCII person. */
export function person(rng: Rng): Person {
  const first = rng.pick(FIRST);
  const last = rng.pick(LAST);
  const style = rng.int(0, 2);
  const local = style === 0 ? `${first}.${last}` : style === 1 ? `${first[0]}${last}` : `${first}${rng.int(1, 99)}`;
  return { name: `${first} ${last}`, address: `${local.toLowerCase()}@${rng.pick(DOMAINS)}` };
}

/** A random person with a non-ASCII display name. */
export function unicodePerson(rng: Rng): Person {
  const p = person(rng);
  return { name: rng.pick(UNICODE_NAMES), address: p.address };
}

/** "Name <address>" (quoted when needed). */
export function mailbox(p: Person): string {
  return /[,.;:"]/.test(p.name) ? `"${p.name.replace(/"/g, '\\"')}" <${p.address}>` : `${p.name} <${p.address}>`;
}

/** A unicode subject line (plain UTF-8; the caller encodes it). */
export function unicodeSubject(rng: Rng): string {
  return rng.pick(UNICODE_SUBJECTS);
}

/** A unicode file name. */
export function unicodeFilename(rng: Rng): string {
  return rng.pick(UNICODE_FILES);
}

/** A realistic subject. */
export function subject(rng: Rng): string {
  return rng.pick(SUBJECTS).replace('{n}', String(rng.int(1000, 99999))).replace('{day}', rng.pick(['Monday', 'Tuesday', 'Friday', '12 March', 'the 3rd']));
}

/** An RFC 5322 date derived only from the Rng (2023-01-01 .. about 2025-10). */
export function rfcDate(rng: Rng): string {
  const base = Date.UTC(2023, 0, 1);
  const t = new Date(base + rng.int(0, 1000 * 24 * 3600) * 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[(t.getUTCDay() + 6) % 7]}, ${pad(t.getUTCDate())} ${MONTHS[t.getUTCMonth()]} ${t.getUTCFullYear()} ${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())} ${rng.pick(ZONES)}`;
}

/** A Message-ID at the sender's domain. */
export function messageId(rng: Rng, from: Person): string {
  return `<${rng.hex(16)}.${rng.hex(8)}@${from.address.split('@')[1] ?? 'example.com'}>`;
}

/** A mail user agent name. */
export function userAgent(rng: Rng): string {
  return rng.pick(AGENTS);
}

/** One sentence from the word list. */
export function sentence(rng: Rng): string {
  const n = rng.int(6, 16);
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(rng.pick(WORDS));
  const s = words.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1) + rng.pick(['.', '.', '.', '?', '!']);
}

/** A few paragraphs of sentences, with a greeting and signature. */
export function bodyText(rng: Rng, from: Person, paragraphs = rng.int(1, 3)): string {
  const paras: string[] = [`${rng.pick(['Hello', 'Hi', 'Dear colleagues', 'Good morning'])},`];
  for (let p = 0; p < paragraphs; p++) {
    const ss: string[] = [];
    for (let i = rng.int(1, 4); i > 0; i--) ss.push(sentence(rng));
    paras.push(wrap(ss.join(' '), 72));
  }
  paras.push(`${rng.pick(['Best regards', 'Thanks', 'Cheers', 'Kind regards'])},\n${from.name}`);
  return paras.join('\n\n') + '\n';
}

/** Wrap text at `width` columns on spaces. */
export function wrap(text: string, width: number): string {
  const out: string[] = [];
  let line = '';
  for (const w of text.split(' ')) {
    if (line.length > 0 && line.length + 1 + w.length > width) {
      out.push(line);
      line = w;
    } else line = line.length > 0 ? `${line} ${w}` : w;
  }
  if (line) out.push(line);
  return out.join('\n');
}

/** The same text as a small HTML document. */
export function htmlOf(text: string): string {
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const paras = text.trim().split(/\n\n/).map((p) => `<p>${esc(p).replace(/\n/g, '<br>\n')}</p>`);
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>message</title></head>\n<body style="font-family: Arial, sans-serif">\n${paras.join('\n')}\n</body></html>\n`;
}

/** A file name for a business attachment with the given extension. */
export function businessName(rng: Rng, ext: string): string {
  const stem = rng.pick(['invoice', 'report', 'scan', 'order', 'statement', 'contract', 'photo', 'IMG', 'document', 'notes', 'summary', 'budget']);
  const sep = rng.pick(['_', '-', '']);
  const num = rng.pick([String(rng.int(2019, 2025)), String(rng.int(1, 9999)).padStart(4, '0'), `Q${rng.int(1, 4)}`]);
  return `${stem}${sep}${num}.${ext}`;
}

// --- clean attachments --------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (as in PNG and zip). */
export function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const b of data) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A valid small RGB PNG with pseudo-random pixels. */
export function png(rng: Rng, w = rng.int(8, 48), h = rng.int(8, 48)): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((w * 3 + 1) * h);
  const px = rng.bytes(w * 3 * h);
  for (let y = 0; y < h; y++) px.copy(raw, y * (w * 3 + 1) + 1, y * w * 3, (y + 1) * w * 3);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A GIF89a: valid header, colour table and image descriptor, pseudo-random data sub-blocks. */
export function gif(rng: Rng, size = rng.int(300, 3000)): Buffer {
  const head = Buffer.from('GIF89a', 'latin1');
  const lsd = Buffer.from([16, 0, 16, 0, 0xf7, 0, 0]); // 16x16, global colour table of 256
  const gct = rng.bytes(256 * 3);
  const desc = Buffer.from([0x2c, 0, 0, 0, 0, 16, 0, 16, 0, 0, 8]);
  const blocks: Buffer[] = [];
  let left = size;
  while (left > 0) {
    const n = Math.min(255, left);
    blocks.push(Buffer.from([n]), rng.bytes(n));
    left -= n;
  }
  return Buffer.concat([head, lsd, gct, desc, ...blocks, Buffer.from([0, 0x3b])]);
}

/** A JPEG-like file: SOI, JFIF APP0, pseudo-random entropy data, EOI. */
export function jpeg(rng: Rng, size = rng.int(2000, 20000)): Buffer {
  const app0 = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x48, 0x00, 0x48, 0x00, 0x00]);
  const data = rng.bytes(size);
  for (let i = 0; i < data.length; i++) if (data[i] === 0xff) data[i] = 0xfe; // no stray markers
  return Buffer.concat([app0, data, Buffer.from([0xff, 0xd9])]);
}

/** A minimal valid PDF (one page, one line of text) with a correct xref table. */
export function pdf(rng: Rng, text = sentence(rng), padding = 0): Buffer {
  const safe = text.replace(/[()\\]/g, '');
  const stream = `BT /F1 12 Tf 72 720 Td (${safe}) Tj ET`;
  const objs = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let off = parts[0]!.length;
  const offsets: number[] = [];
  objs.forEach((o, i) => {
    offsets.push(off);
    const b = Buffer.from(`${i + 1} 0 obj\n${o}\nendobj\n`, 'latin1');
    parts.push(b);
    off += b.length;
  });
  if (padding > 0) {
    // a big binary stream object nobody references (as scanned PDFs carry images)
    offsets.push(off);
    const head = Buffer.from(`6 0 obj\n<< /Length ${padding} /Filter /DCTDecode >>\nstream\n`, 'latin1');
    const tail = Buffer.from('\nendstream\nendobj\n', 'latin1');
    const b = Buffer.concat([head, rng.bytes(padding), tail]);
    parts.push(b);
    off += b.length;
  }
  const n = offsets.length + 1;
  let xref = `xref\n0 ${n}\n0000000000 65535 f \n`;
  for (const o of offsets) xref += `${String(o).padStart(10, '0')} 00000 n \n`;
  xref += `trailer\n<< /Size ${n} /Root 1 0 R >>\nstartxref\n${off}\n%%EOF\n`;
  parts.push(Buffer.from(xref, 'latin1'));
  return Buffer.concat(parts);
}

/** An office-like zip (docx or xlsx structure: [Content_Types].xml, _rels, the document). */
export function officeZip(rng: Rng, kind: 'docx' | 'xlsx' = rng.pick(['docx', 'xlsx'] as const)): Buffer {
  const ct = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/${kind === 'docx' ? 'word/document.xml' : 'xl/workbook.xml'}" ContentType="application/vnd.openxmlformats-officedocument.${kind === 'docx' ? 'wordprocessingml.document.main' : 'spreadsheetml.sheet.main'}+xml"/></Types>`;
  const rels = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="${kind === 'docx' ? 'word/document.xml' : 'xl/workbook.xml'}"/></Relationships>`;
  const members = [
    { name: '[Content_Types].xml', data: Buffer.from(ct) },
    { name: '_rels/.rels', data: Buffer.from(rels) },
    { name: 'docProps/core.xml', data: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>${sentence(rng)}</dc:title></cp:coreProperties>`) },
  ];
  if (kind === 'docx') {
    const paras = Array.from({ length: rng.int(3, 12) }, () => `<w:p><w:r><w:t>${sentence(rng)}</w:t></w:r></w:p>`).join('');
    members.push({ name: 'word/document.xml', data: Buffer.from(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${paras}</w:body></w:document>`) });
  } else {
    const rows = Array.from({ length: rng.int(3, 30) }, (_, r) => `<row r="${r + 1}"><c r="A${r + 1}"><v>${rng.int(1, 100000)}</v></c><c r="B${r + 1}"><v>${rng.int(1, 1000)}</v></c></row>`).join('');
    members.push({ name: 'xl/workbook.xml', data: Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="Sheet1" sheetId="1"/></sheets></workbook>') });
    members.push({ name: 'xl/worksheets/sheet1.xml', data: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>${rows}</sheetData></worksheet>`) });
  }
  return makeZip(members, 6);
}

/** A small CSV table. */
export function csv(rng: Rng, rows = rng.int(5, 60)): Buffer {
  let s = 'date,customer,item,quantity,amount\r\n';
  for (let i = 0; i < rows; i++) {
    s += `2024-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')},${rng.pick(LAST)} ${rng.pick(['GmbH', 'Ltd', 'Inc', 'SA', 'AB'])},${rng.pick(WORDS)},${rng.int(1, 50)},${rng.int(1, 99999) / 100}\r\n`;
  }
  return Buffer.from(s);
}

/** A small iCalendar invitation. */
export function ics(rng: Rng, organizer: Person): Buffer {
  const d = `2024${String(rng.int(1, 12)).padStart(2, '0')}${String(rng.int(1, 28)).padStart(2, '0')}`;
  const h = String(rng.int(8, 17)).padStart(2, '0');
  const s = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//avbench//corpus//EN', 'METHOD:REQUEST', 'BEGIN:VEVENT', `UID:${rng.hex(12)}@${organizer.address.split('@')[1] ?? 'example.com'}`,
    `DTSTAMP:${d}T070000Z`, `DTSTART:${d}T${h}0000Z`, `DTEND:${d}T${h}3000Z`, `SUMMARY:${subject(rng)}`, `ORGANIZER;CN=${organizer.name}:mailto:${organizer.address}`, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
  return Buffer.from(s);
}
