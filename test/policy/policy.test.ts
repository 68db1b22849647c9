/**
 * The one policy module (src/modes/policy.ts): decide(), header-safe names, the status
 * headers written, stripped and parsed back in one place, the one vocabulary with its old
 * spellings, and timeouts in seconds with a unit.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/config.js';
import { headerFieldRanges, rewriteHeader } from '../../src/core/mime/headers.js';
import type { Verdict } from '../../src/core/types.js';
import {
  decide,
  FAIL_ACTIONS,
  headerSafe,
  INFECTED_ACTIONS,
  nameList,
  parseTimeout,
  parseVirusStatus,
  policyFrom,
  resolvePolicy,
  safeVirusNames,
  scannedValue,
  statusHeaderLines,
  virusNamesIn,
  withStatusHeaders,
} from '../../src/modes/policy.js';

const clean: Verdict = { status: 'clean' };
const infected = (...names: string[]): Verdict => ({ status: 'infected', detections: names.map((name) => ({ name, scanner: 's' })) });
const failed: Verdict = { status: 'error', error: { code: 'TIMEOUT', message: 'no answer' } };

describe('decide', () => {
  it('clean is accepted, whatever the policy', () => {
    for (const onInfected of INFECTED_ACTIONS) for (const onFail of FAIL_ACTIONS) expect(decide(clean, { onInfected, onFail })).toMatchObject({ action: 'accept', status: 'Clean' });
  });

  it('infected: each action, names unique and in order', () => {
    const v = infected('A', 'B', 'A');
    expect(decide(v)).toMatchObject({ action: 'reject', names: ['A', 'B'], status: 'Infected (A, B)', refusal: { code: 550, enhanced: '5.7.1', text: 'Virus found: A, B' } });
    expect(decide(v, { onInfected: 'tempfail', onFail: 'tempfail' })).toMatchObject({ action: 'tempfail', refusal: { code: 451, enhanced: '4.7.1' } });
    for (const a of ['drop', 'tag', 'quarantine'] as const) expect(decide(v, { onInfected: a, onFail: 'tempfail' })).toMatchObject({ action: a, status: 'Infected (A, B)' });
  });

  it('a scanner failure: one tempfail text (451 4.3.0) or, failing open, tagged Unchecked (CODE)', () => {
    expect(decide(failed)).toMatchObject({ action: 'tempfail', errorCode: 'TIMEOUT', refusal: { code: 451, enhanced: '4.3.0', text: 'Virus scan failed (TIMEOUT), try again later' } });
    expect(decide(failed, { onInfected: 'reject', onFail: 'accept' })).toMatchObject({ action: 'tag', status: 'Unchecked (TIMEOUT)' });
  });
});

describe('header-safe names', () => {
  const hostile = ['Evil\r\nX-Injected: yes', 'Nul\0Byte\r\n\r\nbody', 'Tab\there', 'Euro-€', '\x1b[31mred\x7f\x85', '\r\n\0'];

  it('CR, LF, NUL and other controls never survive; non-ASCII becomes ?; empty becomes unnamed', () => {
    const names = safeVirusNames(infected(...hostile));
    expect(names).toEqual(['Evil X-Injected: yes', 'NulByte body', 'Tab here', 'Euro-?', '[31mred', 'unnamed']);
    for (const n of names) expect(n).toMatch(/^[\x20-\x7e]+$/);
  });

  it('length bounded: a name, the list in a header line, the X-Virus-Status line under 998 bytes', () => {
    expect(headerSafe('x'.repeat(5000))).toHaveLength(200);
    const many = Array.from({ length: 100 }, (_, i) => `Some.Long.Virus.Name-${i}`);
    const d = decide(infected(...many, 'y'.repeat(5000)), { onInfected: 'tag', onFail: 'tempfail' });
    expect(d.list.length).toBeLessThanOrEqual(405);
    expect(d.list.endsWith(', ...')).toBe(true);
    for (const l of statusHeaderLines(d, scannedValue(['clamd']))) expect(l.length).toBeLessThan(998);
    expect(nameList(['z'.repeat(500)], 10)).toBe('zzzzzzzzzz...');
  });

  it('the scanner list and host in X-Virus-Scanned are header-safe too', () => {
    expect(scannedValue(['clamd', 'ya\r\nra'])).toBe('avbench (clamd, ya ra)');
    expect(scannedValue(['embedded'], { via: 'deliver', host: 'mx\n1' })).toBe('avbench deliver (embedded) on mx 1');
  });
});

describe('status headers: written, stripped and parsed in one place', () => {
  it('strips both X-Virus-Status and X-Virus-Scanned (with continuations, any case, top-level header only) and prepends ours', () => {
    const msg = Buffer.from('From: a@b\r\nx-virus-status: Clean\r\n  forged\r\nX-Virus-Scanned : by nobody\r\nSubject: s\r\n\r\nX-Virus-Status: body text stays\r\n');
    const d = decide(infected('A'), { onInfected: 'tag', onFail: 'tempfail' });
    const out = withStatusHeaders(msg, statusHeaderLines(d, scannedValue(['embedded']))).toString();
    expect(out).toBe('X-Virus-Scanned: avbench (embedded)\r\nX-Virus-Status: Infected (A)\r\nFrom: a@b\r\nSubject: s\r\n\r\nX-Virus-Status: body text stays\r\n');
  });

  it('keeps an mbox From line first and a bare-LF message in LF', () => {
    const out = withStatusHeaders(Buffer.from('From a@b Mon Jan  1 00:00:00 2024\nX-Virus-Status: Clean\nSubject: s\n\nbody\n'), ['X-Virus-Status: Infected (A)']).toString();
    expect(out).toBe('From a@b Mon Jan  1 00:00:00 2024\nX-Virus-Status: Infected (A)\nSubject: s\n\nbody\n');
  });

  it('the tokenizer keeps offsets: fields with their continuation lines, junk skipped', () => {
    const b = Buffer.from('A: 1\r\n 2\r\njunk\r\n cont\r\nB:x\r\n');
    expect(headerFieldRanges(b).map((f) => [f.name, b.toString('latin1', f.start, f.end)])).toEqual([
      ['A', 'A: 1\r\n 2\r\n'],
      ['B', 'B:x\r\n'],
    ]);
    expect(rewriteHeader(Buffer.from('a: 1\n\nb'), ['X: y'], ['A']).toString()).toBe('X: y\n\nb');
  });

  it('parses what it writes back, and the forms of clamav-milter / clamsmtpd', () => {
    for (const v of [clean, infected('A', 'B.UNOFFICIAL'), failed, infected('EICAR test file (not a virus)')]) {
      const d = decide(v, { onInfected: 'tag', onFail: 'accept' });
      const p = parseVirusStatus(d.status);
      expect(p?.verdict).toBe(v.status);
      expect(p?.names).toEqual(d.names);
      if (v.status === 'error') expect(p?.errorCode).toBe('TIMEOUT');
    }
    expect(parseVirusStatus('Infected Eicar-Test-Signature')).toEqual({ verdict: 'infected', names: ['Eicar-Test-Signature'] });
    expect(parseVirusStatus('Unchecked')).toEqual({ verdict: 'error', names: [], errorCode: 'UNCHECKED' });
    expect(parseVirusStatus('Spam')).toBeUndefined();
    expect(virusNamesIn('550 5.7.1 Virus found: A, B')).toEqual(['A', 'B']);
    expect(virusNamesIn('451 4.7.1 Virus found: A, try again later')).toEqual(['A']);
  });
});

describe('one vocabulary', () => {
  it('old spellings are accepted with one warning line each; unknown words are config errors', () => {
    const lines: string[] = [];
    const warn = (l: string): void => void lines.push(l);
    expect(policyFrom({ onInfected: 'discard', onFail: 'accept-tagged' }, undefined, { warn })).toEqual({ onInfected: 'drop', onFail: 'accept' });
    expect(policyFrom({ onInfected: 'accept', onFail: 'deliver-tagged' }, undefined, { warn })).toEqual({ onInfected: 'tag', onFail: 'accept' });
    expect(lines).toEqual([
      '--on-infected discard is deprecated; use --on-infected drop',
      '--on-fail accept-tagged is deprecated; use --on-fail accept',
      '--on-infected accept is deprecated; use --on-infected tag',
      '--on-fail deliver-tagged is deprecated; use --on-fail accept',
    ]);
    expect(() => policyFrom({ onInfected: 'bounce' }, undefined, { warn })).toThrow(ConfigError);
    expect(() => policyFrom({ onFail: 'open' }, undefined, { warn })).toThrow(/--on-fail: expected one of tempfail, accept/);
  });

  it('the config file policy applies when the option is not given; the option wins', () => {
    const config = parseConfig({ scanners: {}, policy: { onInfected: 'tag', onFail: 'accept' } });
    expect(policyFrom({}, config.policy)).toEqual({ onInfected: 'tag', onFail: 'accept' });
    expect(policyFrom({ onInfected: 'reject' }, config.policy)).toEqual({ onInfected: 'reject', onFail: 'accept' });
    expect(policyFrom({}, undefined)).toEqual({ onInfected: 'reject', onFail: 'tempfail' });
    expect(() => policyFrom({}, parseConfig({ scanners: {}, policy: { onFail: 'maybe' } }).policy)).toThrow(/config policy.onFail/);
    expect(() => parseConfig({ scanners: {}, policy: { onVirus: 'tag' } })).toThrow(/unknown policy key "onVirus"/);
  });

  it('library options: defaults, old spellings mapped, unknown words a TypeError', () => {
    expect(resolvePolicy({}, 'x')).toEqual({ onInfected: 'reject', onFail: 'tempfail' });
    expect(resolvePolicy({ onInfected: 'discard', onFail: 'accept-tagged' }, 'x')).toEqual({ onInfected: 'drop', onFail: 'accept' });
    expect(() => resolvePolicy({ onInfected: 'nope' }, 'x')).toThrow(TypeError);
  });

  it('timeouts: seconds, or with a unit; the milter/proxy bare milliseconds (≥ 1000) still read, with a warning', () => {
    expect(parseTimeout('30', '--timeout')).toBe(30_000);
    expect(parseTimeout('30s', '--timeout')).toBe(30_000);
    expect(parseTimeout('500ms', '--timeout')).toBe(500);
    expect(parseTimeout('2m', '--timeout')).toBe(120_000);
    const lines: string[] = [];
    const warn = (l: string): void => void lines.push(l);
    expect(parseTimeout('30000', '--timeout', { legacyMs: true, warn })).toBe(30_000);
    expect(parseTimeout('1500', '--timeout', { legacyMs: true, warn })).toBe(1_500);
    expect(parseTimeout('30', '--timeout', { legacyMs: true, warn })).toBe(30_000);
    expect(lines).toEqual([
      '--timeout 30000 in milliseconds is deprecated; timeouts are seconds now: use --timeout 30s',
      '--timeout 1500 in milliseconds is deprecated; timeouts are seconds now: use --timeout 1500ms',
    ]);
    expect(() => parseTimeout('5x', '--timeout')).toThrow(ConfigError);
    expect(() => parseTimeout('0', '--timeout')).toThrow(/more than 0/);
  });
});
