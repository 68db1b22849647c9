import { describe, expect, it } from 'vitest';
import {
  BufferReader,
  IcapSyntaxError,
  encodeChunk,
  encodeOptions,
  encodeRespmod,
  header,
  lastChunk,
  parseEncapsulated,
  parseIcapUrl,
  parseOptions,
  parseResponseHead,
  readChunked,
  threatFromBlockPage,
  threatFromHeaders,
} from '../../adapters/icap/codec.js';

const url = parseIcapUrl('icap://127.0.0.1:1345/avscan');
const text = (bufs: Buffer[]): string => Buffer.concat(bufs).toString('latin1');

describe('ICAP codec: URLs and requests', () => {
  it('parses ICAP URLs, with the default port', () => {
    expect(parseIcapUrl('icap://scanner.example:1344/srv_clamav?mode=x')).toEqual({
      host: 'scanner.example',
      port: 1344,
      service: '/srv_clamav?mode=x',
      href: 'icap://scanner.example:1344/srv_clamav?mode=x',
    });
    expect(parseIcapUrl('icap://10.0.0.1/avscan').port).toBe(1344);
    expect(() => parseIcapUrl('http://x/y')).toThrow(TypeError);
    expect(() => parseIcapUrl('not a url')).toThrow(TypeError);
  });

  it('encodes OPTIONS', () => {
    expect(encodeOptions(url).toString('latin1')).toBe(
      'OPTIONS icap://127.0.0.1:1345/avscan ICAP/1.0\r\nHost: 127.0.0.1:1345\r\nEncapsulated: null-body=0\r\n\r\n',
    );
  });

  it('encodes chunks and last chunks', () => {
    expect(text(encodeChunk(Buffer.from('0123456789abcdefX')))).toBe('11\r\n0123456789abcdefX\r\n');
    expect(encodeChunk(Buffer.alloc(0))).toEqual([]);
    expect(lastChunk().toString()).toBe('0\r\n\r\n');
    expect(lastChunk(true).toString()).toBe('0; ieof\r\n\r\n');
  });

  it('encodes RESPMOD with correct Encapsulated offsets and no preview', () => {
    const r = encodeRespmod({ url, body: Buffer.from('hello'), filename: 'dir/a b.txt', contentType: 'text/plain' });
    expect(r.needsContinue).toBe(false);
    const wire = text(r.first);
    const [icapHead, rest] = [wire.slice(0, wire.indexOf('\r\n\r\n') + 4), wire.slice(wire.indexOf('\r\n\r\n') + 4)];
    expect(icapHead).toMatch(/^RESPMOD icap:\/\/127\.0\.0\.1:1345\/avscan ICAP\/1\.0\r\nHost: 127\.0\.0\.1:1345\r\nAllow: 204\r\n/);
    expect(icapHead).not.toMatch(/Preview/);
    const enc = /Encapsulated: req-hdr=0, res-hdr=(\d+), res-body=(\d+)/.exec(icapHead);
    expect(enc).not.toBeNull();
    const resHdr = Number(enc?.[1]);
    const resBody = Number(enc?.[2]);
    expect(rest.slice(0, resHdr)).toBe('GET /a%20b.txt HTTP/1.1\r\nHost: avbench.invalid\r\n\r\n');
    expect(rest.slice(resHdr, resBody)).toBe('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n');
    expect(rest.slice(resBody)).toBe('5\r\nhello\r\n0\r\n\r\n');
  });

  it('sends the whole body as preview with ieof when it fits', () => {
    const r = encodeRespmod({ url, body: Buffer.from('small'), preview: 1024 });
    expect(r.needsContinue).toBe(false);
    const wire = text(r.first);
    expect(wire).toMatch(/\r\nPreview: 5\r\n/);
    expect(wire.endsWith('5\r\nsmall\r\n0; ieof\r\n\r\n')).toBe(true);
  });

  it('splits preview and rest when the body is larger, waiting for 100 Continue', () => {
    const r = encodeRespmod({ url, body: Buffer.from('abcdefghij'), preview: 4 });
    expect(r.needsContinue).toBe(true);
    expect(text(r.first)).toMatch(/\r\nPreview: 4\r\n/);
    expect(text(r.first).endsWith('4\r\nabcd\r\n0\r\n\r\n')).toBe(true);
    expect(text(r.rest)).toBe('6\r\nefghij\r\n0\r\n\r\n');
  });

  it('uses null-body for an empty body', () => {
    const r = encodeRespmod({ url, body: Buffer.alloc(0), preview: 1024 });
    expect(text(r.first)).toMatch(/Encapsulated: req-hdr=0, res-hdr=\d+, null-body=\d+\r\n/);
    expect(text(r.first)).not.toMatch(/Preview/);
    expect(r.needsContinue).toBe(false);
  });
});

