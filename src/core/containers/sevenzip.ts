/**
 * Containers opened through 7-Zip (the `7z-wasm` package: 7-Zip 24.09 compiled to
 * WebAssembly, no native code, no process): 7z, bzip2, xz, ARJ, CAB, cpio, CHM, OLE2
 * compound files (.doc/.xls/.ppt/.msi streams), RAR, MS-LZ (SZDD), LZH, RPM, ar/deb, ISO,
 * NSIS installers, and zip members whose method our zip reader lacks (bzip2, deflate64,
 * implode, LZMA, PPMd...).
 *
 * Bounded without holding a bomb: the archive is listed first (`l -slt`: names, sizes,
 * encrypted flag, entry count checked against maxArchiveEntries), then each member is
 * extracted on its own (`e -so`) to 7-Zip's stdout, which is a callback here: every 64 KB
 * is charged to the budget (maxExpandedBytes, maxCompressionRatio, time) as it comes, and
 * a limit throws out of the callback, through the WASM frames, and stops 7-Zip at once. A
 * 7-Zip instance that was stopped that way is dropped (its memory state is unknown) and a
 * fresh one is made for the next archive (~20 ms). Only the archive itself is copied into
 * 7-Zip's in-memory file system, never its expanded members.
 *
 * The module is loaded on first use, so messages without such a container never pay for it.
 *
 * Known limits of this design: 7-Zip runs synchronously on the event loop, so the time
 * limit is checked only between output chunks — a decoder spinning without output cannot
 * be interrupted (none was seen in 125,000 fuzz cases; running 7-Zip in a worker thread
 * that can be terminated would remove this). 7-Zip's own allocations (a dictionary an
 * archive asks for) live in its WASM heap, which can grow to 2 GB; the instance is
 * replaced after a big archive so the memory is given back.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { SevenZipModule, SevenZipModuleFactory, SevenZipModuleOptions } from '7z-wasm';
import type { ScanUnit } from '../types.js';
import type { Budget } from '../limits.js';
import { isFatal, reason, type Member } from './member.js';

/** One entry of a `7z l -slt` listing. */
export interface SevenZipEntry {
  path: string;
  size?: number;
  packedSize?: number;
  dir: boolean;
  encrypted: boolean;
  method?: string;
}

/** What 7-Zip said about an archive. */
export interface SevenZipListing {
  /** 7-Zip's name of the format (`7z`, `Cab`, `Compound`, `Nsis`...); undefined when it could not open it. */
  type?: string;
  entries: SevenZipEntry[];
  /** 7-Zip's exit code: 0 ok, 1 warning, 2 fatal. */
  code: number;
  /** What 7-Zip printed on stderr (and the listing's error lines), trimmed. */
  message: string;
}

const CHUNK = 64 * 1024;
/** Most stderr kept from one call (7-Zip's messages are short). */
const MAX_ERR = 4096;
/** Most listing text read (a listing is ~150 bytes an entry; maxArchiveEntries bounds it anyway). */
const MAX_LISTING = 16 * 1024 * 1024;
/** A password given so that 7-Zip never asks for one on stdin; wrong on purpose. */
const NO_PASSWORD = '-pavbench-no-password';
const INPUT = '/in';
/** Archives bigger than this get a fresh 7-Zip instance after their run (see run()). */
const BIG_INPUT = 8 * 1024 * 1024;

interface Instance {
  mod: SevenZipModule;
  /** Runs so far (the instance is replaced after MAX_RUNS_PER_INSTANCE). */
  runs: number;
  /** Where stdout bytes go during the current call. */
  out: (byte: number) => void;
  err: number[];
}

let loading: Promise<Instance> | undefined;

/** The parts of the WebAssembly global used here (the project's lib config does not declare it). */
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: unknown): Promise<object>;
}

