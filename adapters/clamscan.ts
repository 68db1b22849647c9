/**
 * clamscan adapter: ClamAV's command-line scanner, run through src/core/exec.ts.
 *
 * `clamscan --no-summary --stdout [-d DB] --file-list=LIST`: one process per batch, so
 * the signature load is paid once however many units there are (the list file avoids
 * ARG_MAX). Exit 0 clean, 1 found, 2 error; each file gets a `PATH: OK`,
 * `PATH: NAME FOUND` or `PATH: ... ERROR` line, mapped back to its unit by the
 * generated file name (adapters/tempdir.ts).
 */
import { readdir, stat } from 'node:fs/promises';
import { run, type RunResult } from '../src/core/exec.js';
import type { Adapter, ProbeResult, ScanContext, ScanUnit, Verdict } from '../src/core/types.js';
import {
  CLEAN,
  deadlineFor,
  emptyFindings,
  errorVerdict,
  excerpt,
  infectedVerdict,
  runBatch,
  type UnitFindings,
} from './process-kit.js';
import type { UnitFileOptions, UnitFiles } from './tempdir.js';

/** Options of `createClamscanAdapter`. */
export interface ClamscanOptions {
  /** Name to select it by; default `clamscan`. */
  name?: string;
  /** Signature database folder or file (`-d`). Without it clamscan uses its built-in default (/var/lib/clamav). */
  database?: string;
  /** Program to run; default `clamscan` (looked up on PATH). */
  binary?: string;
  /** Extra arguments placed before the file list (e.g. `--max-filesize=50M`). */
  extraArgs?: string[];
  /** Per-run timeout in ms, on top of the caller's absolute deadline. */
  timeoutMs?: number;
  /** Parent folder of the private temp folders (default: os.tmpdir(), i.e. TMPDIR or /tmp). */
  tempDir?: string;
  /** `message` (default: ClamAV parses mail itself) or `part`. */
  granularity?: 'message' | 'part';
}

/** Where clamscan looks for signatures when no `-d` is given (Debian's build). */
export const CLAMAV_DEFAULT_DATABASE = '/var/lib/clamav';

/** File extensions ClamAV loads as signature databases. */
const DB_EXTENSIONS = /\.(cvd|cld|cud|ndb|ndu|hdb|hsb|hdu|hsu|mdb|msb|mdu|msu|ldb|ldu|idb|cdb|cbc|pdb|gdb|wdb|fp|sfp|ftm|ign|ign2|crb|cat|yar|yara|imp|ioc|info|cfg)$/i;

/**
 * Parse ClamAV-style result lines (clamscan and clamdscan share them) into per-unit findings.
 * `PATH: NAME FOUND` is split at the last `: ` (names may contain spaces, never `: `);
 * `PATH: OK`; `PATH: ... ERROR` and `WARNING: PATH: ...` are per-file errors. A line is
 * mapped to its unit by its path's generated file name; lines for no unit are ignored.
 */
export function parseClamavOutput(text: string, files: Pick<UnitFiles, 'indexOfPath' | 'indexInText'>, count: number, into?: UnitFindings[]): UnitFindings[] {
  const findings = into ?? emptyFindings(count);
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '') continue;
    if (line.endsWith(' FOUND')) {
      const body = line.slice(0, -' FOUND'.length);
      const cut = body.lastIndexOf(': ');
      if (cut < 0) continue;
      const i = files.indexOfPath(body.slice(0, cut)) ?? files.indexInText(body.slice(0, cut));
      const name = body.slice(cut + 2).trim();
      if (i !== undefined && name !== '') findings[i]?.detections.push(name);
      continue;
    }
    // `Empty file`: clamscan's word for a zero-byte file it had nothing to scan in (clamd says OK).
    const okSuffix = line.endsWith(': OK') ? ': OK' : line.endsWith(': Empty file') ? ': Empty file' : undefined;
    if (okSuffix !== undefined) {
      const i = files.indexOfPath(line.slice(0, -okSuffix.length));
      if (i !== undefined) (findings[i] as UnitFindings).ok = true;
      continue;
    }
    if (line.endsWith(' ERROR') || line.startsWith('WARNING: ') || line.startsWith('ERROR: ')) {
      const i = files.indexInText(line);
      if (i !== undefined) findings[i]?.errors.push(line.trim());
    }
  }
  return findings;
}

/**
 * Turn findings plus the exit code of a clamscan/clamdscan run into verdicts.
 * FOUND → infected (whatever the exit code); a per-file ERROR → SCANNER_EXIT;
 * `OK` → clean; exit 2 (or any other code) with no line → SCANNER_EXIT.
 * A unit with no line at all: when `silentMeansClean` is false (the scanner prints a line per
 * file), exit 0 → PROTOCOL and exit 1 → PROTOCOL (never a detection, never clean). When it is
 * true (infected-only output `-i`, or a folder scan, where ClamAV names only what it found),
 * exit 0 → clean, and exit 1 → clean only if some other unit of the run has its FOUND line.
 */
