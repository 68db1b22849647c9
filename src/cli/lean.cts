/**
 * Loader of the lean `avbench deliver` (interception point C runs one process per message,
 * so start-up is most of its cost) and the lean `avbench scan` (a whole scan of a corpus is
 * compared with `clamdscan --multiscan --fdpass DIR`, a C process that starts in ~10 ms).
 * bin.cts comes here first for `avbench deliver ...` and `avbench scan ...`. For deliver
 * (scan: `dist/lean/scan.cjs`, src/cli/scan-lean.ts, the same way):
 *
 * - `dist/lean/deliver.cjs` is src/cli/deliver-lean.ts bundled into one CommonJS file
 *   (scripts/build-deliver.ts, part of `npm run build`): one file read instead of ~300 ESM
 *   module resolutions, no yargs, libmime loaded only when an encoded word needs decoding.
 * - `dist/lean/deliver.cjs.cache` is V8's code cache of that file, made at build time after
 *   a sample delivery ran, so the functions a delivery uses need no compiling either. Its
 *   first 32 bytes are the SHA-256 the bundle names in its first line (`/*avbench-lean:HEX*\/`,
 *   written by the build), so a cache never meets another bundle; V8 itself also refuses a
 *   cache from another V8 version or other flags. Without a usable cache the bundle is
 *   compiled as usual (slower, same behaviour).
 *
 * Whenever the lean path cannot be used — no bundle (a plain `tsc` build), a bundle older
 * than this file (tsc ran after the bundle was made, so it may be stale), `AVBENCH_LEAN=0`,
 * a load error, or an argument list the strict parser leaves to yargs — the caller runs the
 * full CLI, which behaves as it always has. `AVBENCH_LEAN_TRACE=1` says on stderr which
 * path was taken and whether the code cache was accepted.
 *
 * A CommonJS module (.cts → dist/src/cli/lean.cjs), like bin.cts and guard.cts: the path of
 * a delivery never starts Node's ESM loader (src/cli/README.md has the figures). ES modules
 * import it by name (`import { leanDeliver } from './lean.cjs'`; Node reads the names of
 * tsc's `exports.X =` lines).
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
// Types only (erased): a CommonJS file cannot require these ES modules.
import type { DeliverIo } from './commands/deliver.js' with { 'resolution-mode': 'import' };
import type { ScanIo } from './commands/scan.js' with { 'resolution-mode': 'import' };

// (No node:crypto here: the bundle names its own digest.)

/** Where the bundle lives, relative to this compiled file (dist/src/cli/lean.cjs). */
export const LEAN_BUNDLE = join(__dirname, '../../lean/deliver.cjs');
/** Where the scan bundle lives. */
export const LEAN_SCAN_BUNDLE = join(__dirname, '../../lean/scan.cjs');
/** Suffix of the code cache file next to the bundle. */
export const CACHE_SUFFIX = '.cache';
/** Length of the bundle digest at the start of the cache file. */
const DIGEST_BYTES = 32;
/** The bundle's first line: `/*avbench-lean:SHA256*\/` (SHA-256 of the rest, hex). */
export const BUNDLE_ID = /^\/\*avbench-lean:([0-9a-f]{64})\*\//;

/** What the bundle exports (src/cli/deliver-lean.ts). */
export interface LeanDeliver {
  deliverMain(argv: readonly string[], io?: DeliverIo): Promise<number | undefined>;
}

/** What the scan bundle exports (src/cli/scan-lean.ts). */
export interface LeanScan {
  scanMain(argv: readonly string[], io?: ScanIo): Promise<number | undefined>;
}

/** The commands with a lean bundle, and the function each bundle exports. */
export type LeanCommand = 'deliver' | 'scan';
const ENTRY: Record<LeanCommand, string> = { deliver: 'deliverMain', scan: 'scanMain' };

/** A loaded bundle. */
export interface LoadedBundle<T = LeanDeliver> {
  exports: T;
  /** The compiled script (the build uses it to write the code cache). */
  script: import('node:vm').Script;
  /** The SHA-256 the bundle names in its first line (undefined: none, so no code cache). */
  digest: Buffer | undefined;
  /** none: no cache file · stale: made for another bundle · rejected: V8 refused it · accepted. */
  cache: 'none' | 'stale' | 'rejected' | 'accepted';
}

/**
 * Load and run a bundle file (CommonJS) with its code cache when there is a matching one.
 * `command` says which entry function it must export (default deliver). Throws on I/O or load errors.
 */