describe('ICAP codec: responses', () => {
  it('parses a response head with folded headers and repeated names', () => {
    const h = parseResponseHead(
      'ICAP/1.0 200 OK\r\nServer: C-ICAP/0.5.10\r\nX-Infection-Found: Type=0; Resolution=2;\r\n Threat=Eicar-Test-NDB.UNOFFICIAL;\r\n' +
        'X-Violations-Found: 1\r\n\t-\r\n\tEicar-Test-NDB.UNOFFICIAL\r\n\t0\r\n\t0\r\nVia: a\r\nVia: b\r\nEncapsulated: res-hdr=0, res-body=161',
    );
    expect(h?.status).toBe(200);
    expect(h?.version).toBe('ICAP/1.0');
    expect(header(h?.headers ?? new Map(), 'X-Infection-Found')).toBe('Type=0; Resolution=2; Threat=Eicar-Test-NDB.UNOFFICIAL;');
    expect(header(h?.headers ?? new Map(), 'x-violations-found')).toBe('1 - Eicar-Test-NDB.UNOFFICIAL 0 0');
    expect(h?.headers.get('via')).toEqual(['a', 'b']);
    expect(threatFromHeaders(h?.headers ?? new Map())).toBe('Eicar-Test-NDB.UNOFFICIAL');
    expect(parseResponseHead('garbage\r\nX: y')).toBeUndefined();
    expect(parseResponseHead('ICAP/1.0 404 Service not found')?.reason).toBe('Service not found');
  });

  it('reads threat names from X-Virus-ID and X-Virus-Name, not from "no threats"', () => {
    const h = (s: string) => parseResponseHead(`ICAP/1.0 200 OK\r\n${s}`)?.headers ?? new Map();
    expect(threatFromHeaders(h('X-Virus-ID: Win.Test.EICAR_HDB-1'))).toBe('Win.Test.EICAR_HDB-1');
    expect(threatFromHeaders(h('X-Virus-Name: EICAR-Test-File'))).toBe('EICAR-Test-File');
    expect(threatFromHeaders(h('X-Virus-ID: no threats'))).toBeUndefined();
    expect(threatFromHeaders(h('X-Infection-Found: Type=0; Resolution=2'))).toBeUndefined();
  });

  it('parses Encapsulated and rejects offsets going backwards', () => {
    expect(parseEncapsulated('res-hdr=0, res-body=161')).toEqual([
      { name: 'res-hdr', offset: 0 },
      { name: 'res-body', offset: 161 },
    ]);
    expect(parseEncapsulated('null-body=0')).toEqual([{ name: 'null-body', offset: 0 }]);
    expect(parseEncapsulated('res-hdr=10, res-body=5')).toBeUndefined();
    expect(parseEncapsulated('nonsense')).toBeUndefined();
  });

  it('parses OPTIONS', () => {
    const h = parseResponseHead(
      'ICAP/1.0 200 OK\r\nMethods: RESPMOD, REQMOD\r\nService: C-ICAP/0.5.10 server - Antivirus service\r\nISTag: "CI0001-abc"\r\nOptions-TTL: 3600\r\nPreview: 1024\r\nAllow: 204\r\nMax-Connections: 100\r\nEncapsulated: null-body=0',
    );
    expect(parseOptions(h!)).toEqual({
      methods: ['RESPMOD', 'REQMOD'],
      preview: 1024,
      allow204: true,
      istag: 'CI0001-abc',
      service: 'C-ICAP/0.5.10 server - Antivirus service',
      maxConnections: 100,
      ttl: 3600,
    });
  });

  it('decodes chunked bodies with extensions and trailers, and rejects bad ones', async () => {
    const ok = Buffer.from('5; ieof\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT');
    const r = new BufferReader(ok);
    expect((await readChunked(r, 1000)).toString()).toBe('hello0123456789');
    expect(r.remaining()).toBe(4);
    await expect(readChunked(new BufferReader(Buffer.from('zz\r\nhello\r\n0\r\n\r\n')), 1000)).rejects.toBeInstanceOf(IcapSyntaxError);
    await expect(readChunked(new BufferReader(Buffer.from('5\r\nhelloXX0\r\n\r\n')), 1000)).rejects.toBeInstanceOf(IcapSyntaxError);
    await expect(readChunked(new BufferReader(Buffer.from('5\r\nhello\r\n0\r\n\r\n')), 3)).rejects.toBeInstanceOf(IcapSyntaxError);
    await expect(readChunked(new BufferReader(Buffer.from('5\r\nhel')), 1000)).rejects.toBeInstanceOf(IcapSyntaxError);
  });

  it('finds threat names on block pages when they are there', () => {
    expect(threatFromBlockPage(Buffer.from('<html><b>Virus name:</b> Eicar-Test-NDB.UNOFFICIAL</html>'))).toBe('Eicar-Test-NDB.UNOFFICIAL');
    expect(threatFromBlockPage(Buffer.from('The file is infected with the virus EICAR-Test'))).toBe('EICAR-Test');
    expect(threatFromBlockPage(Buffer.from('<html>Access denied by policy</html>'))).toBeUndefined();
  });
});
