import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { absolutePath } from '../../src/cli/commands/scan.js';

it('absolutePath gives what path.resolve gives, for every shape of path', () => {
  const shapes = [
    '/abs/m1.eml',
    'rel/m1.eml',
    'm1.eml',
    './m1.eml',
    '../up/m1.eml',
    'a/./b.eml',
    'a/../b.eml',
    'a//b.eml',
    '/a//b.eml',
    'dir/',
    '/',
    '.',
    '..',
    '.hidden/m.eml',
    'a/.b/m.eml',
    'a/..b/m.eml',
    'a/b..',
    '/x/y/..',
  ];
  for (const cwd of [process.cwd(), '/']) {
    for (const p of shapes) expect(absolutePath(p, cwd), `${p} in ${cwd}`).toBe(cwd === process.cwd() ? resolve(p) : resolve('/', p));
  }
});
