/**
 * The command-line reading shared by the lean parsers of `scan` and `deliver`
 * (parseScanArgv, parseDeliverArgv): they take the usual spellings without loading yargs,
 * and hand anything unusual back to yargs, which then behaves exactly as it always has.
 * This module knows only the shapes of arguments — boolean flags, options with a value
 * (`-s NAME`, `--scanner NAME`, `--scanner=NAME`), `--` and positionals; each command
 * judges the values. Kept free of imports: it is part of both lean bundles.
 */

/** What to do with each argument; a handler returning false hands the line to yargs. */
export interface LeanArgvHandlers<F extends string, V extends string> {
  /** Boolean flags: spelling → [option, value] (each option at most once). */
  flags: Readonly<Record<string, readonly [F, boolean]>>;
  /** Options with a value: spelling → option. */
  values: Readonly<Record<string, V>>;
  /** Options with a value that may be given several times; any other at most once (a repeat goes to yargs). */
  repeatable?: readonly NoInfer<V>[];
  flag(option: F, value: boolean): void;
  value(option: V, value: string): boolean;
  /** A positional argument (absent: positionals are not this command's). */
  positional?(arg: string): boolean;
  /** Everything after `--` (absent: `--` is not this command's). */
  rest?(args: string[]): void;
}

/** Read `argv` through `h`; false when it must go to yargs instead. */
export function readLeanArgv<F extends string, V extends string>(argv: readonly string[], h: LeanArgvHandlers<F, V>): boolean {
  const seen = new Set<string>();
  const seenValues = new Set<V>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--' && h.rest !== undefined) {
      h.rest(argv.slice(i + 1));
      return true;
    }
    if (h.positional !== undefined && (!a.startsWith('-') || a === '-')) {
      if (!h.positional(a)) return false;
      continue;
    }
    const flag = h.flags[a];
    if (flag !== undefined) {
      if (seen.has(flag[0])) return false;
      seen.add(flag[0]);
      h.flag(flag[0], flag[1]);
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const key = h.values[eq > 0 ? a.slice(0, eq) : a];
    if (key === undefined) return false;
    let value: string | undefined;
    if (eq > 0) value = a.slice(eq + 1);
    else {
      value = argv[++i];
      // A value that looks like an option (or is --) is read differently by yargs.
      if (value === undefined || value.startsWith('-')) return false;
    }
    if (value === '') return false;
    if (h.repeatable?.includes(key) !== true) {
      if (seenValues.has(key)) return false;
      seenValues.add(key);
    }
    if (!h.value(key, value)) return false;
  }
  return true;
}
