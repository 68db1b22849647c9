/**
 * The layout stays documented and layered (issue 13, "Done when"):
 *
 * - every folder of src/ and adapters/ (the two roots included) has a README.md saying what
 *   it holds, what it may import and what imports it;
 * - the layering's main rule: no file in src/core imports from a layer above it — src/modes,
 *   src/cli, src/bench, src/report, src/results, src/check, src/lab, the root adapters/ or
 *   scripts/. (Today src/core imports nothing outside src/core at all.)
 *
 * Imports are read from the source text: static `import`/`export ... from`, side-effect
 * `import '...'`, dynamic `import('...')`, `require('...')` and `new URL('...', import.meta.url)`
 * with a relative specifier, resolved against the importing file.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** Every folder under `dir` (itself included), as paths relative to the repository. */
function folders(dir: string): string[] {
  const out = [relative(ROOT, dir)];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...folders(p));
  }
  return out;
}

/** Every TypeScript/JavaScript source file under `dir`. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.(?:[cm]?ts|[cm]?js)$/.test(e) && !e.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT =
  /(?:\bimport|\bexport)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\bimport\s+['"]([^'"]+)['"]|\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)|\bnew\s+URL\s*\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url/g;

/** The repository-relative targets of the relative imports in `text`, the source of `file`. */
function relativeImports(file: string, text = readFileSync(file, 'utf8')): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m.slice(1).find((s) => s !== undefined);
    if (spec === undefined || !spec.startsWith('.')) continue;
    out.push(relative(ROOT, resolve(dirname(file), spec)).split(sep).join('/'));
  }
  return out;
}

describe('layout', () => {
  it('every folder of src/ and adapters/ has a README.md', () => {
    const all = [...folders(join(ROOT, 'src')), ...folders(join(ROOT, 'adapters'))];
    expect(all.length).toBeGreaterThan(10);
    const missing = all.filter((d) => {
      try {
        return !statSync(join(ROOT, d, 'README.md')).isFile();
      } catch {
        return true;
      }
    });
    expect(missing).toEqual([]);
  });

  it('src/core imports nothing from the layers above it', () => {
    const ABOVE = ['src/modes', 'src/cli', 'src/bench', 'src/report', 'src/results', 'src/check', 'src/lab', 'adapters', 'scripts'];
    // Known exceptions, as "importing file -> imported path" (none today; add one here only
    // with a comment saying why, and name it in src/core/README.md).
    const EXCEPTIONS: string[] = [];
    const files = sources(join(ROOT, 'src/core'));
    expect(files.length).toBeGreaterThan(10);
    const found: string[] = [];
    for (const f of files) {
      for (const target of relativeImports(f)) {
        if (ABOVE.some((a) => target === a || target.startsWith(`${a}/`))) found.push(`${relative(ROOT, f)} -> ${target}`);
      }
    }
    expect(found).toEqual(EXCEPTIONS);
  });

  it('the import reader sees every form of import', () => {
    // A guard for the test itself, on a made-up file in src/core.
    const text = [
      "import { a } from '../modes/policy.js';",
      'import type {',
      '  B,',
      "} from '../../adapters/index.js';",
      "export * from './verdict.js';",
      "import '../cli/guard.js';",
      "const c = await import('../bench/runner.js');",
      "const d = require('../report/html.js');",
      "const e = new URL('./containers/sevenzip-thread.js', import.meta.url);",
      "import { f } from 'node:fs';",
    ].join('\n');
    expect(relativeImports(join(ROOT, 'src/core/made-up.ts'), text)).toEqual([
      'src/modes/policy.js',
      'adapters/index.js',
      'src/core/verdict.js',
      'src/cli/guard.js',
      'src/bench/runner.js',
      'src/report/html.js',
      'src/core/containers/sevenzip-thread.js',
    ]);
  });
});
