/**
 * Build the lean `avbench deliver` and the lean `avbench scan` (part of `npm run build`,
 * after tsc). For each (scan: src/cli/scan-lean.js → dist/lean/scan.cjs, sample scans of a
 * small labelled folder, plain, -i, --json, with the summary table):
 *
 * 1. bundle dist/src/cli/deliver-lean.js and everything it imports into one CommonJS file,
 *    dist/lean/deliver.cjs (esbuild; minified, names kept; scan's: whitespace and syntax
 *    minified, identifiers as written, which keeps names at no run-time cost). libmime (with iconv-lite's
 *    tables, half the weight) is left out and loaded on first use: the MIME walk needs it
 *    only to decode an RFC 2047 encoded word in a file name. node:crypto, node:zlib and
 *    node:v8 are loaded on first use too (see lazyModules).
 * 2. run sample deliveries through the bundle (a Maildir, a COMMAND, a reject) and write
 *    V8's code cache of it, dist/lean/deliver.cjs.cache (src/cli/lean.cts explains its use).
 *
 * Before them, dist/src/cli/bin.cjs (the `avbench` executable) becomes one file with the
 * guard and the loader it requires (bundleBin).
 *
 * `node dist/scripts/build-deliver.js [--out DIR]` (default: the dist folder it lives in).
 * Both files are replaced atomically (temp file + rename), the cache after the bundle.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { CACHE_SUFFIX, codeCacheOf, leanBundleIn, loadLeanBundle, type LeanCommand } from '../src/cli/lean.cjs';
import { eicar } from '../src/corpus/eicar.js';
import { formatManifest } from '../src/corpus/manifest.js';
import { parseOptions } from './lib/args.js';

/** What the build wrote (one bundle). */
export interface LeanBuild {
  bundle: string;
  cache: string;
  bundleBytes: number;
  cacheBytes: number;
  /** Whether V8 accepted the cache when the build loaded the bundle again with it. */
  cacheAccepted: boolean;
}

/** Packages left in node_modules (imported dynamically by the code, when needed). */
const UNBUNDLED = /^7z-wasm$/;

/**
 * Built-in modules a delivery seldom needs (crypto: Maildir names, signature hashes; zlib:
 * gzip/zip members; v8: execa's IPC; worker_threads: the 7-Zip thread, ~1.5 ms to load;
 * fs/promises: Maildir and quarantine writes, ~1.2 ms with the readline modules it loads).
 */
const LAZY_BUILTINS = ['crypto', 'zlib', 'v8', 'worker_threads', 'fs/promises'] as const;

/**
 * Load on first use: libmime (with iconv-lite's tables), needed only to decode an RFC 2047
 * encoded word in a file name, and the LAZY_BUILTINS. Each import of them resolves to a
 * stand-in whose properties are getters that require the real module on first access; the
 * property names of a built-in module are taken from this Node at build time (a newer
 * runtime's extra names are not seen by code written for this one; an older runtime's
 * missing ones read as undefined, as they would from the real module). libmime's stand-in
 * is an ES module with a default export only, so a named import of it fails the build.
 */
