/**
 * Hash signatures: .hdb `md5:size:name`, .hsb `sha256:size:name` or `sha1:size:name`
 * (the algorithm follows from the hash length), each with optional `:MinFL[:MaxFL]`.
 * A size of `*` matches any size. A unit is hashed only when its size is one some
 * signature names (or some signature has `*`), so most units cost nothing.
 */
import { createHash } from 'node:crypto';

/** Hash algorithms of ClamAV hash signatures. */
export type HashAlgo = 'md5' | 'sha1' | 'sha256';

const ALGO_BY_LENGTH: Readonly<Record<number, HashAlgo>> = { 32: 'md5', 40: 'sha1', 64: 'sha256' };

/** One parsed hash signature. */
export interface HashSignature {
  algo: HashAlgo;
  hash: string;
  /** null = any size (`*`). */
  size: number | null;
  name: string;
}

/** Why a hash line was refused. */
export class HashSigError extends Error {
  override readonly name = 'HashSigError';
}

/** Parse one .hdb/.hsb line (not blank, not a comment). */
export function parseHashLine(line: string, kind: 'hdb' | 'hsb'): HashSignature {
  const f = line.split(':');
  if (f.length < 3 || f.length > 5) throw new HashSigError(`expected 3 to 5 ":"-separated fields, found ${f.length}`);
  const [hashText = '', sizeText = '', name = '', minFl, maxFl] = f;
  const hash = hashText.toLowerCase();
  if (!/^[0-9a-f]+$/.test(hash)) throw new HashSigError(`malformed hash "${hashText}"`);
  const algo = ALGO_BY_LENGTH[hash.length];
  if (algo === undefined) throw new HashSigError(`hash of ${hash.length} hex digits is neither md5 (32), sha1 (40) nor sha256 (64)`);
  if (kind === 'hdb' && algo !== 'md5') throw new HashSigError(`.hdb holds md5 hashes; a ${algo} hash belongs in .hsb`);
  if (kind === 'hsb' && algo === 'md5') throw new HashSigError('.hsb holds sha1/sha256 hashes; an md5 hash belongs in .hdb');
  let size: number | null;
  if (sizeText === '*') size = null;
  else if (/^\d+$/.test(sizeText)) size = Number(sizeText);
  else throw new HashSigError(`malformed size "${sizeText}"`);
  if (name === '') throw new HashSigError('empty signature name');
  for (const fl of [minFl, maxFl]) {
    if (fl !== undefined && fl !== '' && !/^\d+$/.test(fl)) throw new HashSigError(`malformed functionality level "${fl}"`);
  }
  return { algo, hash, size, name };
}

interface AlgoTable {
  sizes: Set<number>;
  anySize: boolean;
  /** `${hash}:${size}` or `${hash}:*` → names */
  names: Map<string, string[]>;
}

/** All hash signatures, indexed by algorithm and size. */
export class HashDb {
  private readonly tables = new Map<HashAlgo, AlgoTable>();
  private count = 0;

  /** Add one signature. */
  add(sig: HashSignature): void {
    let t = this.tables.get(sig.algo);
    if (t === undefined) {
      t = { sizes: new Set(), anySize: false, names: new Map() };
      this.tables.set(sig.algo, t);
    }
    if (sig.size === null) t.anySize = true;
    else t.sizes.add(sig.size);
    const key = `${sig.hash}:${sig.size ?? '*'}`;
    const list = t.names.get(key);
    if (list === undefined) t.names.set(key, [sig.name]);
    else if (!list.includes(sig.name)) list.push(sig.name);
    this.count++;
  }

  /** Number of signatures added. */
  get size(): number {
    return this.count;
  }

  /** Number of hashes computed so far (each only for a unit of a listed size). */
  hashesComputed = 0;

  /** Names of the hash signatures that match `data`. */
  match(data: Uint8Array): string[] {
    const found: string[] = [];
    for (const [algo, t] of this.tables) {
      if (!t.anySize && !t.sizes.has(data.length)) continue;
      this.hashesComputed++;
      const digest = createHash(algo).update(data).digest('hex');
      for (const key of [`${digest}:${data.length}`, `${digest}:*`]) {
        for (const n of t.names.get(key) ?? []) if (!found.includes(n)) found.push(n);
      }
    }
    return found;
  }
}