export function loadLeanBundle(file: string, opts?: { useCache?: boolean; command?: 'deliver' }): LoadedBundle<LeanDeliver>;
export function loadLeanBundle(file: string, opts: { useCache?: boolean; command: 'scan' }): LoadedBundle<LeanScan>;
export function loadLeanBundle(file: string, opts: { useCache?: boolean; command?: LeanCommand } = {}): LoadedBundle<LeanDeliver> | LoadedBundle<LeanScan> {
  const bytes = readFileSync(file);
  const named = BUNDLE_ID.exec(bytes.subarray(0, 100).toString('latin1'))?.[1];
  const digest = named === undefined ? undefined : Buffer.from(named, 'hex');
  let cachedData: Buffer | undefined;
  let cache: LoadedBundle['cache'] = 'none';
  if (opts.useCache !== false && digest !== undefined) {
    try {
      const c = readFileSync(file + CACHE_SUFFIX);
      if (c.length > DIGEST_BYTES && c.subarray(0, DIGEST_BYTES).equals(digest)) cachedData = c.subarray(DIGEST_BYTES);
      else cache = 'stale';
    } catch {
      /* no cache: compile as usual */
    }
  }
  const source = `(function (exports, require, module, __filename, __dirname, __avbenchImport) {${bytes.toString('utf8')}\n})`;
  const script = new Script(source, { filename: file, ...(cachedData === undefined ? {} : { cachedData }) });
  if (cachedData !== undefined) cache = script.cachedDataRejected === true ? 'rejected' : 'accepted';
  const fn = script.runInThisContext() as (e: object, r: NodeJS.Require, m: { exports: object }, f: string, d: string, i: (s: string) => Promise<unknown>) => void;
  const mod = { exports: {} as object };
  // The bundle's import() of a package kept outside it (scripts/build-deliver.ts): this module's own.
  fn.call(mod.exports, mod.exports, createRequire(file), mod, file, dirname(file), (specifier) => import(specifier));
  const entry = ENTRY[opts.command ?? 'deliver'];
  if (typeof (mod.exports as Record<string, unknown>)[entry] !== 'function') throw new Error(`${file} does not export ${entry}`);
  return { exports: mod.exports as LeanDeliver & LeanScan, script, digest, cache };
}

/** The code cache file's bytes for a loaded bundle: its digest, then V8's cached data (call after a sample run). */
export function codeCacheOf(b: LoadedBundle<unknown>): Buffer {
  if (b.digest === undefined) throw new Error('the bundle names no digest in its first line');
  return Buffer.concat([b.digest, b.script.createCachedData()]);
}

/**
 * Run `avbench deliver ARGV...` (ARGV after the word `deliver`) through the lean bundle.
 * Resolves to the exit code, or undefined when the caller should run the full CLI instead
 * (then stdin has not been touched).
 */
export async function leanDeliver(argv: readonly string[], bundle: string = LEAN_BUNDLE): Promise<number | undefined> {
  return leanRun('deliver', argv, bundle);
}

/**
 * Run `avbench scan ARGV...` (ARGV after the word `scan`) through the lean scan bundle.
 * Resolves to the exit code, or undefined when the caller should run the full CLI instead
 * (then nothing has been read or written).
 */
export async function leanScan(argv: readonly string[], bundle: string = LEAN_SCAN_BUNDLE): Promise<number | undefined> {
  return leanRun('scan', argv, bundle);
}

async function leanRun(command: LeanCommand, argv: readonly string[], bundle: string): Promise<number | undefined> {
  const trace = process.env['AVBENCH_LEAN_TRACE'] === '1' ? (s: string) => process.stderr.write(`avbench ${command}: ${s}\n`) : undefined;
  if (process.env['AVBENCH_LEAN'] === '0') {
    trace?.('full CLI (AVBENCH_LEAN=0)');
    return undefined;
  }
  let run: (argv: readonly string[]) => Promise<number | undefined>;
  let cache: LoadedBundle['cache'];
  try {
    // tsc rewrites this file on every build: a bundle older than it may be stale.
    if (statSync(bundle).mtimeMs < statSync(__filename).mtimeMs) {
      trace?.(`full CLI (${bundle} is older than the tsc build; run npm run build)`);
      return undefined;
    }
    if (command === 'scan') {
      const loaded = loadLeanBundle(bundle, { command });
      run = (a) => loaded.exports.scanMain(a);
      cache = loaded.cache;
    } else {
      const loaded = loadLeanBundle(bundle);
      run = (a) => loaded.exports.deliverMain(a);
      cache = loaded.cache;
    }
  } catch (err) {
    trace?.(`full CLI (lean bundle not usable: ${(err as Error).message})`);
    return undefined;
  }
  const code = await run(argv);
  trace?.(code === undefined ? 'full CLI (arguments left to yargs)' : `lean path (code cache ${cache})`);
  return code;
}

/** Folder of the bundle, for the build script. */
export const LEAN_DIR = dirname(LEAN_BUNDLE);
/** A bundle's path inside a build output folder (dist or a test's copy). */
export function leanBundleIn(outDir: string, command: LeanCommand = 'deliver'): string {
  return join(outDir, 'lean', `${command}.cjs`);
}
