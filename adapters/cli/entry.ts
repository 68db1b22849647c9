/**
 * One command-line scanner, described the way amavisd-new's scanner table does: a
 * command, an argument template, what means clean and what means infected (exit codes
 * or an output regex), and a regex that pulls the virus name out of the output.
 * Users add their own entries in the config file; `parseCliEntry` checks them.
 */

/** A table entry for a command-line scanner. */
export interface CliScannerEntry {
  /** Name the user selects it by. */
  name: string;
  /** Program to run (looked up on PATH, or an absolute path). */
  command: string;
  /**
   * Argument template, one array element per argument (no shell, no quoting, no globbing).
   * `{}` inside an argument = the folder holding the batch's files (`-path={}` works);
   * `{}/*` as a whole argument = every file of the batch as separate arguments;
   * `{f}` inside an argument = one file: the scanner then runs once per unit.
   */
  args: string[];
  /** Exit codes meaning clean, or a regex (multiline) over stdout+stderr. Default `[0]`. */
  clean?: number[] | string;
  /** Exit codes meaning "virus found", or a regex (multiline) over stdout+stderr. Default `[1]`. */
  infected?: number[] | string;
  /** Exit codes that always mean a scanner error (checked first). */
  error?: number[];
  /**
   * Regex applied to each output line; its first capture group that matched is the virus name.
   * The line is attributed to the unit whose generated file name it contains, or else to
   * the unit named most recently on an earlier line (multi-line reports).
   */
  virusName: string;
  /** Per-run timeout in ms (on top of the caller's deadline). Some scanners need 30 s to start. */
  timeoutMs?: number;
  /** Arguments that make the program print its version (for `probe()`), e.g. `['--version']`. */
  versionArgs?: string[];
  /** Regex over the version output; its first capture group is the version. */
  versionRegex?: string;
  /**
   * Regex (case-insensitive, multiline) the output of `versionArgs` must match for the
   * program found to be this scanner, e.g. the vendor's name: another program of the same
   * name on PATH (NVIDIA's `nvcc` for Norman's) is then reported "not this program" by
   * `probe()`, not available. Every preset has one; needs `versionArgs`.
   */
  identify?: string;
  /** Whole message or decoded parts; default `part`. */
  granularity?: 'message' | 'part';
  /** Parent folder of the private temp folders (default: os.tmpdir(), i.e. TMPDIR or /tmp). */
  tempDir?: string;
  /** Key of the preset this entry came from (set by the presets table). */
  preset?: string;
  /** One line about the scanner (vendor, product). */
  description?: string;
}

const KNOWN_KEYS = new Set([
  'name', 'command', 'args', 'clean', 'infected', 'error', 'virusName', 'timeoutMs',
  'versionArgs', 'versionRegex', 'identify', 'granularity', 'tempDir', 'preset', 'description',
]);

function compile(where: string, key: string, src: string): RegExp {
  try {
    return new RegExp(src, 'm');
  } catch (e) {
    throw new TypeError(`${where}: ${key} is not a valid regular expression (${(e as Error).message}): ${JSON.stringify(src)}`);
  }
}

/** Number of capture groups of a regex source. */
export function captureGroups(re: RegExp): number {
  return (new RegExp(`${re.source}|`, re.flags).exec('')?.length ?? 1) - 1;
}

function exitCodes(where: string, key: string, v: unknown): number[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((n) => Number.isInteger(n) && n >= 0 && n <= 255)) {
    throw new TypeError(`${where}: ${key} must be a non-empty array of exit codes (integers 0-255) or a regex string, got ${JSON.stringify(v)}`);
  }
  return [...v] as number[];
}

function codesOrRegex(where: string, key: string, v: unknown, dflt: number[]): number[] | string {
  if (v === undefined) return dflt;
  if (typeof v === 'string') {
    if (v === '') throw new TypeError(`${where}: ${key} regex must not be empty`);
    compile(where, key, v);
    return v;
  }
  return exitCodes(where, key, v);
}

function stringArray(where: string, key: string, v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((a) => typeof a === 'string')) throw new TypeError(`${where}: ${key} must be an array of strings, got ${JSON.stringify(v)}`);
  return [...v] as string[];
}

/**
 * Check a config object and return a CLI scanner entry. `args` may be given as one
 * string (split on whitespace; there is no quoting). Throws TypeError naming `where`
 * and the bad field: unknown keys, missing command/args/virusName, a regex that does not
 * compile, a virusName regex without a capture group, overlapping exit codes, an args
 * template without `{}`, `{}/*` or `{f}`, or both `{}` and `{f}`.
 */
