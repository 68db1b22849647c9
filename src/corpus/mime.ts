/**
 * Hand-rolled MIME writing for the corpus generator: transfer encoders (base64, quoted-
 * printable, uuencode), header words (RFC 2047 encoded words, RFC 2231 parameters) and a
 * tiny message tree rendered to bytes with a chosen line ending. Written by hand, not with
 * a mail library, because the corpus needs exact control over odd and broken forms.
 */

/** A leaf part: headers plus an already transfer-encoded body. */
export interface LeafNode {
  kind: 'leaf';
  headers: Array<[string, string]>;
  body: Buffer;
}

/** A multipart: headers (Content-Type should name `boundary`), children and options. */
export interface MultipartNode {
  kind: 'multipart';
  headers: Array<[string, string]>;
  boundary: string;
  parts: MimeNode[];
  preamble?: string;
  epilogue?: string;
  /** false: leave out the closing `--boundary--` (an unclosed final boundary). */
  close?: boolean;
}

/** A message/rfc822 part: headers of the part and the whole inner message. */
export interface MessageNode {
  kind: 'message';
  headers: Array<[string, string]>;
  inner: MimeNode;
}

/** A node of the message tree. */
export type MimeNode = LeafNode | MultipartNode | MessageNode;

/** Line ending used when rendering: CRLF (the wire form) or LF (as stored on many Unix systems). */
export type Eol = '\r\n' | '\n';

/** Render a tree to bytes. Header values may already contain folded lines joined with "\r\n ". */
export function render(node: MimeNode, eol: Eol = '\r\n'): Buffer {
  const chunks: Buffer[] = [];
  renderInto(node, eol, chunks);
  return Buffer.concat(chunks);
}

function headerBlock(headers: Array<[string, string]>, eol: Eol): string {
  let s = '';
  for (const [name, value] of headers) s += `${name}: ${value.replace(/\r?\n/g, eol)}${eol}`;
  return s;
}

function renderInto(node: MimeNode, eol: Eol, out: Buffer[]): void {
  out.push(Buffer.from(headerBlock(node.headers, eol) + eol, 'latin1'));
  switch (node.kind) {
    case 'leaf':
      out.push(eol === '\n' ? toLf(node.body) : node.body);
      return;
    case 'message':
      renderInto(node.inner, eol, out);
      return;
    case 'multipart': {
      if (node.preamble !== undefined) out.push(Buffer.from(node.preamble.replace(/\r?\n/g, eol) + eol, 'utf8'));
      node.parts.forEach((part, i) => {
        // The line break before a delimiter belongs to the delimiter (RFC 2046).
        out.push(Buffer.from(`${i === 0 && node.preamble === undefined ? '' : eol}--${node.boundary}${eol}`, 'latin1'));
        renderInto(part, eol, out);
      });
      if (node.close !== false) {
        out.push(Buffer.from(`${eol}--${node.boundary}--${eol}`, 'latin1'));
        if (node.epilogue !== undefined) out.push(Buffer.from(node.epilogue.replace(/\r?\n/g, eol), 'utf8'));
      } else {
        out.push(Buffer.from(eol, 'latin1'));
      }
      return;
    }
  }
}

