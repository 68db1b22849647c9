/**
 * Private temp folders for the process-based adapters (clamscan, clamdscan, yara, cli).
 *
 * A scanner program needs files; the units live in memory. Each batch gets its own
 * `fs.mkdtemp` folder under `os.tmpdir()` (mode 0700) holding a `units/` folder (0700)
 * with one file per unit (0600), named by position only — `u0001.bin`, `u0002.bin`... —
 * never from the attacker-controlled filename. All names of one batch have the same
 * width, so no name is a substring of another: a scanner's output line is mapped back to
 * its unit by the generated name it contains. The folder is removed on every path
 * (`withUnitFiles` removes it in `finally`, after success, error or timeout).
 */
import { chmod, mkdtemp, mkdir, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { realpathSync, statSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';

/** How many unit files are written at once. */
const WRITE_CONCURRENCY = 16;

/** The unit files of one batch, written to a private folder. */
export interface UnitFiles {
  /** The private root folder (0700); holds `units/` and any helper files such as a file list. */
  readonly root: string;
  /** The folder holding only the unit files (what `{}` means to a CLI scanner). */
  readonly unitDir: string;
  /** Generated file names, in unit order (`u0001.bin`...). */
  readonly names: readonly string[];
  /** Absolute paths, in unit order. */
  readonly paths: readonly string[];
  /** Index of the unit whose generated name is the basename of `path`, if any. */
  indexOfPath(path: string): number | undefined;
  /** Index of the unit whose generated name occurs anywhere in `text` (a scanner's output line). */
  indexInText(text: string): number | undefined;
  /** Write a helper file (e.g. a file list) into the private root, mode 0600; returns its path. */
  writeHelper(name: 'list.txt' | 'rules.yar', content: string): Promise<string>;
  /** Remove the whole folder. Safe to call twice. */
  remove(): Promise<void>;
}

/** Options for `writeUnitFiles`. */
export interface UnitFileOptions {
  /** File name extension of the generated names, default `.bin`. Must match /^\.[a-z0-9]{1,8}$/. */
  ext?: string;
  /** Prefix of the mkdtemp folder name, default `avbench-`. Letters, digits and `-` only. */
  prefix?: string;
  /**
   * Parent of the private folders; default `os.tmpdir()` (honours TMPDIR). A tmpfs such as
   * /dev/shm makes batches of thousands of small units much cheaper than a disk-backed /tmp.
   */
  parent?: string;
  /**
   * Scan whole-message units that are regular files on disk (`ScanUnit.path`) where they
   * are instead of copying them: their `paths[i]` is then that absolute path. Only for
   * scanners given a file list (clamscan, clamdscan): a scanner handed the folder `{}`
   * would not see them. The path comes from the caller (a corpus file), never from a message.
   */
  inPlace?: boolean;
}

/**
 * The unit's own file, when it may be scanned in place: absolute, one line, a regular file.
 * Canonical (realpath), as ClamAV prints the paths it scanned.
 */
function inPlacePath(unit: { path?: string }): string | undefined {
  const p = unit.path;
  if (p === undefined || !isAbsolute(p)) return undefined;
  try {
    const real = realpathSync(p);
    return !/[\n\r\0]/.test(real) && statSync(real).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

/** Generated name of the unit at `index` (0-based) in a batch of `count`: `u0001.bin`. */
export function unitFileName(index: number, count: number, ext = '.bin'): string {
  const width = Math.max(4, String(count).length);
  return `u${String(index + 1).padStart(width, '0')}${ext}`;
}

/**
 * Write `units` into a fresh private folder. On any write failure the folder is removed
 * and the error rethrown (callers turn it into an `IO` error verdict).
 */
export async function writeUnitFiles(units: readonly { data: Buffer; path?: string }[], opts: UnitFileOptions = {}): Promise<UnitFiles> {
  const ext = opts.ext ?? '.bin';
  const prefix = opts.prefix ?? 'avbench-';
  if (!/^\.[a-z0-9]{1,8}$/.test(ext)) throw new TypeError(`temp file extension must match /^\\.[a-z0-9]{1,8}$/, got ${JSON.stringify(ext)}`);
  if (!/^[A-Za-z0-9-]{1,32}$/.test(prefix)) throw new TypeError(`temp folder prefix must be letters, digits and '-', got ${JSON.stringify(prefix)}`);
  // realpath: scanners (clamdscan) print canonical paths; /tmp may be a symlink elsewhere.
  const root = await realpath(await mkdtemp(join(opts.parent ?? tmpdir(), prefix)));
  let removed = false;
  const remove = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    await rm(root, { recursive: true, force: true, maxRetries: 3 });
  };
  try {
    // mkdtemp already creates 0700; chmod explicitly in case of an unusual umask.
    await chmod(root, 0o700);
    const unitDir = join(root, 'units');
    await mkdir(unitDir, { mode: 0o700 });
    await chmod(unitDir, 0o700);
    const names = units.map((_, i) => unitFileName(i, units.length, ext));
    const own = units.map((u) => (opts.inPlace === true ? inPlacePath(u) : undefined));
    const paths = names.map((n, i) => own[i] ?? join(unitDir, n));
    const byName = new Map(names.map((n, i) => [n, i] as const));
    const byOwnPath = new Map<string, number>();
    own.forEach((p, i) => {
      if (p !== undefined) byOwnPath.set(p, i);
    });
    // A few writes in flight at once: a batch of thousands of small units is bound by
    // syscall latency, not bandwidth. 'wx': never follow or overwrite anything.
    let next = 0;
    const writer = async (): Promise<void> => {
      while (next < units.length) {
        const i = next++;
        if (own[i] !== undefined) continue;
        await writeFile(paths[i] as string, (units[i] as { data: Buffer }).data, { mode: 0o600, flag: 'wx' });
      }
    };
    await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, units.length) }, writer));
    return {
      root,
      unitDir,
      names,
      paths,
      indexOfPath: (path) => {
        const p = path.trim();
        const mine = byOwnPath.get(p);
        if (mine !== undefined) return mine;
        const i = byName.get(basename(p));
        return i !== undefined && own[i] === undefined ? i : undefined;
      },
      indexInText: (text) => {
        // The longest in-place path that occurs wins (a path may be a prefix of another).
        let best: [number, number] | undefined;
        for (const [p, i] of byOwnPath) if (text.includes(p) && (best === undefined || p.length > best[1])) best = [i, p.length];
        if (best !== undefined) return best[0];
        for (const [i, n] of names.entries()) if (own[i] === undefined && text.includes(n)) return i;
        return undefined;
      },
      writeHelper: async (name, content) => {
        const p = join(root, name);
        await writeFile(p, content, { mode: 0o600, flag: 'wx' });
        return p;
      },
      remove,
    };
  } catch (err) {
    await remove();
    throw err;
  }
}

/**
 * Write `units` to a private folder, run `fn`, and remove the folder whatever happens
 * (resolved, thrown, timed out). The one way adapters should use temp files.
 */
export async function withUnitFiles<T>(
  units: readonly { data: Buffer }[],
  fn: (files: UnitFiles) => Promise<T>,
  opts: UnitFileOptions = {},
): Promise<T> {
  const files = await writeUnitFiles(units, opts);
  try {
    return await fn(files);
  } finally {
    await files.remove();
  }
}