/** Parse a ClamAV program's stdout and stderr (FOUND, OK, ERROR lines) into per-unit findings. */
export function parseClamavRun(r: Pick<RunResult, 'stdout' | 'stderr'>, files: Pick<UnitFiles, 'indexOfPath' | 'indexInText'>, count: number): UnitFindings[] {
  const findings = parseClamavOutput(r.stdout, files, count);
  return parseClamavOutput(r.stderr, files, count, findings);
}

/**
 * Verdicts when the process was killed, timed out or could not start: what it had already
 * reported as found stands; every other unit gets the run's error (never clean).
 */
export function failedRunVerdicts(scanner: string, units: readonly ScanUnit[], findings: readonly UnitFindings[], r: Extract<RunResult, { ok: false }>): Verdict[] {
  return units.map((u, i) => {
    const f = findings[i] as UnitFindings;
    return f.detections.length > 0 ? infectedVerdict(f.detections, scanner, u) : errorVerdict(r.reason, `${r.message}${r.stderr ? `: ${excerpt(r.stderr)}` : ''}`);
  });
}

export function clamavVerdicts(
  program: string,
  scanner: string,
  units: readonly ScanUnit[],
  findings: readonly UnitFindings[],
  exitCode: number,
  stderr: string,
  silentMeansClean: boolean,
): Verdict[] {
  const anyFound = findings.some((f) => f.detections.length > 0);
  return units.map((unit, i) => {
    const f = findings[i] as UnitFindings;
    if (f.detections.length > 0) return infectedVerdict(f.detections, scanner, unit);
    if (f.errors.length > 0) return errorVerdict('SCANNER_EXIT', `${program} (exit ${exitCode}): ${excerpt(f.errors.join('; '))}`);
    if (f.ok) return CLEAN;
    if (exitCode === 0) {
      return silentMeansClean ? CLEAN : errorVerdict('PROTOCOL', `${program} exited 0 but printed no result line for this file`);
    }
    if (exitCode === 1) {
      if (silentMeansClean && anyFound) return CLEAN;
      return errorVerdict('PROTOCOL', `${program} exited 1 (virus found) but printed no FOUND line for this file`);
    }
    return errorVerdict('SCANNER_EXIT', `${program} exited ${exitCode}: ${excerpt(stderr) || 'no message'}`);
  });
}

/** One run of a ClamAV command-line tool (clamscan, clamdscan) over a batch of units. */
export interface ClamavBatchRun {
  program: 'clamscan' | 'clamdscan';
  /** The adapter's name (in detections). */
  name: string;
  binary: string;
  /** Per-run timeout in ms, on top of the caller's deadline. */
  timeoutMs: number | undefined;
  /** How the batch's files are written (in place, temp folder parent). */
  fileOpts: UnitFileOptions;
  /** A file the tool names no result line for is clean (infected-only output, a folder scan). */
  silentMeansClean: boolean;
  /** The arguments of the run for these files (the target: a file list or a folder). */
  args(files: UnitFiles): Promise<string[]>;
  /** Verdicts for a run that ended before its per-file lines (clamdscan: clamd unreachable); undefined: judge the lines. */
  early?(r: Extract<RunResult, { ok: true }>, findings: readonly UnitFindings[], units: readonly ScanUnit[]): Verdict[] | undefined;
}

/** `--file-list=FILE` naming the batch's files, one a line (one result line per file). */
export async function fileListArg(files: UnitFiles): Promise<string> {
  return `--file-list=${await files.writeHelper('list.txt', files.paths.join('\n') + '\n')}`;
}

/** The adapter's scanBatch for a ClamAV tool: write the units, run it once, one verdict per unit (an error never clean). */
export function clamavBatchScanner(o: ClamavBatchRun): (units: ScanUnit[], ctx: ScanContext) => Promise<Verdict[]> {
  return (units, ctx) =>
    runBatch(units, ctx, async (files) => {
      const r = await run(o.binary, await o.args(files), { deadline: deadlineFor(ctx, o.timeoutMs), signal: ctx.signal });
      const findings = parseClamavRun(r, files, units.length);
      if (!r.ok) return failedRunVerdicts(o.name, units, findings, r);
      return o.early?.(r, findings, units) ?? clamavVerdicts(o.program, o.name, units, findings, r.exitCode, r.stderr, o.silentMeansClean);
    }, o.fileOpts);
}

