import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bodyChunks,
  encodeCommand,
  encodePacket,
  encodeReply,
  MILTER_CHUNK_SIZE,
  MilterProtocolError,
  PacketDecoder,
  parseCommand,
  parseReply,
  SMFIF,
  SMFIP,
  type MilterCommand,
  type MilterReply,
} from '../../../src/modes/milter/codec.js';
import { parseMilterSocket, parseMilterUrl } from '../../../src/modes/milter/socket-spec.js';

/** Binary (latin1) strings without NUL, as the protocol carries them. */
const str = fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((n) => String.fromCharCode(n)), maxLength: 40 });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));

const command: fc.Arbitrary<MilterCommand> = fc.oneof(
  fc.record({ type: fc.constant('optneg' as const), version: u32, actions: u32, protocol: u32 }),
  fc.record({ type: fc.constant('connect' as const), hostname: str, family: fc.constantFrom('L' as const, '4' as const, '6' as const), port: fc.integer({ min: 0, max: 65535 }), address: str }),
  fc.record({ type: fc.constant('connect' as const), hostname: str, family: fc.constant('U' as const), port: fc.constant(0), address: fc.constant('') }),
  fc.record({ type: fc.constant('macro' as const), stage: fc.constantFrom('C', 'H', 'M', 'R', 'T', 'E', 'N', 'L'), macros: fc.array(fc.tuple(str, str), { maxLength: 5 }) }),
  fc.record({ type: fc.constant('helo' as const), name: str }),
  fc.record({ type: fc.constant('mail' as const), args: fc.array(str, { minLength: 1, maxLength: 4 }) }),
  fc.record({ type: fc.constant('rcpt' as const), args: fc.array(str, { minLength: 1, maxLength: 4 }) }),
  fc.record({ type: fc.constant('header' as const), name: str, value: str }),
  fc.record({ type: fc.constant('body' as const), chunk: bytes }),
  fc.record({ type: fc.constant('eom' as const), chunk: bytes }),
  fc.record({ type: fc.constant('unknown' as const), command: str }),
  fc.constantFrom<MilterCommand>({ type: 'data' }, { type: 'eoh' }, { type: 'abort' }, { type: 'quit' }, { type: 'quitNewConn' }),
);

const reply: fc.Arbitrary<MilterReply> = fc.oneof(
  fc.record({ type: fc.constant('optneg' as const), version: u32, actions: u32, protocol: u32 }),
  fc.constantFrom<MilterReply>(
    { type: 'accept' },
    { type: 'continue' },
    { type: 'reject' },
    { type: 'tempfail' },
    { type: 'discard' },
    { type: 'skip' },
    { type: 'progress' },
    { type: 'connFail' },
    { type: 'shutdown' },
  ),
  fc.record({ type: fc.constant('replycode' as const), text: str }),
  fc.record({ type: fc.constant('quarantine' as const), reason: str }),
  fc.record({ type: fc.constant('addHeader' as const), name: str, value: str }),
  fc.record({ type: fc.constantFrom('insertHeader' as const, 'changeHeader' as const), index: u32, name: str, value: str }),
  fc.record({ type: fc.constant('replaceBody' as const), chunk: bytes }),
  fc.record({ type: fc.constantFrom('addRcpt' as const, 'delRcpt' as const), rcpt: str }),
  fc.record({ type: fc.constant('addRcptPar' as const), rcpt: str, args: str }),
  fc.record({ type: fc.constant('changeFrom' as const), from: str, args: str }),
  fc.record({ type: fc.constant('setSymList' as const), stage: u32, macros: str }),
);

function decodeAll(buf: Buffer, cuts: number[]): { cmd: string; data: Buffer }[] {
  const d = new PacketDecoder();
  const out = [];
  let prev = 0;
  for (const c of [...cuts, buf.length]) {
    out.push(...d.push(buf.subarray(prev, c)));
    prev = c;
  }
  expect(d.buffered).toBe(0);
  return out;
}

describe('milter constants (libmilter mfdef.h)', () => {
  it('has the version 6 action and protocol bits', () => {
    expect(SMFIF.ADDHDRS).toBe(0x1);
    expect(SMFIF.QUARANTINE).toBe(0x20);
    expect(SMFIF.SETSYMLIST).toBe(0x100);
    expect(SMFIP.NOEOH).toBe(0x40);
    expect(SMFIP.NR_HDR).toBe(0x80);
    expect(SMFIP.SKIP).toBe(0x400);
    expect(SMFIP.NR_CONN).toBe(0x1000);
    expect(SMFIP.NR_BODY).toBe(0x80000);
    expect(SMFIP.HDR_LEADSPC).toBe(0x100000);
  });
});

