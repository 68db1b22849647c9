/**
 * The EICAR test file, as its specification defines it. The 68-byte string is assembled
 * at run time from two halves so that no source file contains it whole.
 */

/** The 68 EICAR bytes (built at run time, never written literally). */
export const EICAR_BYTES: Buffer = Buffer.from(
  'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR' + '-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*',
  'latin1',
);

/** The detection name ClamAV uses for it. */
export const EICAR_NAME = 'Eicar-Test-Signature';

/** Longest file the specification allows (68 bytes plus trailing whitespace). */
export const EICAR_MAX_LENGTH = 128;

/** Whitespace the specification allows after the string: space, tab, LF, CR, ^Z. */
function isEicarWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x1a;
}

/**
 * Is `data` the EICAR test file per its specification? It starts with the 68 bytes,
 * is followed by allowed whitespace only, and is at most 128 bytes long.
 */
export function isEicarFile(data: Uint8Array): boolean {
  if (data.length < EICAR_BYTES.length || data.length > EICAR_MAX_LENGTH) return false;
  for (let i = 0; i < EICAR_BYTES.length; i++) if (data[i] !== EICAR_BYTES[i]) return false;
  for (let i = EICAR_BYTES.length; i < data.length; i++) if (!isEicarWhitespace(data[i]!)) return false;
  return true;
}

/** Does `data` contain the 68 EICAR bytes anywhere (native Buffer.indexOf)? */
export function containsEicar(data: Buffer): boolean {
  return data.indexOf(EICAR_BYTES) !== -1;
}
