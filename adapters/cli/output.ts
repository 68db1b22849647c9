/**
 * Reading a command-line scanner's answer: exit code and output → one verdict per unit.
 *
 * Order of the decision for one run (amavisd-new's, made strict):
 * 1. not a normal exit: deadline → TIMEOUT, killed by a signal → SCANNER_EXIT, could not
 *    start → NOT_AVAILABLE (units already named as infected keep their detections);
 * 2. an `error` exit code → SCANNER_EXIT;
 * 3. `infected` (exit code or regex) → infected; 4. `clean` → clean; 5. neither → SCANNER_EXIT
 *    (PROTOCOL when both are output regexes and neither matched).
 * Per unit: virus names attributed to it → infected, whatever the run's status. An
 * "infected" run that names no virus → PROTOCOL error, never a detection; in a batch, a
 * virus name that cannot be placed on a file makes every unit without a name an error.
 */
import type { RunResult } from '../../src/core/exec.js';
import type { ScanUnit, Verdict } from '../../src/core/types.js';
import { CLEAN, errorVerdict, excerpt, infectedVerdict } from '../process-kit.js';
import type { CliScannerEntry } from './entry.js';

/** An entry with its regexes compiled and defaults filled in. */
export interface CompiledCliEntry {
  entry: CliScannerEntry;
  clean: number[] | RegExp;
  infected: number[] | RegExp;
  error: number[];
  virusName: RegExp;
  versionRegex?: RegExp;
  identify?: RegExp;
}

/** Compile an entry's regexes (the entry must have passed `parseCliEntry`). */
export function compileCliEntry(entry: CliScannerEntry): CompiledCliEntry {
  const re = (v: number[] | string): number[] | RegExp => (typeof v === 'string' ? new RegExp(v, 'm') : v);
  return {
    entry,
    clean: re(entry.clean ?? [0]),
    infected: re(entry.infected ?? [1]),
    error: entry.error ?? [],
    virusName: new RegExp(entry.virusName),
    ...(entry.versionRegex === undefined ? {} : { versionRegex: new RegExp(entry.versionRegex, 'm') }),
    ...(entry.identify === undefined ? {} : { identify: new RegExp(entry.identify, 'im') }),
  };
}

/** Which generated file an output line is about. */
export interface LineMapper {
  indexInText(text: string): number | undefined;
}

/** Virus names found in a scanner's output, per unit, plus names that could not be placed. */
export interface NameFindings {
  perUnit: string[][];
  unplaced: string[];
}

/** The first capture group of `m` that took part in the match, trimmed. */
function firstGroup(m: RegExpExecArray): string | undefined {
  for (let i = 1; i < m.length; i++) {
    const g = m[i];
    if (g !== undefined && g.trim() !== '') return g.trim();
  }
  return undefined;
}

/**
 * Apply the virusName regex to every line of `streams` (each stream read on its own: a
 * line without a file name belongs to the file named most recently in the same stream).
 */
export function findVirusNames(virusName: RegExp, streams: readonly string[], files: LineMapper, count: number): NameFindings {
  const perUnit = Array.from({ length: count }, () => [] as string[]);
  const unplaced: string[] = [];
  for (const text of streams) {
    let current: number | undefined;
    for (const raw of text.split('\n')) {
      const line = raw.replace(/\r$/, '');
      if (line.trim() === '') continue;
      const here = files.indexInText(line);
      if (here !== undefined) current = here;
      const m = virusName.exec(line);
      if (m === null) continue;
      const name = firstGroup(m);
      if (name === undefined) continue;
      const target = here ?? current ?? (count === 1 ? 0 : undefined);
      if (target === undefined) unplaced.push(name);
      else perUnit[target]?.push(name);
    }
  }
  return { perUnit, unplaced };
}

function matches(rule: number[] | RegExp, exitCode: number, output: string): boolean {
  return Array.isArray(rule) ? rule.includes(exitCode) : rule.test(output);
}

/** Turn one run of the scanner over `units` into one verdict per unit. */
export function interpretCliRun(c: CompiledCliEntry, scanner: string, r: RunResult, units: readonly ScanUnit[], files: LineMapper): Verdict[] {
  const command = c.entry.command;
  const names = findVirusNames(c.virusName, [r.stdout, r.stderr], files, units.length);
  const keepOr = (fallback: (i: number) => Verdict): Verdict[] =>
    units.map((u, i) => {
      const n = names.perUnit[i] as string[];
      return n.length > 0 ? infectedVerdict(n, scanner, u) : fallback(i);
    });
  if (!r.ok) {
    const detail = r.stderr.trim() === '' ? '' : `: ${excerpt(r.stderr)}`;
    return keepOr(() => errorVerdict(r.reason, `${r.message}${detail}`));
  }
  const code = r.exitCode;
  const output = `${r.stdout}\n${r.stderr}`;
  const why = excerpt(r.stderr) || excerpt(r.stdout) || 'no output';
  const unplacedErrors = (): Verdict[] => {
    const list = [...new Set(names.unplaced)].join(', ');
    return keepOr(() => errorVerdict('PROTOCOL', `${command} reported ${list} without a file it could be placed on`));
  };
  if (c.error.includes(code)) {
    return keepOr(() => errorVerdict('SCANNER_EXIT', `${command} exited ${code} (an error code): ${why}`));
  }
  if (matches(c.infected, code, output)) {
    const anyName = names.unplaced.length > 0 || names.perUnit.some((n) => n.length > 0);
    if (!anyName) {
      return keepOr(() => errorVerdict('PROTOCOL', `infected exit with no virus name: ${command} exited ${code} and no output line matched ${c.virusName.source}`));
    }
    return names.unplaced.length > 0 ? unplacedErrors() : keepOr(() => CLEAN);
  }
  if (matches(c.clean, code, output)) {
    // A clean exit that still names a virus somewhere: never let the unnamed units pass as clean.
    return names.unplaced.length > 0 ? unplacedErrors() : keepOr(() => CLEAN);
  }
  if (!Array.isArray(c.clean) && !Array.isArray(c.infected)) {
    return keepOr(() => errorVerdict('PROTOCOL', `${command} (exit ${code}): output matched neither the clean nor the infected pattern: ${why}`));
  }
  return keepOr(() => errorVerdict('SCANNER_EXIT', `${command} exited ${code}, which means neither clean nor infected: ${why}`));
}
