/**
 * Reading corpora: a corpus folder (labels from manifest.json when present), a single
 * message file, an mbox file or a Maildir. Everything streams: `openCorpus` learns only
 * names, sizes and offsets (a folder's file sizes when first asked for: one lstat each);
 * each message's bytes are read when its entry's `read()` is called, one at a time.
 */
import { lstatSync, readdirSync, statSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { indexMbox, looksLikeMbox, readMboxMessage } from './mbox.js';
import { MANIFEST_FILE, ManifestError, readManifestWithHash, type Expected, type ManifestEntry } from './manifest.js';

export { readManifest, ManifestError, validateManifest, formatManifest, MANIFEST_FILE } from './manifest.js';
export type { ManifestEntry, Expected } from './manifest.js';

/** One message of a corpus. Labels are present only when a manifest gave them. */
export interface CorpusEntry {
  /**
   * The path as given or found: `DIR/m0001.eml` for folders and Maildirs, the path itself
   * for a single file, `BOX#3` (1-based) for the third message of an mbox.
   */
  file: string;
  expected?: Expected;
  category?: string;
  malformed?: boolean;
  /** The whole manifest entry (extra fields such as `part` and `description`), when labelled. */
  manifestEntry?: ManifestEntry;
  /**
   * When the message is a whole file on the local disk (a folder's, a Maildir's or a single
   * file; not an mbox's), that file's path as given or found: a local scanner may scan it
   * in place instead of being handed the bytes.
   */
  path?: string;
  /** The message's size in bytes, when known from opening the corpus. */
  size?: number;
  /**
   * True when `path` named a regular file itself, not a symbolic link to one, when the
   * corpus was opened (lstat): a scanner that must not be handed a link (clamd scanning in
   * place answers OK for a link without scanning it) may take this instead of looking again.
   */
  plainFile?: boolean;
  /** Read this message's bytes (a fresh read each call). */
  read(): Promise<Buffer>;
}

/** What a corpus is, found when opening it. */
export interface CorpusInfo {
  path: string;
  kind: 'folder' | 'mbox' | 'maildir' | 'file';
  manifest?: ManifestEntry[];
  /** sha256 of manifest.json's bytes. */
  manifestSha256?: string;
  messages: number;
  /** Total bytes of the messages (for an mbox: of the messages without separators). */
  bytes: number;
}

/** An opened corpus: facts, and the entries to iterate once or more. */
export interface OpenedCorpus {
  info: CorpusInfo;
  entries: AsyncIterable<CorpusEntry>;
}

/** Recognise and open `path`. Throws (ManifestError for a bad manifest) when it cannot be used. */
export async function openCorpus(path: string): Promise<OpenedCorpus> {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot open corpus: ${(err as Error).message}`);
  }
  if (st.isDirectory()) {
    if (isMaildir(path)) return openMaildir(path);
    return openFolder(path);
  }
  if (!st.isFile()) throw new Error(`${path}: not a file or folder`);
  if (st.size > 0 && (await looksLikeMbox(path))) return openMbox(path);
  return {
    info: { path, kind: 'file', messages: 1, bytes: st.size },
    entries: fromList([{ file: path, path, size: st.size, read: () => readFile(path) }]),
  };
}

/** Entries already listed in memory: iterable both ways (a caller may skip an await per entry). */
function fromList(list: readonly CorpusEntry[]): AsyncIterable<CorpusEntry> & Iterable<CorpusEntry> {
  return {
    async *[Symbol.asyncIterator]() {
      yield* list;
    },
    [Symbol.iterator]: () => list[Symbol.iterator](),
  };
}

/**
 * stat(), or undefined when it fails. Opening a corpus looks at a handful of paths and lists
 * its folder synchronously: each fs.promises call is a round trip through libuv's thread
 * pool (started by the first one), which cost a whole-process `avbench scan` more than the
 * calls themselves before its first SCAN.
 */
function statOrUndefined(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

function isDir(p: string): boolean {
  return statOrUndefined(p)?.isDirectory() === true;
}

function isMaildir(path: string): boolean {
  return !statOrUndefined(join(path, MANIFEST_FILE)) && (isDir(join(path, 'cur')) || isDir(join(path, 'new')));
}

function entryFromManifest(dir: string, e: ManifestEntry, st: FileStat): CorpusEntry {
  const file = join(dir, e.file);
  return { file, path: file, size: st.size, plainFile: st.plain, expected: e.expected, category: e.category, malformed: e.malformed, manifestEntry: e, read: () => readFile(file) };
}

/** A corpus file's size, and whether it is a regular file itself (not a symbolic link to one). */
interface FileStat {
  size: number;
  plain: boolean;
}

/**
 * lstat() of one corpus file (stat() when it is a symbolic link), synchronously: opening a
 * corpus stats every message, and from the page cache a synchronous stat costs a few µs
 * where fs.promises' thread-pool round trip costs ~10x more (measured: 12 vs 150 ms for the
 * 2,137 files of the full corpus). Undefined when it is not (a link to) a regular file.
 * One lstat per file is all the scan of a folder needs: clamd's adapter takes `plainFile`.
 */
function fileStat(p: string): FileStat | undefined {
  try {
    const l = lstatSync(p);
    if (l.isFile()) return { size: l.size, plain: true };
    if (!l.isSymbolicLink()) return undefined;
    const s = statSync(p);
    return s.isFile() ? { size: s.size, plain: false } : undefined;
  } catch {
    return undefined;
  }
}

function fileEntry(f: { path: string; size: number; plain: boolean }): CorpusEntry {
  return { file: f.path, path: f.path, size: f.size, plainFile: f.plain, read: () => readFile(f.path) };
}

async function openFolder(dir: string): Promise<OpenedCorpus> {
  const hasManifest = statOrUndefined(join(dir, MANIFEST_FILE))?.isFile() === true;
  if (hasManifest) {
    const read = await readManifestWithHash(dir);
    const manifest = read.entries;
    // Every entry must name a file: the folder's listing says so for the plain names of
    // regular files in it (one readdir, no stat each: those are lstat'ed when their size is
    // first asked for, as below); any other name (a link, a subfolder's file, a type the
    // listing does not give) is looked at now.
    const regular = new Set<string>();
    for (const it of readdirSync(dir, { withFileTypes: true })) if (it.isFile()) regular.add(it.name);
    const base = join(dir);
    const entries = manifest.map((e, i) => {
      // A listed name is plain (no `/`, not `.` or `..`): join() of it is a concatenation.
      if (regular.has(e.file)) return listedEntry(childPath(base, e.file), e);
      const s = fileStat(join(dir, e.file));
      if (s === undefined) throw new ManifestError(`${join(dir, MANIFEST_FILE)}: entry ${i + 1} names ${JSON.stringify(e.file)}, which is not a file in ${dir}`, i, 'file');
      return entryFromManifest(dir, e, s);
    });
    return { info: lazyInfo({ path: dir, kind: 'folder', manifest, messages: manifest.length }, entries, () => read.sha256), entries: fromList(entries) };
  }
  // Listed and sorted by name only: each file is lstat'ed when its entry's size is first
  // asked for (a scan asks batch by batch, so its first files go to the scanner before the
  // last ones are looked at); `bytes` asks every entry the first time it is read.
  const entries = walkFiles(dir).map((f) => listedEntry(f.path));
  return { info: lazyInfo({ path: dir, kind: 'folder', messages: entries.length }, entries), entries: fromList(entries) };
}

/**
 * `info` with `bytes` (the sum of the entries' sizes) and, given `manifestSha256`, the
 * manifest's hash: each made when first read (a scan reads neither before its first files
 * went to the scanner, or at all).
 */
function lazyInfo(info: Omit<CorpusInfo, 'bytes' | 'manifestSha256'>, entries: readonly CorpusEntry[], manifestSha256?: () => string): CorpusInfo {
  let bytes: number | undefined;
  const out: CorpusInfo = {
    ...info,
    get bytes(): number {
      if (bytes === undefined) {
        bytes = 0;
        for (const e of entries) bytes += e.size ?? 0;
      }
      return bytes;
    },
  };
  if (manifestSha256 !== undefined) Object.defineProperty(out, 'manifestSha256', { get: manifestSha256, enumerable: true, configurable: true });
  return out;
}

/**
 * The entry of a file the folder's listing found (a regular file, not a link; `labels`
 * from the manifest naming it): its `size` and `plainFile` come from one lstat, made when
 * either is first asked for (stat() when it has become a link since; size 0 and not plain
 * when it is gone: reading it then fails, which a scan reports as that message's error).
 */
function listedEntry(path: string, labels?: ManifestEntry): CorpusEntry {
  const entry = new ListedEntry(path);
  if (labels !== undefined) Object.assign(entry, { expected: labels.expected, category: labels.category, malformed: labels.malformed, manifestEntry: labels });
  return entry;
}

/**
 * A listed file's entry as a class — its getters and read() on the prototype, not closures
 * per entry: listing a folder of 20,000 messages allocates a fraction as much, and a scan's
 * first SCAN went out after ~35 ms of garbage collection that the closures cost (cpu profile).
 */
class ListedEntry implements CorpusEntry {
  readonly file: string;
  readonly path: string;
  #looked: FileStat | undefined;

  constructor(path: string) {
    this.file = path;
    this.path = path;
  }

  #look(): FileStat {
    return (this.#looked ??= fileStat(this.path) ?? { size: 0, plain: false });
  }

  get size(): number {
    return this.#look().size;
  }

  get plainFile(): boolean {
    return this.#look().plain;
  }

  read(): Promise<Buffer> {
    return readFile(this.path);
  }
}

/** `join(dir, name)` for a `dir` already normalised by join() and a plain entry name (no `/`, not `.` or `..`). */
function childPath(dir: string, name: string): string {
  return dir === '.' ? name : dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/**
 * Regular, non-hidden files under `dir` (recursively), sorted by relative path. Paths are
 * built by concatenation (what join() would give: the folder is normalised once), not by
 * join()/relative() per file: a folder of 20,000 messages is listed in a fraction of the time.
 */
function walkFiles(dir: string): Array<{ path: string; rel: string }> {
  const out: Array<{ path: string; rel: string }> = [];
  const visit = (d: string, relPrefix: string): void => {
    const items = readdirSync(d, { withFileTypes: true });
    for (const it of items) {
      if (it.name.startsWith('.')) continue;
      const p = childPath(d, it.name);
      const rel = relPrefix + it.name;
      if (it.isDirectory()) visit(p, `${rel}/`);
      else if (it.isFile()) out.push({ path: p, rel });
    }
  };
  visit(join(dir), '');
  out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return out;
}

async function openMaildir(dir: string): Promise<OpenedCorpus> {
  const files: Array<{ path: string; size: number; plain: boolean }> = [];
  for (const sub of ['cur', 'new']) {
    const d = join(dir, sub);
    if (!isDir(d)) continue;
    const names = readdirSync(d, { withFileTypes: true }).filter((it) => it.isFile() && !it.name.startsWith('.')).map((it) => it.name).sort();
    // A file the listing called regular: lstat (still one?), else stat() follows, and throws when it is gone, as before.
    for (const n of names) files.push({ path: join(d, n), ...(fileStat(join(d, n)) ?? { size: statSync(join(d, n)).size, plain: false }) });
  }
  let bytes = 0;
  for (const f of files) bytes += f.size;
  return {
    info: { path: dir, kind: 'maildir', messages: files.length, bytes },
    entries: fromList(files.map(fileEntry)),
  };
}

async function openMbox(path: string): Promise<OpenedCorpus> {
  const ranges = await indexMbox(path);
  let bytes = 0;
  for (const r of ranges) bytes += r.end - r.start;
  return {
    info: { path, kind: 'mbox', messages: ranges.length, bytes },
    entries: {
      async *[Symbol.asyncIterator]() {
        for (const [i, r] of ranges.entries()) yield { file: `${path}#${i + 1}`, read: () => readMboxMessage(path, r) };
      },
    },
  };
}