/** Replace every CRLF by LF (bytes, so binary stays binary apart from that). */
export function toLf(buf: Buffer): Buffer {
  if (buf.indexOf('\r\n') < 0) return buf;
  return Buffer.from(buf.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
}

/** Base64 in lines of `width` characters (76 by default), CRLF-terminated, no final break. */
export function base64Lines(data: Buffer, width = 76): Buffer {
  const b64 = data.toString('base64');
  if (b64.length <= width) return Buffer.from(b64, 'latin1');
  const lines = Math.ceil(b64.length / width);
  const out = Buffer.allocUnsafe(b64.length + (lines - 1) * 2);
  let o = 0;
  for (let i = 0; i < b64.length; i += width) {
    if (i > 0) {
      out[o++] = 13;
      out[o++] = 10;
    }
    o += out.write(b64.slice(i, i + width), o, 'latin1');
  }
  return out;
}

/**
 * Quoted-printable (RFC 2045) with soft line breaks at 76. `forceEncode` lists extra
 * printable bytes to write as =XX anyway (legal, and makes a decoder do real work).
 */
export function quotedPrintable(data: Buffer, forceEncode: (byte: number, index: number) => boolean = () => false): Buffer {
  let out = '';
  let line = '';
  const flush = (soft: boolean): void => {
    out += line + (soft ? '=\r\n' : '\r\n');
    line = '';
  };
  for (let i = 0; i < data.length; i++) {
    const b = data[i] as number;
    if (b === 13 && data[i + 1] === 10) {
      // a hard line break; trailing whitespace before it must be encoded
      const last = line.charCodeAt(line.length - 1);
      if (line.length > 0 && (last === 32 || last === 9)) line = line.slice(0, -1) + '=' + last.toString(16).toUpperCase().padStart(2, '0');
      flush(false);
      i++;
      continue;
    }
    const printable = (b >= 33 && b <= 126 && b !== 61) || b === 32 || b === 9;
    const token = printable && !forceEncode(b, i) ? String.fromCharCode(b) : '=' + b.toString(16).toUpperCase().padStart(2, '0');
    if (line.length + token.length > 75) flush(true);
    line += token;
  }
  const last = line.charCodeAt(line.length - 1);
  if (line.length > 0 && (last === 32 || last === 9)) line = line.slice(0, -1) + '=' + last.toString(16).toUpperCase().padStart(2, '0');
  out += line;
  return Buffer.from(out, 'latin1');
}

/** A uuencoded block (`begin MODE NAME` ... `end`), lines CRLF-terminated, with "`" for zero. */
export function uuencode(data: Buffer, name: string, mode = '644'): string {
  const enc = (v: number): string => (v === 0 ? '`' : String.fromCharCode(v + 32));
  let s = `begin ${mode} ${name}\r\n`;
  for (let i = 0; i < data.length; i += 45) {
    const chunk = data.subarray(i, i + 45);
    let line = enc(chunk.length);
    for (let j = 0; j < chunk.length; j += 3) {
      const a = chunk[j] ?? 0;
      const b = chunk[j + 1] ?? 0;
      const c = chunk[j + 2] ?? 0;
      line += enc(a >> 2) + enc(((a & 3) << 4) | (b >> 4)) + enc(((b & 15) << 2) | (c >> 6)) + enc(c & 63);
    }
    s += line + '\r\n';
  }
  return s + '`\r\nend\r\n';
}

/** An RFC 2047 encoded word (B or Q), UTF-8. Long texts become several words. */
export function encodedWord(text: string, mode: 'B' | 'Q' = 'B', charset = 'UTF-8'): string {
  const words: string[] = [];
  // split on character boundaries so no multi-byte character is cut
  let piece = '';
  const pieces: string[] = [];
  for (const ch of text) {
    if (Buffer.byteLength(piece + ch, 'utf8') > 30) {
      pieces.push(piece);
      piece = '';
    }
    piece += ch;
  }
  if (piece !== '') pieces.push(piece);
  for (const p of pieces) {
    const bytes = Buffer.from(p, 'utf8');
    if (mode === 'B') words.push(`=?${charset}?B?${bytes.toString('base64')}?=`);
    else {
      let q = '';
      for (const b of bytes) {
        if (b === 32) q += '_';
        else if ((b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122)) q += String.fromCharCode(b);
        else q += '=' + b.toString(16).toUpperCase().padStart(2, '0');
      }
      words.push(`=?${charset}?Q?${q}?=`);
    }
  }
  return words.join('\r\n ');
}

/** Percent-encode for an RFC 2231 extended parameter value. */
function pct2231(text: string): string {
  let s = '';
  for (const b of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(b);
    s += /[A-Za-z0-9._-]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return s;
}

/**
 * An RFC 2231 parameter: `name*=UTF-8''...`, or split into continuations
 * (`name*0*=UTF-8''...; name*1*=...`) when `pieces` > 1. Returns the text after "; ".
 */
export function rfc2231Param(name: string, value: string, pieces = 1): string {
  const enc = pct2231(value);
  if (pieces <= 1) return `${name}*=UTF-8''${enc}`;
  // cut only between %XX escapes
  const tokens = enc.match(/%[0-9A-F]{2}|./g) ?? [];
  const per = Math.ceil(tokens.length / pieces);
  const parts: string[] = [];
  for (let i = 0; i < pieces; i++) {
    const t = tokens.slice(i * per, (i + 1) * per).join('');
    if (t === '') break;
    parts.push(`${name}*${i}*=${i === 0 ? "UTF-8''" : ''}${t}`);
  }
  return parts.join(';\r\n ');
}

/** A leaf with the given content type, transfer encoding name (as written) and encoded body. */
export function leaf(contentType: string, encoding: string | undefined, body: Buffer, extra: Array<[string, string]> = []): LeafNode {
  const headers: Array<[string, string]> = [['Content-Type', contentType]];
  if (encoding !== undefined) headers.push(['Content-Transfer-Encoding', encoding]);
  headers.push(...extra);
  return { kind: 'leaf', headers, body };
}

/** A multipart node. */
export function multipart(subtype: string, boundary: string, parts: MimeNode[], opts: { close?: boolean; preamble?: string; headers?: Array<[string, string]> } = {}): MultipartNode {
  const node: MultipartNode = {
    kind: 'multipart',
    headers: [['Content-Type', `multipart/${subtype};\r\n boundary="${boundary}"`], ...(opts.headers ?? [])],
    boundary,
    parts,
  };
  if (opts.close !== undefined) node.close = opts.close;
  if (opts.preamble !== undefined) node.preamble = opts.preamble;
  return node;
}

/** Text as a CRLF-terminated body (LF in the text become CRLF). */
export function crlf(text: string): Buffer {
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8');
}
