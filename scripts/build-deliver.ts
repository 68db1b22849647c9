/**
 * Build the lean `avbench deliver` (part of `npm run build`, after tsc):
 *
 * 1. bundle dist/src/cli/deliver-lean.js and everything it imports into one CommonJS file,
 *    dist/lean/deliver.cjs (esbuild; minified, names kept). libmime (with iconv-lite's
 *    tables, half the weight) is left out and loaded on first use: the MIME walk needs it
 *    only to decode an RFC 2047 encoded word in a file name.
 * 2. run sample deliveries through the bundle (a Maildir, a COMMAND, a reject) and write
 *    V8's code cache of it, dist/lean/deliver.cjs.cache (src/cli/lean.ts explains its use).
 *
 * `node dist/scripts/build-deliver.js [--out DIR]` (default: the dist folder it lives in).
 * Both files are replaced atomically (temp file + rename), the cache after the bundle.
 */
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { CACHE_SUFFIX, codeCacheOf, leanBundleIn, loadLeanBundle } from '../src/cli/lean.js';
import { eicar } from '../src/corpus/eicar.js';

/** What the build wrote. */
export interface LeanBuild {
  bundle: string;
  cache: string;
  bundleBytes: number;
  cacheBytes: number;
  /** Whether V8 accepted the cache when the build loaded the bundle again with it. */
  cacheAccepted: boolean;
}

/** `import libmime from 'libmime'` → a stand-in that requires the real one on first property access. */
const lazyLibmime: Plugin = {
  name: 'avbench-lazy-libmime',
  setup(b) {
    b.onResolve({ filter: /^libmime$/ }, (args) =>
      args.namespace === 'avbench-lazy' ? { path: 'libmime', external: true } : { path: 'libmime', namespace: 'avbench-lazy' },
    );
    b.onLoad({ filter: /.*/, namespace: 'avbench-lazy' }, () => ({
      loader: 'js',
      resolveDir: process.cwd(),
      contents: [
        'let real;',
        "const load = () => (real ??= require('libmime'));",
        // An ES module with a default export only: a named import of libmime fails the build.
        'export default new Proxy({}, { get(_t, k) { const m = load(); const v = m[k]; return typeof v === "function" ? v.bind(m) : v; } });',
      ].join('\n'),
    }));
  },
};

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

/** Bundle and cache into `outDir` (a tsc output folder holding src/cli/deliver-lean.js). */
export async function buildDeliverBundle(outDir: string): Promise<LeanBuild> {
  const bundle = leanBundleIn(outDir);
  const cache = bundle + CACHE_SUFFIX;
  await mkdir(dirname(bundle), { recursive: true });
  const r = await build({
    entryPoints: [join(outDir, 'src', 'cli', 'deliver-lean.js')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    keepNames: true,
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
    // adapters/embedded.ts finds package.json from its own location.
    define: { 'import.meta.url': '__avbenchImportMetaUrl' },
    banner: { js: "var __avbenchImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    plugins: [lazyLibmime],
  });
  const importMeta = r.warnings.filter((w) => w.text.includes('import.meta'));
  if (importMeta.length > 0) throw new Error(`lean bundle: import.meta used beyond import.meta.url: ${importMeta.map((w) => `${w.location?.file}: ${w.text}`).join('; ')}`);
  // A script run by node:vm has no import(): a built-in module imported dynamically (exec.ts'
  // which()) becomes a require, and any other import() fails the build.
  const code = r.outputFiles[0]!.text.replace(/\bimport\("(node:[a-z_/]+)"\)/g, 'Promise.resolve(require("$1"))');
  if (/\bimport\(/.test(code)) throw new Error('lean bundle: a dynamic import() is left in it (only built-in modules can be imported dynamically)');
  await rm(cache, { force: true });
  await replace(bundle, code);

  // Sample deliveries, then the code cache (it then holds the functions they compiled).
  const work = await mkdtemp(join(tmpdir(), 'avbench-lean-build-'));
  try {
    const config = join(work, 'config.json');
    await writeFile(config, '{"scanners":{}}\n');
    const loaded = loadLeanBundle(bundle, { useCache: false });
    const quiet = (msg: Buffer) => ({ readStdin: async () => msg, log: () => undefined });
    const clean = sampleMessage(Buffer.from('PK plain text, not a zip\n'), 'notes.txt');
    const infected = sampleMessage(eicar(), 'eicar.com');
    const runs: Array<[string[], Buffer, number]> = [
      [['-s', 'embedded', '-c', config, '--no-fsync', '--maildir', join(work, 'Maildir')], clean, 0],
      [['-s', 'embedded', '-c', config, '--defang', '--', process.execPath, '-e', 'process.stdin.resume()'], clean, 0],
      [['-s', 'embedded', '-c', config, '--no-fsync', '--maildir', join(work, 'Maildir')], infected, 77],
    ];
    for (const [argv, msg, want] of runs) {
      const got = await loaded.exports.deliverMain(argv, quiet(msg));
      if (got !== want) throw new Error(`lean bundle: sample delivery ${argv.join(' ')} exited ${got}, expected ${want}`);
    }
    await replace(cache, codeCacheOf(loaded));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const check = loadLeanBundle(bundle);
  return { bundle, cache, bundleBytes: statSync(bundle).size, cacheBytes: statSync(cache).size, cacheAccepted: check.cache === 'accepted' };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const i = process.argv.indexOf('--out');
  const outDir = i > 0 && process.argv[i + 1] !== undefined ? resolve(process.argv[i + 1]!) : resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const b = await buildDeliverBundle(outDir);
  process.stdout.write(
    `lean deliver: ${b.bundle} (${(b.bundleBytes / 1024).toFixed(0)} KB), code cache ${(b.cacheBytes / 1024).toFixed(0)} KB${b.cacheAccepted ? '' : ' (NOT accepted by this node: deliver compiles without it)'}\n`,
  );
  // The sample deliveries may leave a keep-alive handle (the COMMAND's pipes): the build is done.
  process.exit(0);
}
