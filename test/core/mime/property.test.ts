/**
 * Property tests for the walker: generated well-formed messages decode back to exactly the
 * leaves they were built from; random and mutated messages never throw anything but
 * LimitExceededError, and always finish (the vitest timeout is the hang detector).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Budget, LimitExceededError, resolveLimits } from '../../../src/core/limits.js';
import { walkMime } from '../../../src/core/mime/walk.js';
import { b64, qp } from './helpers.js';

type Node =
  | { kind: 'leaf'; data: Uint8Array; cte: 'base64' | 'quoted-printable' | '8bit'; name: string | null }
  | { kind: 'multi'; children: Node[] }
  | { kind: 'message'; inner: Node };

const leafArb: fc.Arbitrary<Node> = fc.record({
  kind: fc.constant('leaf' as const),
  data: fc.uint8Array({ maxLength: 200 }),
  cte: fc.constantFrom('base64' as const, 'quoted-printable' as const, '8bit' as const),
  name: fc.option(fc.stringMatching(/^[a-z0-9]{1,8}\.(zip|exe|txt)$/), { nil: null }),
});

const treeArb: fc.Arbitrary<Node> = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    fc.record({ kind: fc.constant('multi' as const), children: fc.array(tie('node'), { minLength: 1, maxLength: 4 }) }),
    fc.record({ kind: fc.constant('message' as const), inner: tie('node') }),
  ),
})).node;

let boundaryCounter = 0;

/** Serialize an entity (header + body). 8bit bodies must not contain a line start that looks like a delimiter: we use bytes without '-' and line breaks for those. */
function entity(node: Node, eol: string): string {
  switch (node.kind) {
    case 'leaf': {
      const data = Buffer.from(node.data);
      const name = node.name ? `; name="${node.name}"` : '';
      const body = node.cte === 'base64' ? b64(data, eol) : node.cte === 'quoted-printable' ? qp(data, eol) : safe8bit(data).toString('latin1');
      return `Content-Type: application/octet-stream${name}${eol}Content-Transfer-Encoding: ${node.cte}${eol}${eol}${body}`;
    }
    case 'multi': {
      const b = `bnd${boundaryCounter++}_x`;
      const parts = node.children.map((c) => `--${b}${eol}${entity(c, eol)}${eol}`).join('');
      return `Content-Type: multipart/mixed; boundary="${b}"${eol}${eol}preamble${eol}${parts}--${b}--${eol}`;
    }
    case 'message':
      return `Content-Type: message/rfc822${eol}${eol}Subject: inner${eol}${entity(node.inner, eol)}`;
  }
}

/** 8bit test data free of CR, LF and '-' so it cannot form a delimiter line. */
function safe8bit(data: Buffer): Buffer {
  return Buffer.from(data.map((c) => (c === 0x0a || c === 0x0d || c === 0x2d ? 0x41 : c)));
}

/** Expected leaves in document order: [mimePath, data]. */
function expected(node: Node, path: string, root: boolean): Array<[string, string, string]> {
  const join = (p: string, n: number): string => (p === '' ? String(n) : `${p}.${n}`);
  switch (node.kind) {
    case 'leaf': {
      const p = root ? join(path, 1) : path;
      const data = node.cte === '8bit' ? safe8bit(Buffer.from(node.data)) : Buffer.from(node.data);
      return [[node.name ? `${p}:${node.name}` : p, data.toString('hex'), node.cte]];
    }
    case 'multi':
      return node.children.flatMap((c, i) => expected(c, join(path, i + 1), false));
    case 'message':
      return expected(node.inner, root ? join(path, 1) : path, true);
  }
}

function depthOf(node: Node): number {
  if (node.kind === 'leaf') return 0;
  if (node.kind === 'multi') return 1 + Math.max(...node.children.map(depthOf));
  return 1 + depthOf(node.inner);
}

/** Drain the walker; only limit errors may escape. */
function drain(raw: Buffer, limits = {}): number {
  const budget = new Budget(resolveLimits(limits));
  let n = 0;
  try {
    for (const leaf of walkMime(raw, budget)) {
      expect(Buffer.isBuffer(leaf.data)).toBe(true);
      n++;
    }
  } catch (e) {
    if (!(e instanceof LimitExceededError)) throw e;
  }
  return n;
}

describe('walkMime properties', () => {
  it('well-formed generated messages decode back to exactly their leaves (CRLF and LF)', () => {
    fc.assert(
      fc.property(treeArb, fc.constantFrom('\r\n', '\n'), (tree, eol) => {
        fc.pre(depthOf(tree) <= 15);
        const raw = Buffer.from(`From: a@b\r\nSubject: gen${eol}${entity(tree, eol)}`, 'latin1');
        const budget = new Budget(resolveLimits({}));
        const got = [...walkMime(raw, budget)].map((l) => [l.location, l.data.toString('hex'), l.encoding]);
        expect(got).toEqual(expected(tree, '', true));
      }),
      { numRuns: 300 },
    );
  });

  it('mutated messages never throw anything but LimitExceededError', () => {
    const fragments = ['--', '\r\n', '\n', '=', '=?utf-8?B?', 'begin 644 x\n', 'M86)C\n', 'Content-Type: multipart/mixed; boundary=', 'Content-Type: message/rfc822\n\n', '\x00', '"', ';', '*0*=', "''%", "; name*0*=utf-8''%E2%82", '; name*1*=%AC', '\r\nContent-Transfer-Encoding: base64\r\n', '\r\nContent-Transfer-Encoding: quoted-printable\r\n'];
    fc.assert(
      fc.property(
        treeArb,
        fc.array(
          fc.record({ at: fc.nat(), op: fc.constantFrom('flip', 'cut', 'insert', 'dup'), byte: fc.integer({ min: 0, max: 255 }), frag: fc.constantFrom(...fragments) }),
          { maxLength: 12 },
        ),
        (tree, mutations) => {
          let raw = Buffer.from(entity(tree, '\r\n'), 'latin1');
          for (const m of mutations) {
            const at = raw.length === 0 ? 0 : m.at % raw.length;
            if (m.op === 'flip' && raw.length > 0) raw[at] = m.byte;
            else if (m.op === 'cut') raw = raw.subarray(0, at);
            else if (m.op === 'insert') raw = Buffer.concat([raw.subarray(0, at), Buffer.from(m.frag, 'latin1'), raw.subarray(at)]);
            else if (m.op === 'dup') raw = Buffer.concat([raw, raw.subarray(at)]);
          }
          drain(raw);
          drain(raw, { maxParts: 5, maxDepth: 2, maxExpandedBytes: 100 });
        },
      ),
      { numRuns: 400 },
    );
  });

  it('random bytes and random header-ish text never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (data) => {
        expect(drain(Buffer.from(data))).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 300 },
    );
    const alphabet = fc.constantFrom('Content-Type: ', 'multipart/mixed', '; boundary=', 'x', '--x', '--x--', '\r\n', '\n', ' ', 'base64', 'Content-Transfer-Encoding: ', 'message/rfc822', 'name*0*=', "utf-8''%41", '=?', '?=', 'begin 644 a', 'end', 'M', '=\n', '; ', "; filename*0*=utf-8''%E2%82", '; filename*1*=%AC', 'Content-Disposition: attachment', '; name="=?utf-8?B?w6Q=?="');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 120 }), (tokens) => {
        drain(Buffer.from(tokens.join(''), 'latin1'));
      }),
      { numRuns: 500 },
    );
  });
});
