import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The folder of avbench's package.json (the checkout, or the installed package), found
 * from `from` upwards: where schema/, docs/ and dist/ are, whether running from src/ under
 * vitest or from dist/.
 */
export function packageRoot(from: string = import.meta.dirname): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
}

/** `<root>/dist/src/cli/bin.cjs`: the built CLI (package.json "bin"), which the bench and the lab run as a process of its own. */
export function builtCliPath(): string {
  return join(packageRoot(), 'dist', 'src', 'cli', 'bin.cjs');
}
