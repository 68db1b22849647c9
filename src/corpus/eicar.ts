/**
 * The EICAR anti-virus test file, assembled at run time from two halves so that no file
 * of this project (source, test or build output of this module) holds the whole string and
 * trips a scanner on the checkout itself.
 */

const HEAD = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$';
const TAIL = ['EICAR', 'STANDARD', 'ANTIVIRUS', 'TEST', 'FILE'].join('-') + '!$H+H*';

/** Length of the EICAR string in bytes. */
export const EICAR_LENGTH = 68;

/** md5 of the 68 EICAR bytes (what a ClamAV .hdb line names). */
export const EICAR_MD5 = '44d88612fea8a8f36de82e1278abb02f';

/** The 68 bytes of the EICAR test file (a fresh Buffer on every call). */
export function eicar(): Buffer {
  const b = Buffer.from(HEAD + TAIL, 'latin1');
  if (b.length !== EICAR_LENGTH) throw new Error('internal: EICAR assembled with the wrong length');
  return b;
}

/**
 * Fragments of the EICAR string that are safe to quote in a message that discusses the
 * test file: none of them, nor any two of them joined, is the whole string.
 */
export function eicarFragments(): { head: string; tail: string; name: string } {
  return { head: HEAD, tail: TAIL, name: TAIL.slice(0, TAIL.indexOf('!')) };
}
