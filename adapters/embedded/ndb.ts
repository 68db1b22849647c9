/**
 * .ndb lines: `Name:TargetType:Offset:HexSignature[:MinFL[:MaxFL]]`, compiled for the
 * one-pass body matcher.
 */
import { chooseAnchor, HexSigError, parseHexSignature, sliceSeq, type Element } from './hexsig.js';
import { OffsetError, parseOffset, type Offset } from './offset.js';

/** ClamAV target types (field 2). Only 0 (any) is exact here; see `NdbSignature.widened`. */
export const TARGET_TYPES: Readonly<Record<number, string>> = {
  0: 'any file',
  1: 'PE',
  2: 'OLE2',
  3: 'HTML (normalised)',
  4: 'mail',
  5: 'graphics',
  6: 'ELF',
  7: 'ASCII text (normalised)',
  9: 'Mach-O',
  10: 'PDF',
  11: 'Flash',
  12: 'Java class',
};

/** One compiled .ndb signature. */
export interface NdbSignature {
  name: string;
  target: number;
  /**
   * True when TargetType was not 0: we cannot classify files, so the signature is
   * applied to every unit (ClamAV would apply it only to that type). Reported.
   */
  widened: boolean;
  offset: Offset;
  elements: Element[];
  /** How the matcher will use it. */
  plan:
    | { kind: 'anchored'; anchor: Buffer; left: Element[]; right: Element[] }
    | { kind: 'positional' }
    | { kind: 'slow' };
  /** Where it came from. */
  source: { file: string; line: number };
}

/** Why an .ndb line was refused. */
export class NdbError extends Error {
  override readonly name = 'NdbError';
}

/** Offsets with at most this much shift are checked directly at their start positions (no anchor needed). */
export const POSITIONAL_MAX_SHIFT = 256;

/** Parse one .ndb line (not blank, not a comment). Throws NdbError with a reason. */
export function parseNdbLine(line: string, source: { file: string; line: number }): NdbSignature {
  const f = line.split(':');
  if (f.length < 4 || f.length > 6) throw new NdbError(`expected 4 to 6 ":"-separated fields, found ${f.length}`);
  const [name = '', targetText = '', offsetText = '', hex = '', minFl, maxFl] = f;
  if (name === '') throw new NdbError('empty signature name');
  if (!/^\d+$/.test(targetText)) throw new NdbError(`malformed target type "${targetText}"`);
  const target = Number(targetText);
  if (TARGET_TYPES[target] === undefined) throw new NdbError(`unknown target type ${target}`);
  for (const fl of [minFl, maxFl]) {
    if (fl !== undefined && fl !== '' && !/^\d+$/.test(fl)) throw new NdbError(`malformed functionality level "${fl}"`);
  }
  let offset: Offset;
  let elements: Element[];
  try {
    offset = parseOffset(offsetText);
    elements = parseHexSignature(hex.trim());
  } catch (e) {
    if (e instanceof OffsetError || e instanceof HexSigError) throw new NdbError(e.message);
    throw e;
  }
  return { name, target, widened: target !== 0, offset, elements, plan: planFor(offset, elements), source };
}

/** Decide how a signature is matched: by anchor, at its fixed start positions, or slowly. */
export function planFor(offset: Offset, elements: Element[]): NdbSignature['plan'] {
  if (offset.kind !== 'any' && offset.shift <= POSITIONAL_MAX_SHIFT) return { kind: 'positional' };
  const a = chooseAnchor(elements, 2);
  if (a === null) return { kind: 'slow' };
  const e = elements[a.element];
  if (e === undefined || e.t !== 'seq') return { kind: 'slow' };
  const left = elements.slice(0, a.element);
  const right = elements.slice(a.element + 1);
  if (a.from > 0) left.push(sliceSeq(e, 0, a.from));
  const after = a.from + a.bytes.length;
  if (after < e.mask.length) right.unshift(sliceSeq(e, after, e.mask.length));
  return { kind: 'anchored', anchor: a.bytes, left, right };
}
