/**
 * YARA adapter: the `yara` program with a rules file (or `yarac`-compiled rules, `-C`),
 * run through src/core/exec.ts. Granularity `part`: it is handed the core's decoded parts
 * and archive members, so it sees base64, quoted-printable and deflated content that
 * `yara -r rules.yar maildir` (raw bytes only) misses.
 *
 * One process per batch: `yara -w [-C] RULES UNITDIR` over the private temp folder
 * (yara 4 takes one target, a file or a folder). Output lines `RuleName PATH` → a
 * detection named after the rule; `error scanning PATH: ...` on stderr → that unit's
 * error; a non-zero exit → SCANNER_EXIT with stderr.
 */
import { access, constants } from 'node:fs/promises';
import { run } from '../src/core/exec.js';
import type { Adapter, ProbeResult, ScanContext, ScanUnit, Verdict } from '../src/core/types.js';
import { CLEAN, deadlineFor, emptyFindings, errorVerdict, excerpt, infectedVerdict, runBatch } from './process-kit.js';

/** Options of `createYaraAdapter`: one of `rules` and `compiled` (with neither, the adapter reports itself not available). */
export interface YaraOptions {
  /** Name to select it by; default `yara`. */
  name?: string;
  /** A rules source file (.yar). */
  rules?: string;
  /** A compiled rules file made by `yarac` (loaded with `-C`). */
  compiled?: string;
  /** Program to run; default `yara`. */
  binary?: string;
  /** Per-run timeout in ms, on top of the caller's absolute deadline. */
  timeoutMs?: number;
  /** Parent folder of the private temp folders (default: os.tmpdir(), i.e. TMPDIR or /tmp). */
  tempDir?: string;
  /** Extra arguments placed before the rules (e.g. `['-d', 'x=1']`). */
  extraArgs?: string[];
}

/** Parse yara's stdout and stderr into per-unit rule names and errors. */
export function parseYaraOutput(
  stdout: string,
  stderr: string,
  files: { indexOfPath(p: string): number | undefined; indexInText(t: string): number | undefined },
  count: number,
): { detections: string[]; errors: string[] }[] {
  const out = emptyFindings(count);
  for (const raw of stdout.split('\n')) {
    const line = raw.replace(/\r$/, '');
    // "RuleName PATH", or with -m/-g/-e: "ns:RuleName [tags] [meta] PATH"; skip -s string lines ("0x..:$a: ...").
    const m = /^([A-Za-z_][\w:.]*)\s+(.+)$/.exec(line);
    if (m === null || line.startsWith('0x')) continue;
    const rest = m[2] as string;
    const i = files.indexOfPath(rest) ?? files.indexInText(rest);
    if (i !== undefined) out[i]?.detections.push(m[1] as string);
  }
  for (const raw of stderr.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const i = files.indexInText(line);
    if (i !== undefined) out[i]?.errors.push(line);
  }
  return out;
}

/** Build the YARA adapter. Throws TypeError on bad options (both rules and compiled, a bad path). */
export function createYaraAdapter(opts: YaraOptions = {}): Adapter {
  const name = opts.name ?? 'yara';
  const binary = opts.binary ?? 'yara';
  const extraArgs = opts.extraArgs ?? [];
  if (typeof name !== 'string' || name === '') throw new TypeError('yara: name must be a non-empty string');
  if (opts.rules !== undefined && opts.compiled !== undefined) throw new TypeError('yara: give one of rules (a .yar file) and compiled (yarac output), not both');
  const rulesPath = opts.rules ?? opts.compiled;
  if (rulesPath !== undefined && (typeof rulesPath !== 'string' || rulesPath === '')) throw new TypeError('yara: rules/compiled must be a file path');
  if (!Array.isArray(extraArgs) || !extraArgs.every((a) => typeof a === 'string')) throw new TypeError('yara: extraArgs must be an array of strings');
  if (opts.timeoutMs !== undefined && !(Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0)) throw new TypeError('yara: timeoutMs must be a positive number');
  if (opts.tempDir !== undefined && (typeof opts.tempDir !== 'string' || opts.tempDir === '')) throw new TypeError('yara: tempDir must be a folder path');
  const fileOpts = opts.tempDir === undefined ? {} : { parent: opts.tempDir };
  // Without rules (`yara` selected by its type name with default options) the adapter exists
  // but is not available: probe says what to configure, scans give NOT_AVAILABLE.
  const NO_RULES = 'no YARA rules configured: set "rules": "FILE.yar" (or "compiled": FILE from yarac) in the config';
  const ruleArgs = rulesPath === undefined ? [] : [...(opts.compiled === undefined ? [] : ['-C']), '-w', ...extraArgs, rulesPath];

  async function scanBatch(units: ScanUnit[], ctx: ScanContext): Promise<Verdict[]> {
    if (rulesPath === undefined) return units.map(() => errorVerdict('NOT_AVAILABLE', NO_RULES));
    return runBatch(units, ctx, async (files) => {
      const r = await run(binary, [...ruleArgs, files.unitDir], { deadline: deadlineFor(ctx, opts.timeoutMs), signal: ctx.signal });
      const found = parseYaraOutput(r.stdout, r.stderr, files, units.length);
      return units.map((u, i) => {
        const f = found[i] as { detections: string[]; errors: string[] };
        if (f.detections.length > 0) return infectedVerdict(f.detections, name, u);
        if (!r.ok) return errorVerdict(r.reason, `${r.message}${r.stderr ? `: ${excerpt(r.stderr)}` : ''}`);
        if (r.exitCode !== 0) return errorVerdict('SCANNER_EXIT', `yara exited ${r.exitCode}: ${excerpt(r.stderr) || 'no message'}`);
        if (f.errors.length > 0) return errorVerdict('SCANNER_EXIT', `yara: ${excerpt(f.errors.join('; '))}`);
        return CLEAN;
      });
    }, fileOpts);
  }

  return {
    name,
    type: 'yara',
    granularity: 'part',
    async probe(): Promise<ProbeResult> {
      const r = await run(binary, ['--version'], { deadline: Date.now() + 15_000 });
      if (!r.ok) return { available: false, reason: r.reason === 'NOT_AVAILABLE' ? `${binary} not found: install yara (apt-get install yara)` : r.message };
      const version = r.stdout.trim().split('\n')[0] ?? '';
      if (r.exitCode !== 0 || version === '') return { available: false, reason: `${binary} --version exited ${r.exitCode}: ${excerpt(r.stderr)}` };
      if (rulesPath === undefined) return { available: false, version, reason: NO_RULES };
      try {
        await access(rulesPath, constants.R_OK);
      } catch {
        return { available: false, version, reason: `rules file not readable: ${rulesPath} (pass rules FILE.yar or compiled FILE)` };
      }
      // Compile/load the rules once against an empty folder: a syntax error shows here, not mid-run.
      const check = await runBatch([{ kind: 'part', data: Buffer.alloc(0), location: 'probe' }], { signal: new AbortController().signal, deadline: Date.now() + 30_000 }, async (files) => {
        const c = await run(binary, [...ruleArgs, files.unitDir], { deadline: Date.now() + 30_000 });
        return [c.ok && c.exitCode === 0 ? CLEAN : errorVerdict('SCANNER_EXIT', excerpt(c.stderr) || (c.ok ? `exit ${c.exitCode}` : c.message))];
      });
      const v = check[0] as Verdict;
      if (v.status === 'error') return { available: false, version, reason: `yara cannot load ${rulesPath}: ${v.error.message}` };
      return { available: true, version, signatures: `${opts.compiled === undefined ? 'rules' : 'compiled rules'} ${rulesPath}` };
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
