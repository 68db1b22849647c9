import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eicar, EICAR_LENGTH, EICAR_MD5, eicarFragments } from '../../src/corpus/eicar.js';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const it of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, it.name);
    if (it.isDirectory()) out.push(...(await filesUnder(p)));
    else if (it.isFile()) out.push(p);
  }
  return out;
}

describe('eicar()', () => {
  it('assembles the 68 standard bytes', () => {
    const e = eicar();
    expect(e.length).toBe(EICAR_LENGTH);
    expect(createHash('md5').update(e).digest('hex')).toBe(EICAR_MD5);
    expect(e.subarray(0, 3).toString('latin1')).toBe('X5O');
  });

  it('returns a fresh buffer each call', () => {
    const a = eicar();
    a[0] = 0;
    expect(eicar()[0]).toBe(0x58);
  });

  it('fragments never join to the whole string', () => {
    const f = eicarFragments();
    const whole = eicar().toString('latin1');
    for (const x of [f.head, f.tail, f.name]) {
      expect(x.length).toBeLessThan(whole.length);
      expect(whole.includes(x)).toBe(true);
    }
    expect(f.head + f.tail).toBe(whole); // only joined here, in memory
  });

  it('the whole string is written literally in no file of src/, adapters/ or test/', async () => {
    const root = join(import.meta.dirname, '..', '..');
    const needle = eicar();
    const offenders: string[] = [];
    for (const top of ['src', 'adapters', 'test', 'scripts']) {
      const files = await filesUnder(join(root, top)).catch(() => [] as string[]);
      for (const f of files) if ((await readFile(f)).includes(needle)) offenders.push(f);
    }
    expect(offenders).toEqual([]);
  });
});
