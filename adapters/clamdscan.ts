/**
 * clamdscan adapter: ClamAV's daemon client, run through src/core/exec.ts, talking to a
 * running clamd. `clamdscan --no-summary [--config-file=F] [--stream|--fdpass]
 * --file-list=LIST` (or `--multiscan --fdpass UNITDIR`: the private folder holding only
 * the batch's files), one process per batch; the same exit codes (0/1/2) and result lines
 * as clamscan (adapters/clamscan.ts parses both).
 *
 * Modes: `fdpass` (default) passes open descriptors over clamd's unix socket, so clamd
 * needs no access to our private 0700 temp folder; `stream` sends the bytes (works over
 * TCP); `multiscan-fdpass` lets clamd scan the batch's files in parallel; `plain` makes
 * clamd open the paths itself (clamd must be able to read them).
 */
import { run } from '../src/core/exec.js';
import type { Adapter, ProbeResult, Verdict } from '../src/core/types.js';
import { asksInfectedOnly, clamavBatchScanner, fileListArg, parseClamavVersion } from './clamscan.js';
import { errorVerdict, excerpt } from './process-kit.js';

/** How clamdscan hands files to clamd. */
export type ClamdscanMode = 'stream' | 'fdpass' | 'multiscan-fdpass' | 'plain';

/** Options of `createClamdscanAdapter`. */
export interface ClamdscanOptions {
  /** Name to select it by; default `clamdscan`. */
  name?: string;
  /** clamd.conf telling clamdscan where clamd listens (`--config-file`); default clamdscan's own (/etc/clamav/clamd.conf). */
  configFile?: string;
  /** Default `fdpass`. */
  mode?: ClamdscanMode;
  /** Program to run; default `clamdscan`. */
  binary?: string;
  /** Per-run timeout in ms, on top of the caller's absolute deadline. */
  timeoutMs?: number;
  /** Parent folder of the private temp folders (default: os.tmpdir(), i.e. TMPDIR or /tmp). */
  tempDir?: string;
  /** `message` (default: clamd parses mail itself) or `part`. */
  granularity?: 'message' | 'part';
}

const MODE_ARGS: Record<ClamdscanMode, string[]> = {
  stream: ['--stream'],
  fdpass: ['--fdpass'],
  'multiscan-fdpass': ['--multiscan', '--fdpass'],
  plain: [],
};

/** Build the clamdscan adapter. Throws TypeError on bad options. */
export function createClamdscanAdapter(opts: ClamdscanOptions = {}): Adapter {
  const name = opts.name ?? 'clamdscan';
  const binary = opts.binary ?? 'clamdscan';
  const mode = opts.mode ?? 'fdpass';
  const granularity = opts.granularity ?? 'message';
  if (typeof name !== 'string' || name === '') throw new TypeError('clamdscan: name must be a non-empty string');
  if (typeof binary !== 'string' || binary === '') throw new TypeError('clamdscan: binary must be a non-empty string');
  if (!Object.hasOwn(MODE_ARGS, mode)) throw new TypeError(`clamdscan: mode must be one of ${Object.keys(MODE_ARGS).join(', ')}, got ${JSON.stringify(mode)}`);
  if (opts.configFile !== undefined && (typeof opts.configFile !== 'string' || opts.configFile === '')) throw new TypeError('clamdscan: configFile must be a file path');
  if (opts.timeoutMs !== undefined && !(Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0)) throw new TypeError('clamdscan: timeoutMs must be a positive number');
  if (opts.tempDir !== undefined && (typeof opts.tempDir !== 'string' || opts.tempDir === '')) throw new TypeError('clamdscan: tempDir must be a folder path');
  if (granularity !== 'message' && granularity !== 'part') throw new TypeError("clamdscan: granularity must be 'message' or 'part'");
  const configArgs = opts.configFile === undefined ? [] : [`--config-file=${opts.configFile}`];
  const baseArgs = ['--no-summary', ...configArgs, ...MODE_ARGS[mode]];
  const folderScan = mode === 'multiscan-fdpass';
  // File-list modes scan whole messages that are files on disk where they are (no temp copy);
  // the folder scan of multiscan needs every unit inside its folder.
  const fileOpts = { inPlace: !folderScan, ...(opts.tempDir === undefined ? {} : { parent: opts.tempDir }) };
  const scanBatch = clamavBatchScanner({
    program: 'clamdscan',
    name,
    binary,
    timeoutMs: opts.timeoutMs,
    fileOpts,
    silentMeansClean: folderScan || asksInfectedOnly(baseArgs),
    // multiscan: clamd's MULTISCAN works on a folder (a file list is sent file by file), so
    // hand it the folder holding only this batch's files; clamd then names only what it
    // found. Other modes: a file list, which gives one result line per file.
    args: async (files) => [...baseArgs, folderScan ? files.unitDir : await fileListArg(files)],
    // clamd unreachable: clamdscan exits 2 with "Could not connect" and no per-file lines.
    early: (r, findings, units) =>
      r.exitCode === 2 && /Could not connect|Can't connect|connect\(\) failed/i.test(r.stderr) && findings.every((f) => !f.ok && f.detections.length === 0)
        ? units.map(() => errorVerdict('CONNECT_FAILED', `clamdscan: ${excerpt(r.stderr)}`))
        : undefined,
  });

  return {
    name,
    type: 'clamdscan',
    granularity,
    async probe(): Promise<ProbeResult> {
      // --version asks clamd (VERSION command): "ClamAV 1.4.6/27000/date"; when clamd cannot be
      // reached it prints its own version and "ERROR: Could not connect ..." on stderr.
      const r = await run(binary, [...configArgs, '--version'], { deadline: Date.now() + 15_000 });
      if (!r.ok) return { available: false, reason: r.reason === 'NOT_AVAILABLE' ? `${binary} not found: install clamdscan (apt-get install clamdscan)` : r.message };
      const v = parseClamavVersion(r.stdout);
      const trouble = /ERROR|Could not connect|Can't connect/i.test(r.stderr);
      if (r.exitCode !== 0 || v === undefined || trouble) {
        return {
          available: false,
          ...(v === undefined ? {} : { version: v.version }),
          reason: `clamd not reachable through clamdscan${opts.configFile === undefined ? '' : ` (config ${opts.configFile})`}: ${excerpt(r.stderr || r.stdout) || `exit ${r.exitCode}`}`,
        };
      }
      return { available: true, version: v.version, ...(v.signatures === undefined ? {} : { signatures: v.signatures }) };
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