async function lazyModules(): Promise<Plugin> {
  const keys: Record<string, string[]> = {};
  for (const b of LAZY_BUILTINS) keys[b] = Object.keys(((await import(`node:${b}`)) as { default: object }).default);
  const builtin = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`);
  return {
    name: 'avbench-lazy-modules',
    setup(b) {
      // Packages that find files next to themselves (7z-wasm its .wasm) stay in node_modules,
      // imported when first needed. Others imported dynamically (execa) are bundled: esbuild
      // runs a bundled module's top level on first import, and its code is in the code cache.
      b.onResolve({ filter: UNBUNDLED }, (args) => ({ path: args.path, external: true }));
      b.onResolve({ filter: /^libmime$/ }, (args) =>
        args.namespace === 'avbench-lazy' ? { path: 'libmime', external: true } : { path: 'libmime', namespace: 'avbench-lazy' },
      );
      b.onResolve({ filter: builtin }, (args) => {
        const name = `node:${args.path.replace(/^node:/, '')}`;
        return args.namespace === 'avbench-lazy' ? { path: name, external: true } : { path: name, namespace: 'avbench-lazy' };
      });
      b.onLoad({ filter: /.*/, namespace: 'avbench-lazy' }, (args) => {
        if (args.path === 'libmime') {
          return {
            loader: 'js',
            resolveDir: process.cwd(),
            contents: [
              'let real;',
              "const load = () => (real ??= require('libmime'));",
              'export default new Proxy({}, { get(_t, k) { const m = load(); const v = m[k]; return typeof v === "function" ? v.bind(m) : v; } });',
            ].join('\n'),
          };
        }
        const names = keys[args.path.slice(5)]!;
        return {
          loader: 'js',
          resolveDir: process.cwd(),
          contents: [
            'let real;',
            `const load = () => (real ??= require(${JSON.stringify(args.path)}));`,
            'const o = {};',
            `for (const k of ${JSON.stringify(names)}) Object.defineProperty(o, k, { enumerable: true, configurable: true, get: () => load()[k] });`,
            'module.exports = o;',
          ].join('\n'),
        };
      });
    },
  };
}

/** A small message with a text part and a base64 attachment (exercises the MIME walk). */
function sampleMessage(attachment: Buffer, name: string): Buffer {
  const b64 = attachment.toString('base64').replace(/.{1,76}/g, '$&\n');
  return Buffer.from(
    [
      'From: a@example.org',
      'To: b@example.org',
      'Subject: avbench build sample',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'hello =C3=A9',
      '--b1',
      `Content-Type: application/octet-stream; name="${name}"`,
      'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment; filename="${name}"`,
      '',
      b64,
      '--b1--',
      '',
    ].join('\n'),
  );
}

