/**
 * Command lines of the scripts: node:util `parseArgs` (strict: an unknown option or a stray
 * argument is an error) and the few value forms the benches share: comma lists checked
 * against what is allowed, sizes as smtp-source's `-l` takes them, whole numbers.
 */
import { readFileSync } from 'node:fs';
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
  // `--help` / `-h`, unless the script has an option of that name itself: what the script does, then exit 0.
  if (!('help' in options) && argv.some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(scriptHelp(script, usage));
    process.exit(0);
  }
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new Error(`${script}: ${err instanceof Error ? err.message : String(err)}${usage === undefined ? '' : `\nusage: ${usage}`}`);
  }
}

/**
 * A script's help: its usage line when given, then the comment at the head of the script
 * node runs (`node dist/scripts/NAME.js`: tsc keeps it), which says what it measures and how.
 */
export function scriptHelp(script: string, usage?: string, entry: string | undefined = process.argv[1]): string {
  let head = '';
  try {
    const text = entry === undefined ? '' : readFileSync(entry, 'utf8');
    const m = /\/\*\*([\s\S]*?)\*\//.exec(text);
    if (m !== null) head = (m[1] ?? '').split('\n').map((l) => l.replace(/^\s*\* ?/, '')).join('\n').trim();
  } catch {
    /* no head comment: the usage alone */
  }
  const parts = [usage === undefined ? `${script}` : `usage: ${usage}`, head].filter((p) => p !== '');
  return `${parts.join('\n\n')}\n`;
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

// ───────────────────────── one table per script: how each option is written and read ─────────────────────────

/** One option: how node:util sees it on the command line, and how its raw value becomes `T` (`flag` is `--name`). */
export interface Opt<T> {
  readonly config: { type: 'string' | 'boolean'; multiple?: boolean; short?: string; default?: string | boolean | string[] };
  read(raw: unknown, flag: string): T;
}

/** `kebab-case` → `camelCase` (an option's name → its field). */
type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S;
type ValueOf<O> = O extends Opt<infer T> ? T : never;
/**
 * The values of an option table, named in camelCase: an option that may be absent is an
 * optional field (left out when not given), every other one is always there.
 */
export type Options<S> = {
  [K in keyof S as undefined extends ValueOf<S[K]> ? never : Camel<K & string>]: ValueOf<S[K]>;
} & {
  [K in keyof S as undefined extends ValueOf<S[K]> ? Camel<K & string> : never]?: Exclude<ValueOf<S[K]>, undefined>;
};

function camel(s: string): string {
  return s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Read `argv` with one table (`opt.*` per option): parsed strictly by node:util, each value
 * checked and converted, returned in camelCase. A bad command line throws an Error naming
 * the script (and `usage` when given).
 */
export function readOptions<const S extends Record<string, Opt<unknown>>>(script: string, argv: readonly string[], spec: S, usage?: string): Options<S> {
  const table: OptionTable = {};
  for (const [k, o] of Object.entries(spec)) table[k] = o.config;
  const raw = parseOptions(script, argv, table, usage) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  try {
    for (const [k, o] of Object.entries(spec)) {
      const v = o.read(raw[k], `--${k}`);
      if (v !== undefined) out[camel(k)] = v;
    }
  } catch (err) {
    throw new Error(`${script}: ${err instanceof Error ? err.message : String(err)}${usage === undefined ? '' : `\nusage: ${usage}`}`);
  }
  return out as Options<S>;
}

const str = (raw: unknown): string => raw as string;

/** The option kinds of the scripts. */
export const opt = {
  /** `--name TEXT` (default `def`). */
  string: (def: string): Opt<string> => ({ config: { type: 'string', default: def }, read: str }),
  /** `--name TEXT`, absent when not given. */
  optionalString: (): Opt<string | undefined> => ({ config: { type: 'string' }, read: (raw) => raw as string | undefined }),
  /** `--name TEXT`, repeatable: every value in order. */
  strings: (): Opt<string[]> => ({ config: { type: 'string', multiple: true, default: [] }, read: (raw) => raw as string[] }),
  /** `--name`: true when given. */
  flag: (short?: string): Opt<boolean> => ({ config: { type: 'boolean', default: false, ...(short === undefined ? {} : { short }) }, read: (raw) => raw as boolean }),
  /** `--name N`: a whole number ≥ `min` (default 1). */
  whole: (def: number, min = 1): Opt<number> => ({ config: { type: 'string', default: String(def) }, read: (raw, flag) => wholeNumber(str(raw), flag, min) }),
  /** `--name N`: a whole number ≥ `min`, absent when not given. */
  optionalWhole: (min = 1): Opt<number | undefined> => ({ config: { type: 'string' }, read: (raw, flag) => (raw === undefined ? undefined : wholeNumber(str(raw), flag, min)) }),
  /** `--name X`: a number that `ok` accepts. */
  number: (def: number, ok?: (n: number) => boolean): Opt<number> => ({ config: { type: 'string', default: String(def) }, read: (raw, flag) => numberArg(str(raw), flag, ok) }),
  /** `--name A,B`: items of `allowed`. */
  list: <T extends string>(def: readonly T[], allowed: readonly T[]): Opt<T[]> => ({ config: { type: 'string', default: def.join(',') }, read: (raw, flag) => listOf(str(raw), allowed, flag) }),
  /** `--name X`: one of `allowed`. */
  oneOf: <T extends string>(def: T, allowed: readonly T[]): Opt<T> => ({
    config: { type: 'string', default: def },
    read: (raw, flag) => {
      if (!allowed.includes(raw as T)) throw new Error(`${flag} is one of ${allowed.join(', ')}, got ${String(raw)}`);
      return raw as T;
    },
  }),
  /** `--name 1,8,32`: whole numbers ≥ `min`. */
  wholes: (def: readonly number[], min = 1): Opt<number[]> => ({ config: { type: 'string', default: def.join(',') }, read: (raw, flag) => wholeNumbers(str(raw), flag, min) }),
  /** `--name X` (default `def`) read by `read`. */
  custom: <T>(def: string, read: (raw: string, flag: string) => T): Opt<T> => ({ config: { type: 'string', default: def }, read: (raw, flag) => read(str(raw), flag) }),
  /** `--name 1K,2M`: sizes in bytes (see {@link sizeBytes}). */
  sizes: (def: string): Opt<number[]> => ({ config: { type: 'string', default: def }, read: (raw, flag) => sizeList(str(raw), flag) }),
};