/** Does an argument list ask ClamAV to print infected files only? */
export function asksInfectedOnly(args: readonly string[]): boolean {
  return args.some((a) => a === '-i' || a === '--infected');
}

/** Signature database files in `dir` (or `[dir]` when it is a file); undefined when it does not exist. */
export async function databaseFiles(path: string): Promise<string[] | undefined> {
  try {
    const st = await stat(path);
    if (st.isFile()) return [path];
    if (!st.isDirectory()) return [];
    return (await readdir(path)).filter((n) => DB_EXTENSIONS.test(n)).sort();
  } catch {
    return undefined;
  }
}

/** Version line of ClamAV's `--version` output: `ClamAV 1.4.6` or `ClamAV 1.4.6/27000/Tue ...`. */
export function parseClamavVersion(stdout: string): { version: string; signatures?: string } | undefined {
  const m = /ClamAV\s+([^\s/]+)(?:\/(\d+)\/(.+))?/.exec(stdout);
  if (m === null) return undefined;
  const version = m[1] as string;
  return m[2] === undefined ? { version } : { version, signatures: `daily ${m[2]} (${(m[3] ?? '').trim()})` };
}

/** Build the clamscan adapter. Throws TypeError on bad options. */
export function createClamscanAdapter(opts: ClamscanOptions = {}): Adapter {
  const name = opts.name ?? 'clamscan';
  const binary = opts.binary ?? 'clamscan';
  const extraArgs = opts.extraArgs ?? [];
  const granularity = opts.granularity ?? 'message';
  if (typeof name !== 'string' || name === '') throw new TypeError('clamscan: name must be a non-empty string');
  if (typeof binary !== 'string' || binary === '') throw new TypeError('clamscan: binary must be a non-empty string');
  if (!Array.isArray(extraArgs) || !extraArgs.every((a) => typeof a === 'string')) throw new TypeError('clamscan: extraArgs must be an array of strings');
  if (opts.database !== undefined && (typeof opts.database !== 'string' || opts.database === '')) throw new TypeError('clamscan: database must be a folder path');
  if (opts.timeoutMs !== undefined && !(Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0)) throw new TypeError('clamscan: timeoutMs must be a positive number');
  if (opts.tempDir !== undefined && (typeof opts.tempDir !== 'string' || opts.tempDir === '')) throw new TypeError('clamscan: tempDir must be a folder path');
  // Whole messages that are files on disk are scanned where they are (no temp copy).
  const fileOpts = { inPlace: true, ...(opts.tempDir === undefined ? {} : { parent: opts.tempDir }) };
  if (granularity !== 'message' && granularity !== 'part') throw new TypeError("clamscan: granularity must be 'message' or 'part'");
  const baseArgs = ['--no-summary', '--stdout', ...(opts.database === undefined ? [] : ['-d', opts.database]), ...extraArgs];

  const scanBatch = clamavBatchScanner({
    program: 'clamscan',
    name,
    binary,
    timeoutMs: opts.timeoutMs,
    fileOpts,
    silentMeansClean: asksInfectedOnly(extraArgs),
    args: async (files) => [...baseArgs, await fileListArg(files)],
  });

  return {
    name,
    type: 'clamscan',
    granularity,
    async probe(): Promise<ProbeResult> {
      const r = await run(binary, ['--version'], { deadline: Date.now() + 15_000 });
      if (!r.ok) return { available: false, reason: r.reason === 'NOT_AVAILABLE' ? `${binary} not found: install clamav (apt-get install clamav)` : r.message };
      const v = parseClamavVersion(r.stdout);
      if (r.exitCode !== 0 || v === undefined) return { available: false, reason: `${binary} --version exited ${r.exitCode}: ${excerpt(r.stdout + r.stderr)}` };
      const dbPath = opts.database ?? CLAMAV_DEFAULT_DATABASE;
      const dbFiles = await databaseFiles(dbPath);
      if (dbFiles === undefined || dbFiles.length === 0) {
        const reason = opts.database === undefined
          ? `no signature database: pass database DIR (nothing in ${CLAMAV_DEFAULT_DATABASE})`
          : `no signature database: ${dbPath} ${dbFiles === undefined ? 'does not exist' : 'holds no signature files'}`;
        return { available: false, version: v.version, reason };
      }
      const shown = dbFiles.length > 5 ? `${dbFiles.slice(0, 5).join(', ')}, …` : dbFiles.join(', ');
      return {
        available: true,
        version: v.version,
        signatures: v.signatures ?? `${dbFiles.length} database file${dbFiles.length === 1 ? '' : 's'} in ${dbPath} (${shown})`,
      };
    },
    async scan(unit, ctx) {
      return (await scanBatch([unit], ctx))[0] as Verdict;
    },
    scanBatch,
    async close() {
      /* nothing held between scans */
    },
  };
}
