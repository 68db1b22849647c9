/**
 * Real parts, really used: tests that need an installed program (clamd, yara, c-icap...)
 * run through `describeReal`. Locally a missing program skips them with a clear message;
 * in CI (AVBENCH_REQUIRE_REAL=1, set by .ci/run) a missing program fails them.
 */
import { describe, it } from 'vitest';
import { which } from '../../src/core/exec.js';

export const REQUIRE_REAL = process.env['AVBENCH_REQUIRE_REAL'] === '1';

/** Resolve programs on PATH (and /usr/sbin); returns the missing ones. */
export async function missingPrograms(programs: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const p of programs) if ((await which(p)) === undefined) missing.push(p);
  return missing;
}

/**
 * `describe` that needs `programs`. Use with top-level await:
 * `await describeReal('clamd adapter', ['clamd'], () => { ... })`.
 */
export async function describeReal(title: string, programs: readonly string[], body: () => void): Promise<void> {
  const missing = await missingPrograms(programs);
  if (missing.length === 0) {
    describe(title, body);
    return;
  }
  const why = `${title}: needs ${missing.join(', ')} (install with: apt-get install ${missing.join(' ')}; see docs/install.md)`;
  if (REQUIRE_REAL) {
    describe(title, () => {
      it('has its real programs installed (AVBENCH_REQUIRE_REAL=1)', () => {
        throw new Error(`missing real program — ${why}`);
      });
    });
  } else {
    process.stderr.write(`[avbench tests] skipping ${why}\n`);
    describe.skipIf(true)(title, body);
  }
}