describe('milter packets', () => {
  it('frames <u32 BE length><cmd><data>, the length counting the command byte', () => {
    expect(encodePacket('c')).toEqual(Buffer.from([0, 0, 0, 1, 0x63]));
    expect(encodeCommand({ type: 'header', name: 'Subject', value: 'hi' })).toEqual(Buffer.from('\0\0\0\x0cLSubject\0hi\0', 'latin1'));
    expect(encodeReply({ type: 'replycode', text: '550 5.7.1 x' })).toEqual(Buffer.from('\0\0\0\x0dy550 5.7.1 x\0', 'latin1'));
  });
  it('encodes connect like an MTA: host, family, port (BE), address', () => {
    const b = encodeCommand({ type: 'connect', hostname: 'h', family: '4', port: 0x1234, address: '127.0.0.1' });
    expect(b.subarray(4)).toEqual(Buffer.from('Ch\x004\x12\x34127.0.0.1\0', 'latin1'));
    expect(encodeCommand({ type: 'optneg', version: 6, actions: 0x1ff, protocol: 0x1fffff }).subarray(4)).toEqual(Buffer.from('O\0\0\0\x06\0\0\x01\xff\0\x1f\xff\xff', 'latin1'));
  });
  it('round-trips every command, decoded from any split', () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (cmds, rawCuts) => {
        const buf = Buffer.concat(cmds.map(encodeCommand));
        const cuts = [...new Set(rawCuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
        const back = decodeAll(buf, cuts).map(parseCommand);
        expect(back).toEqual(cmds);
      }),
      { numRuns: 300 },
    );
  });
  it('round-trips every reply', () => {
    fc.assert(
      fc.property(reply, (r) => {
        const packets = new PacketDecoder().push(encodeReply(r));
        expect(packets).toHaveLength(1);
        expect(parseReply(packets[0]!)).toEqual(r);
      }),
      { numRuns: 300 },
    );
  });
  it('gives the same packets when the bytes are split at every position, or fed one by one', () => {
    const cmds: MilterCommand[] = [
      { type: 'optneg', version: 6, actions: 0x1ff, protocol: 0x1fffff },
      { type: 'macro', stage: 'C', macros: [['j', 'mx.example'], ['{daemon_name}', 'smtpd']] },
      { type: 'header', name: 'From', value: ' a@b' },
      { type: 'body', chunk: Buffer.from('line\r\n'.repeat(20)) },
      { type: 'eom', chunk: Buffer.alloc(0) },
    ];
    const buf = Buffer.concat(cmds.map(encodeCommand));
    for (let i = 0; i <= buf.length; i++) expect(decodeAll(buf, [i]).map(parseCommand)).toEqual(cmds);
    expect(decodeAll(buf, [...Array(buf.length).keys()]).map(parseCommand)).toEqual(cmds);
  });
  it('refuses a packet longer than the cap before buffering it, and a zero length', () => {
    const d = new PacketDecoder(1000);
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(0x7fffffff, 0);
    expect(() => d.push(huge)).toThrow(MilterProtocolError);
    expect(() => new PacketDecoder().push(Buffer.from([0, 0, 0, 0]))).toThrow(/length 0/);
    expect(() => new PacketDecoder(1000).push(encodePacket('B', Buffer.alloc(1000)))).toThrow(/exceeds/);
    expect(new PacketDecoder(1001).push(encodePacket('B', Buffer.alloc(1000)))).toHaveLength(1);
  });
  it('rejects malformed payloads and unknown bytes with PROTOCOL', () => {
    const bad = (cmd: string, data: string): unknown => {
      try {
        parseCommand({ cmd, data: Buffer.from(data, 'latin1') });
      } catch (e) {
        return (e as MilterProtocolError).code;
      }
      return 'parsed';
    };
    expect(bad('L', 'Subject\0no-terminator')).toBe('PROTOCOL');
    expect(bad('O', '\0\0\0\x06')).toBe('PROTOCOL');
    expect(bad('C', 'host\0X')).toBe('PROTOCOL');
    expect(bad('C', 'host\x004\x01')).toBe('PROTOCOL');
    expect(bad('D', 'Cj\0')).toBe('PROTOCOL');
    expect(bad('M', '')).toBe('PROTOCOL');
    expect(bad('Z', '')).toBe('PROTOCOL');
    expect(() => parseReply({ cmd: 'Z', data: Buffer.alloc(0) })).toThrow(MilterProtocolError);
    expect(() => encodeCommand({ type: 'helo', name: 'a\0b' })).toThrow(TypeError);
  });
  it('splits bodies into chunks of at most 65535 bytes', () => {
    const body = Buffer.alloc(MILTER_CHUNK_SIZE * 2 + 10, 0x61);
    const chunks = bodyChunks(body);
    expect(chunks.map((c) => c.length)).toEqual([65535, 65535, 10]);
    expect(Buffer.concat(chunks)).toEqual(body);
    expect(bodyChunks(Buffer.alloc(0))).toEqual([]);
  });
});

describe('milter sockets', () => {
  it('parses inet and unix specs and driver URLs', () => {
    expect(parseMilterSocket('inet:7357@127.0.0.1')).toEqual({ kind: 'inet', host: '127.0.0.1', port: 7357 });
    expect(parseMilterSocket('inet:7357')).toEqual({ kind: 'inet', host: '127.0.0.1', port: 7357 });
    expect(parseMilterSocket('unix:/run/m.sock')).toEqual({ kind: 'unix', path: '/run/m.sock' });
    expect(parseMilterSocket('local:/run/m.sock')).toEqual({ kind: 'unix', path: '/run/m.sock' });
    expect(parseMilterUrl('milter://127.0.0.1:7357')).toEqual({ kind: 'inet', host: '127.0.0.1', port: 7357 });
    expect(parseMilterUrl('milter+unix:///tmp/x.sock')).toEqual({ kind: 'unix', path: '/tmp/x.sock' });
    expect(() => parseMilterSocket('tcp:1@x')).toThrow(TypeError);
    expect(() => parseMilterSocket('inet:99999@x')).toThrow(TypeError);
    expect(() => parseMilterSocket('unix:relative')).toThrow(TypeError);
    expect(() => parseMilterUrl('http://x')).toThrow(TypeError);
  });
});
