import { describe, expect, it } from 'vitest';
import { parseClamdConf, parseClamdSize } from '../../adapters/clamd/config.js';
import { END_OF_STREAM, INSTREAM, MAX_SCAN_PATH_BYTES, frameChunks, isHeuristic, parseReply, parseScanReply, parseVersion, scanCommand } from '../../adapters/clamd/protocol.js';

describe('clamd protocol codec', () => {
  it('frames INSTREAM chunks as <u32 BE length><bytes>', () => {
    const data = Buffer.from('abcdefghij');
    const frames = frameChunks(data, 4);
    const wire = Buffer.concat([INSTREAM, ...frames, END_OF_STREAM]);
    expect(wire.subarray(0, 10).toString('latin1')).toBe('zINSTREAM\0');
    expect(Buffer.concat(frames).toString('hex')).toBe(
      '00000004' + Buffer.from('abcd').toString('hex') + '00000004' + Buffer.from('efgh').toString('hex') + '00000002' + Buffer.from('ij').toString('hex'),
    );
    expect(wire.subarray(-4).readUInt32BE(0)).toBe(0);
    expect(frameChunks(Buffer.alloc(0), 4)).toEqual([]);
  });

  it('parses replies, with and without session numbers', () => {
    expect(parseReply('stream: OK')).toEqual({ kind: 'clean' });
    expect(parseReply('7: stream: OK')).toEqual({ kind: 'clean' });
    expect(parseReply('stream: Eicar-Test-NDB.UNOFFICIAL FOUND')).toEqual({ kind: 'found', name: 'Eicar-Test-NDB.UNOFFICIAL' });
    expect(parseReply('2: stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND')).toEqual({ kind: 'found', name: 'Heuristics.Limits.Exceeded.MaxFileSize' });
    expect(parseReply('INSTREAM size limit exceeded. ERROR')).toMatchObject({ kind: 'size-limit' });
    expect(parseReply('1: INSTREAM size limit exceeded. ERROR')).toMatchObject({ kind: 'size-limit' });
    expect(parseReply('UNKNOWN COMMAND ERROR')).toEqual({ kind: 'error', message: 'UNKNOWN COMMAND ERROR' });
    expect(parseReply('HTTP/1.1 400 Bad Request')).toMatchObject({ kind: 'garbage' });
    expect(parseReply('stream:  FOUND')).toMatchObject({ kind: 'garbage' });
    expect(parseReply('')).toMatchObject({ kind: 'garbage' });
  });

  it('flags heuristic names', () => {
    expect(isHeuristic('Heuristics.Phishing.Email.SpoofedDomain')).toBe(true);
    expect(isHeuristic('Eicar-Test-NDB.UNOFFICIAL')).toBe(false);
    expect(isHeuristic('Win.Trojan.Heuristics-1')).toBe(false);
  });

  it('parses VERSION with and without database info', () => {
    expect(parseVersion('ClamAV 1.4.6')).toEqual({ version: 'ClamAV 1.4.6' });
    expect(parseVersion('ClamAV 1.4.6/27400/Mon Nov 24 09:00:00 2026')).toEqual({ version: 'ClamAV 1.4.6', signatures: 'daily 27400 (Mon Nov 24 09:00:00 2026)' });
    expect(parseVersion('PONG')).toBeUndefined();
  });
});

describe('clamd SCAN command and replies', () => {
  it('builds zSCAN for absolute paths only, refusing newlines, NULs and overlong paths', () => {
    expect(scanCommand('/srv/mail/a b.eml')?.toString('utf8')).toBe('zSCAN /srv/mail/a b.eml\0');
    expect(scanCommand('relative.eml')).toBeUndefined();
    expect(scanCommand('/a\nb.eml')).toBeUndefined();
    expect(scanCommand('/a\rb.eml')).toBeUndefined();
    expect(scanCommand('/a\0b.eml')).toBeUndefined();
    expect(scanCommand(`/${'x'.repeat(MAX_SCAN_PATH_BYTES)}`)).toBeUndefined();
  });
  it('parses OK, FOUND and ERROR, with and without a session number', () => {
    expect(parseScanReply('/m/a: b.eml: OK', '/m/a: b.eml')).toEqual({ kind: 'clean' });
    expect(parseScanReply('7: /m/x.eml: Eicar-Test-Signature FOUND', '/m/x.eml', 7)).toEqual({ kind: 'found', name: 'Eicar-Test-Signature' });
    expect(parseScanReply('/m/x.eml: File path check failure: No such file or directory. ERROR', '/m/x.eml').kind).toBe('error');
    expect(parseScanReply('3: /m/x.eml: Excluded', '/m/x.eml', 3).kind).toBe('error');
  });
  it('refuses replies for another path or another command number', () => {
    expect(parseScanReply('/m/other.eml: OK', '/m/x.eml').kind).toBe('garbage');
    expect(parseScanReply('8: /m/x.eml: OK', '/m/x.eml', 7).kind).toBe('garbage');
    expect(parseScanReply('/m/x.eml: OK', '/m/x.eml', 7).kind).toBe('garbage');
    expect(parseScanReply('stream: OK', '/m/x.eml').kind).toBe('garbage');
  });
});

describe('clamd.conf reading', () => {
  it('prefers LocalSocket, like clamdscan', () => {
    const info = parseClamdConf('# comment\nExample\nTCPSocket 3310\nLocalSocket /run/clamav/clamd.ctl\nStreamMaxLength 10M\n');
    expect(info).toEqual({ endpoint: { path: '/run/clamav/clamd.ctl' }, streamMaxLength: 10 * 1024 * 1024 });
  });
  it('falls back to TCPSocket on the first TCPAddr, tolerating case, quotes, tabs and CRLF', () => {
    expect(parseClamdConf('tcpsocket\t3310\r\nTCPAddr "10.0.0.5"\r\nTCPAddr 127.0.0.1\r\n')).toEqual({ endpoint: { host: '10.0.0.5', port: 3310 } });
    expect(parseClamdConf('TCPSocket 3310\n')).toEqual({ endpoint: { host: '127.0.0.1', port: 3310 } });
  });
  it('gives nothing for a config without a socket, and skips junk', () => {
    expect(parseClamdConf('   \n#LocalSocket /x\nTCPSocket notaport\n=== junk\n')).toEqual({});
  });
  it('parses clamd sizes', () => {
    expect(parseClamdSize('25M')).toBe(25 * 1024 * 1024);
    expect(parseClamdSize('512k')).toBe(512 * 1024);
    expect(parseClamdSize('1G')).toBe(1024 ** 3);
    expect(parseClamdSize('1000')).toBe(1000);
    expect(parseClamdSize('lots')).toBeUndefined();
  });
});