function wasm(): WasmApi {
  return (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
}

let compiling: Promise<object> | undefined;

/** 7-Zip's WASM binary, compiled once per process. */
function compiledWasm(): Promise<object> {
  compiling ??= readFile(createRequire(import.meta.url).resolve('7z-wasm/7zz.wasm')).then((bytes) => wasm().compile(bytes));
  const p = compiling;
  p.catch(() => {
    if (compiling === p) compiling = undefined;
  });
  return p;
}

/** The process's 7-Zip instance (made on first use; a stopped one is replaced). */
function instance(): Promise<Instance> {
  loading ??= (async () => {
    // The package's main is a CommonJS (UMD) build: Node's default export is the factory.
    const mod = (await import('7z-wasm')) as unknown as { default: SevenZipModuleFactory | { default: SevenZipModuleFactory } };
    const SevenZip = typeof mod.default === 'function' ? mod.default : mod.default.default;
    const compiled = await compiledWasm();
    const inst: Instance = { mod: undefined as unknown as SevenZipModule, runs: 0, out: () => undefined, err: [] };
    // `instantiateWasm` is an Emscripten module option the package's types leave out.
    const options: Partial<SevenZipModuleOptions> & { instantiateWasm: unknown } = {
      // A new instance of the module compiled once (measured: 18 ms a new instance
      // compiling the 1.6 MB binary each time, 2.5 ms instantiating the compiled one).
      instantiateWasm: (imports: unknown, ready: (instance: unknown, module: unknown) => void) => {
        wasm().instantiate(compiled, imports).then((instance) => ready(instance, compiled), () => undefined);
        return {};
      },
      stdout: (c: number) => inst.out(c),
      stderr: (c: number) => {
        if (inst.err.length < MAX_ERR) inst.err.push(c);
      },
      // 7-Zip must never read a password (or anything) from our stdin.
      stdin: () => null as unknown as number,
      print: () => undefined,
      printErr: () => undefined,
    };
    inst.mod = await SevenZip(options);
    return inst;
  })();
  const p = loading;
  p.catch(() => {
    if (loading === p) loading = undefined;
  });
  return p;
}

/** Drop the instance after an abort out of the middle of 7-Zip. */
function discard(p: Promise<Instance>): void {
  if (loading === p) loading = undefined;
}

/** What the current call's stdout sink threw (set by the sink before throwing). */
let failed: unknown;

/** Calls on one instance must not interleave (its stdout and file system are shared). */
let queue: Promise<unknown> = Promise.resolve();

function exclusive<T>(f: () => Promise<T>): Promise<T> {
  const run = queue.then(f, f);
  queue = run.catch(() => undefined);
  return run;
}

/**
 * One 7-Zip job, alone on the instance, tried again once on a fresh instance when the
 * WASM trapped ("memory access out of bounds"): 7-Zip's main() is not made to run
 * thousands of times in one process, and state left by earlier runs was seen to make a
 * later one trap: expanding clam.ppt over and over trapped after ~360 runs on one instance
 * (none in 12,000 runs with instances replaced every 100 runs, which costs ~0.2 ms a run).
 * A trap on a fresh instance is the data's own: it is thrown.
 */
function job<T>(attempt: () => Promise<T>): Promise<T> {
  return exclusive(async () => {
    try {
      return await attempt();
    } catch (err) {
      // WebAssembly.RuntimeError (the lib config has no WebAssembly types: known by name).
      if (!(err instanceof Error && err.name === 'RuntimeError')) throw err;
      return attempt();
    }
  });
}

/** Runs on one instance before it is replaced anyway (see job()). */
const MAX_RUNS_PER_INSTANCE = 100;

/**
 * Run 7-Zip once with `data` as /in. `onByte` receives stdout; if it throws, 7-Zip is
 * stopped there, the instance dropped, and the error rethrown.
 */
async function run(data: Buffer, args: string[], onByte: (byte: number) => void): Promise<{ code: number; stderr: string }> {
  const p = instance();
  const inst = await p;
  const fs = inst.mod.FS;
  inst.err = [];
  // One call per output byte: the sink itself, no wrapper (measured: the wrapper doubled
  // the callback's cost). A sink that throws records what it threw in `failed` first.
  failed = undefined;
  inst.out = onByte;
  let code: number;
  try {
    fs.writeFile(INPUT, data);
    code = inst.mod.callMain(args) as unknown as number;
  } catch (err) {
    discard(p);
    throw failed ?? err;
  } finally {
    inst.out = () => undefined;
    try {
      fs.unlink(INPUT);
    } catch {
      /* gone already, or the instance is being dropped */
    }
  }
  // The WASM heap grows to hold a big archive and never shrinks: a fresh instance after
  // one, and after MAX_RUNS_PER_INSTANCE runs (state left by earlier runs, see job()).
  inst.runs += 1;
  if (data.length > BIG_INPUT || inst.runs >= MAX_RUNS_PER_INSTANCE) discard(p);
  const thrown = failed;
  if (thrown !== undefined) {
    // 7-Zip caught our exception itself (catch(...)) and went on: still stop here.
    discard(p);
    throw thrown;
  }
  return { code: typeof code === 'number' ? code : 0, stderr: Buffer.from(inst.err).toString('utf8').trim() };
}

/** List an archive (bounded text, parsed from `7z l -slt`). */
export function listArchive(data: Buffer, type?: string): Promise<SevenZipListing> {
  return job(async () => {
    const out: number[] = [];
    const args = ['l', '-slt', '-bd', '-sccUTF-8', NO_PASSWORD, ...(type === undefined ? [] : [`-t${type}`]), INPUT];
    const { code, stderr } = await run(data, args, (c) => {
      if (out.length < MAX_LISTING) out.push(c);
    });
    return parseListing(Buffer.from(out).toString('utf8'), code, stderr);
  });
}

/** Parse `7z l -slt` output: an archive block, a "----------" line, then one block per entry. */
export function parseListing(text: string, code: number, stderr: string): SevenZipListing {
  const lines = text.split(/\r?\n/);
  const sep = lines.findIndex((l) => l.startsWith('----------'));
  let type: string | undefined;
  const head = sep < 0 ? lines : lines.slice(0, sep);
  for (const l of head) {
    const m = /^Type = (.*)$/.exec(l);
    if (m) type = m[1];
  }
  const entries: SevenZipEntry[] = [];
  if (sep >= 0) {
    let cur: Record<string, string> | undefined;
    const flush = (): void => {
      if (cur === undefined) return;
      const path = cur['Path'] ?? '';
      const attrs = cur['Attributes'] ?? '';
      const entry: SevenZipEntry = {
        path,
        dir: cur['Folder'] === '+' || /^D/.test(attrs),
        encrypted: cur['Encrypted'] === '+',
      };
      const size = num(cur['Size']);
      const packed = num(cur['Packed Size']);
      if (size !== undefined) entry.size = size;
      if (packed !== undefined) entry.packedSize = packed;
      if (cur['Method']) entry.method = cur['Method'];
      entries.push(entry);
      cur = undefined;
    };
    for (const l of lines.slice(sep + 1)) {
      if (l.trim() === '') {
        flush();
        continue;
      }
      const m = /^([^=]+?) = ?(.*)$/.exec(l);
      if (!m) continue;
      cur ??= {};
      cur[m[1] as string] = m[2] as string;
    }
    flush();
  }
  const errors = lines.filter((l) => /^(ERROR|WARNING|Warnings|Errors|Open WARNING)/i.test(l)).join(' ');
  return { ...(type === undefined ? {} : { type }), entries, code, message: [stderr, errors].filter((s) => s !== '').join(' ').replace(/\s+/g, ' ').slice(0, 500) };
}

function num(s: string | undefined): number | undefined {
  if (s === undefined || s.trim() === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** What extracting one member gave. */
export interface Extracted {
  data: Buffer;
  code: number;
  message: string;
}

/**
 * Extract one member (`name`; all of a single-stream archive when undefined) to a
 * callback that charges `budget` every 64 KB (bytes, ratio against `compressedSize`,
 * time). A limit throws (LimitExceededError) with 7-Zip stopped at that point, and the
 * member's bytes already charged given back (they are dropped, not held).
 */
export function extractMember(
  data: Buffer,
  name: string | undefined,
  where: string,
  compressedSize: number,
  budget: Budget,
  type?: string,
): Promise<Extracted> {
  return job(async () => {
    const chunks: Buffer[] = [];
    // Small first: most members are small, and a 64 KB chunk per member costs GC.
    let chunk = Buffer.allocUnsafe(4096);
    let fill = 0;
    let total = 0;
    let charged = 0;
    const flush = (): void => {
      if (fill === 0) return;
      charged += fill;
      try {
        budget.addBytes(fill, where);
        total += fill;
        chunks.push(chunk.subarray(0, fill));
        chunk = Buffer.allocUnsafe(Math.min(CHUNK, chunk.length * 2));
        fill = 0;
        budget.checkRatio(total, compressedSize, where);
        budget.checkTime(where);
      } catch (err) {
        failed ??= err;
        throw err;
      }
    };
    const args = ['e', '-so', '-spd', '-bd', '-y', NO_PASSWORD, ...(type === undefined ? [] : [`-t${type}`]), INPUT];
    if (name !== undefined) args.push('--', name);
    try {
      const { code, stderr } = await run(data, args, (c) => {
        if (failed !== undefined) throw failed;
        chunk[fill++] = c;
        if (fill === chunk.length) flush();
      });
      flush();
      return { data: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total), code, message: stderr.replace(/\s+/g, ' ').slice(0, 500) };
    } catch (err) {
      // What was charged is dropped: given back (a limit hit, or a trap tried again).
      budget.refundBytes(charged);
      throw err;
    }
  });
}

/** True when 7-Zip's message says the data is encrypted or the password is wrong. */
function saysEncrypted(s: string): boolean {
  return /wrong password|encrypted|can ?not open encrypted/i.test(s);
}

/** True when 7-Zip's message says a method is not supported. */
function saysUnsupported(s: string): boolean {
  return /unsupported method|unsupported (compression|feature)/i.test(s);
}

/** The listing of an archive; undefined, with the trouble noted on the budget, when 7-Zip failed. */
async function listOrNote(unit: ScanUnit, budget: Budget, type: string | undefined): Promise<SevenZipListing | undefined> {
  try {
    return await listArchive(unit.data, type);
  } catch (err) {
    if (isFatal(err)) throw err;
    // 7-Zip lets a C++ exception out (a bare number) when a 7z's headers are encrypted.
    if (hasEncryptedHeader(unit.data)) budget.markUnchecked(unit.location, 'ENCRYPTED', '7z archive with encrypted headers (names and contents)');
    else budget.note('UNPARSEABLE', `archive at ${unit.location}: 7-Zip failed: ${reason(err)}`);
    return undefined;
  }
}

/**
 * The members of a unit 7-Zip can open. Each member is charged maxParts; encrypted ones
 * and ones with a method 7-Zip lacks are marked unchecked (ENCRYPTED / UNSUPPORTED_METHOD);
 * an archive 7-Zip cannot open at all, or a member that fails with a data error, is noted
 * UNPARSEABLE (what came out before the error is still yielded).
 * `only`: extract just these member names (the zip members our own reader lacks a method for).
 * `fallbackName`: the name of a single unnamed stream (bzip2, xz...).
 */
export async function* sevenZipMembers(
  unit: ScanUnit,
  budget: Budget,
  opts: { type?: string; fallbackName?: string; only?: ReadonlySet<string> } = {},
): AsyncGenerator<Member> {
  budget.checkTime(unit.location);
  // A single-stream format (bzip2, xz, MS-LZ) has nothing to list: one run extracts it.
  const listing =
    opts.fallbackName !== undefined && opts.only === undefined
      ? { type: opts.type ?? 'stream', entries: [{ path: '', dir: false, encrypted: false }], code: 0, message: '' }
      : await listOrNote(unit, budget, opts.type);
  if (listing === undefined) return;
  if (listing.type === undefined) {
    if (saysEncrypted(listing.message)) budget.markUnchecked(unit.location, 'ENCRYPTED', `7-Zip: ${listing.message}`);
    else budget.note('UNPARSEABLE', `archive at ${unit.location}: ${listing.message || '7-Zip cannot open it'}`);
    return;
  }
  // In a multi-entry listing, an entry with neither size nor packed size is a folder
  // (OLE2 storages are listed that way, without a folder flag).
  const multi = listing.entries.length > 1;
  const files = listing.entries.filter((e) => !e.dir && !(multi && e.size === undefined && e.packedSize === undefined) && (opts.only === undefined || opts.only.has(e.path)));
  budget.checkEntries(listing.entries.length, unit.location);
  const single = listing.entries.length === 1;
  // Several members of known sizes: one 7-Zip run extracts them all, in listing order, and
  // the output is cut by the listed sizes (one run per member re-opens the archive each
  // time: measured ~13 ms for a 13-stream .doc against ~2 ms). Anything unexpected (a size
  // that does not add up, an error) falls back to one run per member.
  if (opts.only === undefined && files.length > 1 && files.every((e) => e.size !== undefined && !e.encrypted && e.path !== '')) {
    const whole = await extractAll(unit, files, budget);
    if (whole !== undefined) {
      yield* whole;
      return;
    }
  }
  for (const entry of files) {
    const path = entry.path !== '' ? entry.path : (opts.fallbackName ?? 'unpacked');
    const where = `${unit.location} > ${path}`;
    budget.checkTime(where);
    budget.addPart(where);
    if (entry.encrypted) {
      budget.markUnchecked(where, 'ENCRYPTED', `${listing.type} member${entry.method ? ` (${entry.method})` : ''}`);
      continue;
    }
    // The declared sizes give the ratio before anything is extracted (an honest bomb stops here).
    if (entry.size !== undefined && entry.packedSize !== undefined && entry.packedSize > 0) {
      budget.checkRatio(entry.size, entry.packedSize, where);
    }
    const compressed = entry.packedSize !== undefined && entry.packedSize > 0 ? entry.packedSize : unit.data.length;
    let got: Extracted;
    try {
      got = await extractMember(unit.data, single && entry.path === '' ? undefined : entry.path, where, compressed, budget, opts.type);
    } catch (err) {
      if (isFatal(err)) throw err;
      budget.note('UNPARSEABLE', `${listing.type} member at ${where}: 7-Zip failed: ${reason(err)}`);
      continue;
    }
    if (got.code !== 0) {
      if (saysEncrypted(got.message)) budget.markUnchecked(where, 'ENCRYPTED', `${listing.type}: ${got.message}`);
      else if (saysUnsupported(got.message)) budget.markUnchecked(where, 'UNSUPPORTED_METHOD', `${listing.type}${entry.method ? ` ${entry.method}` : ''}: ${got.message}`);
      else budget.note('UNPARSEABLE', `${listing.type} member at ${where}: ${got.message || `7-Zip exit ${got.code}`}`);
    }
    if (got.data.length > 0) yield { path, data: got.data };
  }
}

/** AES-256 + SHA-256 coder id of the 7z format. */
const SEVENZIP_AES = Buffer.from('06f10701', 'hex');

/**
 * True for a 7z archive whose header is stored encoded (kEncodedHeader, 0x17) through the
 * AES coder: `7z a -mhe=on -p...`. The start header gives the next header's offset and size.
 */
export function hasEncryptedHeader(data: Buffer): boolean {
  if (data.length < 32 || data.readUInt32BE(0) !== 0x377abcaf) return false;
  const offset = Number(data.readBigUInt64LE(12));
  const size = Number(data.readBigUInt64LE(20));
  const start = 32 + offset;
  if (!Number.isSafeInteger(start) || start >= data.length || size <= 0) return false;
  const header = data.subarray(start, Math.min(data.length, start + size));
  return header[0] === 0x17 && header.indexOf(SEVENZIP_AES) >= 0;
}

/**
 * All `files` of an archive from one 7-Zip run, cut by their listed sizes; undefined (and
 * nothing charged) when the run failed or the sizes do not add up. Each member is charged
 * maxParts; the bytes were charged as they streamed (ratio against the whole archive).
 */
async function extractAll(unit: ScanUnit, files: SevenZipEntry[], budget: Budget): Promise<Member[] | undefined> {
  const expected = files.reduce((n, e) => n + (e.size ?? 0), 0);
  if (expected > budget.remainingBytes()) return undefined; // per member: the limit names the member
  let got: Extracted;
  try {
    got = await extractMember(unit.data, undefined, unit.location, unit.data.length, budget);
  } catch (err) {
    if (isFatal(err)) throw err;
    return undefined;
  }
  if (got.code !== 0 || got.data.length !== expected) {
    budget.refundBytes(got.data.length);
    return undefined;
  }
  const members: Member[] = [];
  let at = 0;
  for (const e of files) {
    const size = e.size ?? 0;
    budget.addPart(`${unit.location} > ${e.path}`);
    if (size > 0) members.push({ path: e.path, data: got.data.subarray(at, at + size) });
    at += size;
  }
  return members;
}
