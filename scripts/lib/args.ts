/**
 * Command lines of the scripts: node:util `parseArgs` (strict: an unknown option or a stray
 * argument is an error) and the few value forms the benches share: comma lists checked
 * against what is allowed, sizes as smtp-source's `-l` takes them, whole numbers.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** The option table of {@link parseOptions} (node:util's). */
export type OptionTable = NonNullable<ParseArgsConfig['options']>;

/** The parsed values of an option table: strings, booleans, arrays of them for `multiple`, as node:util types them. */
export type OptionValues<O extends OptionTable> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'];

/**
 * Parse `argv` against `options` (strict, no positionals). A bad command line throws an
 * Error that names the script and, when given, shows `usage`.
 */
export function parseOptions<const O extends OptionTable>(script: string, argv: readonly string[], options: O, usage?: string): OptionValues<O> {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new Error(`${script}: ${err instanceof Error ? err.message : String(err)}${usage === undefined ? '' : `\nusage: ${usage}`}`);
  }
}

/** `a,b,c` → items (blanks dropped), each one of `allowed`. */
export function listOf<T extends string>(s: string, allowed: readonly T[], what: string): T[] {
  const out = s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  for (const x of out) if (!allowed.includes(x as T)) throw new Error(`${what}: ${x} is not one of ${allowed.join(', ')}`);
  return out as T[];
}

/** `1K`, `100K`, `2M`, `1000` → bytes (K = 1000, M = 1,000,000: smtp-source's -l is bytes). */
export function sizeBytes(s: string, what = '--sizes'): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s.trim());
  if (m === null) throw new Error(`${what}: bad size ${s}`);
  return Math.round(Number(m[1]) * { '': 1, k: 1e3, m: 1e6 }[(m[2] ?? '').toLowerCase() as '' | 'k' | 'm']);
}

/** A comma list of sizes (see {@link sizeBytes}). */
export function sizeList(s: string, what = '--sizes'): number[] {
  return s.split(',').map((x) => sizeBytes(x, what));
}

/** A whole number of at least `min` (default 1). */
export function wholeNumber(s: string, what: string, min = 1): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new Error(`${what} needs a whole number ≥ ${min}, got ${s}`);
  return n;
}

/** A comma list of whole numbers, each at least `min` (default 1). */
export function wholeNumbers(s: string, what: string, min = 1): number[] {
  return s.split(',').map((x) => wholeNumber(x.trim(), what, min));
}

/** A finite number (checked by `ok` when given). */
export function numberArg(s: string, what: string, ok: (n: number) => boolean = () => true): number {
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n) || !ok(n)) throw new Error(`${what}: bad value ${s}`);
  return n;
}