export function parseCliEntry(obj: unknown, where = 'cli scanner'): CliScannerEntry {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new TypeError(`${where}: a cli scanner entry must be an object`);
  const o = obj as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KNOWN_KEYS.has(k)) throw new TypeError(`${where}: unknown key "${k}" (known: ${[...KNOWN_KEYS].join(', ')})`);
  }
  const name = o['name'];
  if (typeof name !== 'string' || name.trim() === '') throw new TypeError(`${where}: name must be a non-empty string`);
  const command = o['command'];
  if (typeof command !== 'string' || command.trim() === '' || /[\0\n]/.test(command)) throw new TypeError(`${where}: command must be a program name or path`);
  const rawArgs = o['args'];
  const args = typeof rawArgs === 'string' ? rawArgs.split(/\s+/).filter((a) => a !== '') : stringArray(where, 'args', rawArgs);
  const folderMode = args.some((a) => a.includes('{}'));
  const fileMode = args.some((a) => a.includes('{f}'));
  if (!folderMode && !fileMode) throw new TypeError(`${where}: args must name the files to scan with {} (folder), {}/* (every file) or {f} (one file)`);
  if (folderMode && fileMode) throw new TypeError(`${where}: args may use {} or {f}, not both`);
  const clean = codesOrRegex(where, 'clean', o['clean'], [0]);
  const infected = codesOrRegex(where, 'infected', o['infected'], [1]);
  const error = o['error'] === undefined ? undefined : exitCodes(where, 'error', o['error']);
  if (Array.isArray(clean) && Array.isArray(infected)) {
    const both = clean.filter((c) => infected.includes(c));
    if (both.length > 0) throw new TypeError(`${where}: exit code(s) ${both.join(', ')} listed as both clean and infected`);
  }
  if (error !== undefined) {
    const both = error.filter((c) => (Array.isArray(clean) && clean.includes(c)) || (Array.isArray(infected) && infected.includes(c)));
    if (both.length > 0) throw new TypeError(`${where}: exit code(s) ${both.join(', ')} listed as error and as clean/infected`);
  }
  const virusName = o['virusName'];
  if (typeof virusName !== 'string' || virusName === '') throw new TypeError(`${where}: virusName must be a regex string with a capture group for the name`);
  if (captureGroups(compile(where, 'virusName', virusName)) < 1) throw new TypeError(`${where}: virusName regex needs a capture group for the name: ${JSON.stringify(virusName)}`);
  const timeoutMs = o['timeoutMs'];
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new TypeError(`${where}: timeoutMs must be a positive number`);
  const versionArgs = o['versionArgs'] === undefined ? undefined : stringArray(where, 'versionArgs', o['versionArgs']);
  const versionRegex = o['versionRegex'];
  if (versionRegex !== undefined) {
    if (typeof versionRegex !== 'string') throw new TypeError(`${where}: versionRegex must be a regex string`);
    if (captureGroups(compile(where, 'versionRegex', versionRegex)) < 1) throw new TypeError(`${where}: versionRegex needs a capture group for the version`);
  }
  const identify = o['identify'];
  if (identify !== undefined) {
    if (typeof identify !== 'string' || identify === '') throw new TypeError(`${where}: identify must be a non-empty regex string`);
    compile(where, 'identify', identify);
    if (versionArgs === undefined) throw new TypeError(`${where}: identify needs versionArgs (the arguments that make the program print who it is)`);
  }
  const granularity = o['granularity'];
  if (granularity !== undefined && granularity !== 'message' && granularity !== 'part') throw new TypeError(`${where}: granularity must be 'message' or 'part'`);
  const tempDir = o['tempDir'];
  if (tempDir !== undefined && (typeof tempDir !== 'string' || tempDir === '')) throw new TypeError(`${where}: tempDir must be a folder path`);
  const preset = o['preset'];
  if (preset !== undefined && typeof preset !== 'string') throw new TypeError(`${where}: preset must be a string`);
  const description = o['description'];
  if (description !== undefined && typeof description !== 'string') throw new TypeError(`${where}: description must be a string`);
  return {
    name,
    command,
    args,
    clean,
    infected,
    ...(error === undefined ? {} : { error }),
    virusName,
    ...(timeoutMs === undefined ? {} : { timeoutMs: timeoutMs as number }),
    ...(versionArgs === undefined ? {} : { versionArgs }),
    ...(versionRegex === undefined ? {} : { versionRegex: versionRegex as string }),
    ...(identify === undefined ? {} : { identify: identify as string }),
    ...(granularity === undefined ? {} : { granularity: granularity as 'message' | 'part' }),
    ...(tempDir === undefined ? {} : { tempDir: tempDir as string }),
    ...(preset === undefined ? {} : { preset: preset as string }),
    ...(description === undefined ? {} : { description: description as string }),
  };
}