/** Atomically replace `file` with `data`. */
async function replace(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

/** The entry module of each lean bundle, inside the tsc output folder. */
const ENTRY_MODULE: Record<LeanCommand, string> = { deliver: 'deliver-lean.js', scan: 'scan-lean.js' };

/** Bundle and cache the lean deliver into `outDir` (a tsc output folder holding src/cli/deliver-lean.js). */
export function buildDeliverBundle(outDir: string): Promise<LeanBuild> {
  return buildLeanBundle(outDir, 'deliver');
}

/** Bundle and cache one lean command into `outDir` (a tsc output folder holding src/cli/<command>-lean.js). */
export async function buildLeanBundle(outDir: string, command: LeanCommand): Promise<LeanBuild> {
  const bundle = leanBundleIn(outDir, command);
  const cache = bundle + CACHE_SUFFIX;
  await mkdir(dirname(bundle), { recursive: true });
  const injectDir = await mkdtemp(join(tmpdir(), 'avbench-lean-inject-'));
  const importMetaFile = join(injectDir, 'import-meta-url.js');
  await writeFile(importMetaFile, "export const __avbenchImportMetaUrl = require('node:url').pathToFileURL(__filename).href;\n");
  const r = await build({
    entryPoints: [join(outDir, 'src', 'cli', ENTRY_MODULE[command])],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // deliver: minified, names kept (esbuild's keepNames). scan: identifiers left as they
    // are instead, so functions keep their names without keepNames' defineProperty call at
    // every closure's creation (a few per file scanned: ~5% of a whole scan's CPU).
    ...(command === 'scan' ? { minifyWhitespace: true, minifySyntax: true } : { minify: true, keepNames: true }),
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
    // The sources are ES modules, strict by definition; CommonJS output is strict only when
    // it says so (esbuild otherwise takes this from a tsconfig.json it finds, or not).
    tsconfigRaw: { compilerOptions: { alwaysStrict: true } },
    // adapters/embedded.ts finds package.json from its own location. (Injected, not a banner:
    // a banner would come before the bundle's "use strict" and turn strict mode off.)
    define: { 'import.meta.url': '__avbenchImportMetaUrl' },
    inject: [importMetaFile],
    plugins: [await lazyModules()],
  }).finally(() => rm(injectDir, { recursive: true, force: true }));
  const importMeta = r.warnings.filter((w) => w.text.includes('import.meta'));
  if (importMeta.length > 0) throw new Error(`lean bundle: import.meta used beyond import.meta.url: ${importMeta.map((w) => `${w.location?.file}: ${w.text}`).join('; ')}`);
  // A script run by node:vm cannot import() (not without --experimental-vm-modules on Node 20):
  // a package imported dynamically stays outside the bundle and is imported by the loader
  // (src/cli/lean.cts passes its import() in as __avbenchImport); a built-in becomes a require.
  const code = r.outputFiles[0]!.text
    .replace(/\bimport\("(node:[a-z_/]+)"\)/g, 'Promise.resolve(require("$1"))')
    .replace(/\bimport\(("[^"\\]+")\)/g, '__avbenchImport($1)');
  if (/\bimport\(/.test(code)) throw new Error('lean bundle: an import() with a computed specifier is left in it');
  if (!code.startsWith('"use strict";')) throw new Error('lean bundle: it does not start with "use strict" (the sources are ES modules, strict by definition)');
  const named = `/*avbench-lean:${createHash('sha256').update(code).digest('hex')}*/\n${code}`;
  await rm(cache, { force: true });
  await replace(bundle, named);

  // Sample runs, then the code cache (it then holds the functions they compiled).
  const work = await mkdtemp(join(tmpdir(), 'avbench-lean-build-'));
  try {
    const config = join(work, 'config.json');
    // "down": a clamd nobody answers (CONNECT_FAILED at once), so the clamd adapter's set-up
    // and connect code is in the cache too.
    await writeFile(config, JSON.stringify({ scanners: { down: { type: 'clamd', socket: join(work, 'none.sock'), timeoutMs: 2000 } } }));
    const cacheOf = command === 'scan' ? await sampleScans(bundle, work, config) : await sampleDeliveries(bundle, work, config);
    await replace(cache, cacheOf);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const check = command === 'scan' ? loadLeanBundle(bundle, { command }) : loadLeanBundle(bundle);
  return { bundle, cache, bundleBytes: statSync(bundle).size, cacheBytes: statSync(cache).size, cacheAccepted: check.cache === 'accepted' };
}

/** Sample deliveries through the deliver bundle; the code cache after them. */
async function sampleDeliveries(bundle: string, work: string, config: string): Promise<Buffer> {
  const loaded = loadLeanBundle(bundle, { useCache: false });
  const quiet = (msg: Buffer) => ({ readStdin: async () => msg, log: () => undefined });
  const clean = sampleMessage(Buffer.from('PK plain text, not a zip\n'), 'notes.txt');
  const infected = sampleMessage(eicar(), 'eicar.com');
  const runs: Array<[string[], Buffer, number]> = [
    [['-s', 'embedded', '-c', config, '--no-fsync', '--maildir', join(work, 'Maildir')], clean, 0],
    [['-s', 'embedded', '-c', config, '--defang', '--', process.execPath, '-e', 'process.stdin.resume()'], clean, 0],
    [['-s', 'embedded', '-c', config, '--no-fsync', '--maildir', join(work, 'Maildir')], infected, 77],
    [['-s', 'down', '-c', config, '--', process.execPath, '-e', 'process.stdin.resume()'], clean, 75],
  ];
  for (const [argv, msg, want] of runs) {
    const got = await loaded.exports.deliverMain(argv, quiet(msg));
    if (got !== want) throw new Error(`lean bundle: sample delivery ${argv.join(' ')} exited ${got}, expected ${want}`);
  }
  return codeCacheOf(loaded);
}

/** Sample scans of a small labelled folder through the scan bundle (output discarded); the code cache after them. */
async function sampleScans(bundle: string, work: string, config: string): Promise<Buffer> {
  const corpus = join(work, 'corpus');
  await mkdir(corpus);
  const messages: Array<[string, Buffer, 'clean' | 'infected']> = [
    ['m1.eml', sampleMessage(Buffer.from('PK plain text, not a zip\n'), 'notes.txt'), 'clean'],
    ['m2.eml', sampleMessage(eicar(), 'eicar.com'), 'infected'],
  ];
  for (const [name, data] of messages) await writeFile(join(corpus, name), data);
  await writeFile(
    join(corpus, 'manifest.json'),
    formatManifest(messages.map(([file, , expected]) => ({ file, expected, category: expected === 'clean' ? 'clean-plain' : 'base64', malformed: false }))),
  );
  const loaded = loadLeanBundle(bundle, { useCache: false, command: 'scan' });
  const sink = { write: () => true, isTTY: false };
  const io = { stdout: sink, stderr: sink };
  const runs: Array<[string[], number]> = [
    [['-s', 'embedded', '-c', config, corpus], 1],
    [['-s', 'embedded', '-c', config, '-i', '--no-summary', join(corpus, 'm1.eml')], 0],
    [['-s', 'embedded', '-c', config, '--json', corpus], 1],
    [['-s', 'down', '-c', config, corpus], 2],
  ];
  for (const [argv, want] of runs) {
    const got = await loaded.exports.scanMain(argv, io);
    if (got !== want) throw new Error(`lean bundle: sample scan ${argv.join(' ')} exited ${got}, expected ${want}`);
  }
  return codeCacheOf(loaded);
}

/** The first line after the shebang of a bin.cjs this build made one file (bundleBin). */
const BIN_BUNDLED = '// avbench-bin: bin.cts, guard.cts and lean.cts in one file (scripts/build-deliver.ts)';

/**
 * Make `<outDir>/src/cli/bin.cjs` (tsc's output of src/cli/bin.cts, which requires guard.cjs
 * and lean.cjs) one file with them: each further CommonJS file costs a start-up ~0.2–0.5 ms
 * (resolve, read, compile), and `avbench deliver` starts once per message. Only node:
 * built-ins stay required, and the full CLI stays `import('./main.js')`. Run before the lean
 * bundles are written: the inlined loader compares their mtime with bin.cjs's own (a later
 * tsc rewrites bin.cjs, as a plain requiring file, and the bundles count as stale again).
 * A bin.cjs already made one file is left as it is. Returns whether it wrote one.
 */
export async function bundleBin(outDir: string): Promise<boolean> {
  const bin = join(outDir, 'src', 'cli', 'bin.cjs');
  const text = await readFile(bin, 'utf8');
  if (text.split('\n', 3)[1] === BIN_BUNDLED) return false;
  if (!text.includes('require("./lean.cjs")') || !text.includes('require("./guard.cjs")')) throw new Error(`${bin}: not tsc's output of src/cli/bin.cts`);
  const r = await build({
    entryPoints: [bin],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
    plugins: [{ name: 'avbench-bin-external', setup: (b) => void b.onResolve({ filter: /^\.\/main\.js$/ }, (a) => ({ path: a.path, external: true })) }],
  });
  const code = r.outputFiles[0]!.text;
  const shebang = '#!/usr/bin/env node\n';
  if (!code.startsWith(`${shebang}"use strict";`)) throw new Error('bin bundle: it does not start with the shebang and "use strict"');
  const required = [...code.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]!).filter((m) => !m.startsWith('node:'));
  if (required.length > 0) throw new Error(`bin bundle: it still requires ${required.join(', ')}`);
  if (!code.includes('import("./main.js")')) throw new Error('bin bundle: the full CLI is not import("./main.js")');
  await replace(bin, `${shebang}${BIN_BUNDLED}\n${code.slice(shebang.length)}`);
  return true;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { out } = parseOptions('build-deliver', process.argv.slice(2), { out: { type: 'string' } }, 'node dist/scripts/build-deliver.js [--out DIR]');
  const outDir = out !== undefined ? resolve(out) : resolve(dirname(fileURLToPath(import.meta.url)), '..');
  if (await bundleBin(outDir)) process.stdout.write(`bin: ${join(outDir, 'src', 'cli', 'bin.cjs')} made one file with guard.cjs and lean.cjs\n`);
  for (const command of ['deliver', 'scan'] as const) {
    const b = await buildLeanBundle(outDir, command);
    process.stdout.write(
      `lean ${command}: ${b.bundle} (${(b.bundleBytes / 1024).toFixed(0)} KB), code cache ${(b.cacheBytes / 1024).toFixed(0)} KB${b.cacheAccepted ? '' : ` (NOT accepted by this node: ${command} compiles without it)`}\n`,
    );
  }
  // The sample deliveries may leave a keep-alive handle (the COMMAND's pipes): the build is done.
  process.exit(0);
}
