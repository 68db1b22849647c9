/**
 * The embedded scanner: the default adapter, needing nothing installed. It knows EICAR
 * (per its specification) and, optionally, a folder of ClamAV-format signatures
 * (.hdb md5, .hsb sha1/sha256, .ndb body signatures), matched in one pass per unit.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Adapter, Detection, ErrorCode, ProbeResult, ScanContext, ScanUnit, Verdict } from '../src/core/types.js';
import { CLEAN, errorVerdict, infected } from '../src/core/verdict.js';
import { containsEicar, EICAR_NAME, isEicarFile } from './embedded/eicar.js';
import { emptyReport, loadSignatureFolder, type LoadReport, type SignatureDb } from './embedded/loader.js';

/** Loading signatures (folder or text), the database, and printing what was rejected. */
export { loadSignatureFolder, formatLoadProblems, signatureDbFromText, SignatureDb } from './embedded/loader.js';
/** The load report's shapes. */
export type { LoadReport, RejectedLine, NotedSignature } from './embedded/loader.js';
/** Count of automata built in this process (one per database load). */
export { automatonBuilds } from './embedded/body.js';

/** Options of the embedded adapter. */
export interface EmbeddedOptions {
  /** Name users select it by; default 'embedded'. */
  name?: string;
  /** Folder of ClamAV-format signature files (.hdb .hsb .ndb); optional. */
  signatures?: string;
  /** Default false: EICAR only per its specification. True: the 68 bytes anywhere in a unit. */
  eicarAnywhere?: boolean;
  /**
   * A database already built (signatureDbFromText, loadSignatureFolder) instead of a
   * folder — for embedding, tests and benchmarks. `label` replaces the folder in probe().
   */
  preloaded?: { db: SignatureDb; report: LoadReport; label: string };
}

/** The embedded adapter, with the report of its last signature load. */
export type EmbeddedAdapter = Adapter & {
  /** Empty until the signatures are loaded (first probe()/scan(), or the async factory). */
  readonly loadReport: LoadReport;
  /** The loaded database (undefined before loading, or without a signature folder). */
  readonly db: SignatureDb | undefined;
};

/** Raised inside a scan when the deadline passes or the caller aborts. */
class ScanStop extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

function packageVersion(): string {
  try {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 4; i++) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === 'avbench' && typeof pkg.version === 'string') return pkg.version;
      } catch {
        /* not here: go up */
      }
      dir = dirname(dir);
    }
  } catch {
    /* fall through */
  }
  return '1';
}

type LoadState = { ok: true; db: SignatureDb | undefined; report: LoadReport } | { ok: false; message: string };

/**
 * Create the embedded adapter (type 'embedded', granularity 'part'). Signatures are
 * loaded lazily on the first probe() or scan(); a folder that cannot be read makes probe()
 * say unavailable and scans return NOT_AVAILABLE (never clean).
 */
export function createEmbeddedAdapter(opts: EmbeddedOptions = {}): EmbeddedAdapter {
  const name = opts.name ?? 'embedded';
  const dir = opts.signatures;
  if (dir !== undefined && opts.preloaded !== undefined) throw new TypeError(`scanner ${opts.name ?? 'embedded'}: give "signatures" or "preloaded", not both`);
  const source = opts.preloaded?.label ?? dir ?? '';
  const anywhere = opts.eicarAnywhere === true;
  let loading: Promise<LoadState> | undefined;
  let report: LoadReport = emptyReport();
  let db: SignatureDb | undefined;

  const load = (): Promise<LoadState> => {
    loading ??= (async (): Promise<LoadState> => {
      if (opts.preloaded !== undefined) {
        report = opts.preloaded.report;
        db = opts.preloaded.db;
        return { ok: true, db, report };
      }
      if (dir === undefined) return { ok: true, db: undefined, report };
      try {
        const r = await loadSignatureFolder(dir);
        report = r.report;
        db = r.db;
        return { ok: true, db: r.db, report: r.report };
      } catch (e) {
        return { ok: false, message: `cannot read signature folder ${dir}: ${(e as Error).message}` };
      }
    })();
    return loading;
  };

  const scan = async (unit: ScanUnit, ctx: ScanContext): Promise<Verdict> => {
    try {
      const check = (): void => {
        if (ctx.signal.aborted) throw new ScanStop('ABORTED', 'scan aborted by the caller');
        if (Date.now() > ctx.deadline) throw new ScanStop('TIMEOUT', `${name}: deadline passed while scanning ${unit.location}`);
      };
      check();
      const st = await load();
      if (!st.ok) return errorVerdict('NOT_AVAILABLE', `${st.message}; fix the "signatures" path of scanner ${name}`);
      const data = unit.data;
      const names: string[] = [];
      if (isEicarFile(data) || (anywhere && containsEicar(data))) names.push(EICAR_NAME);
      if (st.db !== undefined) {
        for (const n of st.db.hashes.match(data)) if (!names.includes(n)) names.push(n);
        for (const n of await st.db.body.match(data, check)) if (!names.includes(n)) names.push(n);
      }
      if (names.length === 0) return CLEAN;
      return infected(names.map((n): Detection => ({ name: n, scanner: name, part: unit.location })));
    } catch (e) {
      if (e instanceof ScanStop) return errorVerdict(e.code, e.message);
      return errorVerdict('INTERNAL', `${name}: ${(e as Error).message ?? String(e)}`);
    }
  };

  return {
    name,
    type: 'embedded',
    granularity: 'part',
    get loadReport() {
      return report;
    },
    get db() {
      return db;
    },
    async probe(): Promise<ProbeResult> {
      const st = await load();
      const version = `avbench-embedded ${packageVersion()}`;
      if (!st.ok) return { available: false, version, reason: `${st.message}; fix the "signatures" path or leave it out for EICAR only` };
      if (st.db === undefined) return { available: true, version, signatures: 'EICAR only (no signature folder)' };
      const rejected = st.report.rejected.length;
      return {
        available: true,
        version,
        signatures: `EICAR + ${st.db.count} signatures from ${source} (${rejected} line${rejected === 1 ? '' : 's'} rejected)`,
      };
    },
    scan,
    async scanBatch(units: ScanUnit[], ctx: ScanContext): Promise<Verdict[]> {
      const out: Verdict[] = [];
      for (const u of units) out.push(await scan(u, ctx));
      return out;
    },
    async close(): Promise<void> {
      /* nothing held */
    },
  };
}

/** Create the adapter and load its signatures now (probe() is then instant). */
export async function createEmbeddedAdapterAsync(opts: EmbeddedOptions = {}): Promise<EmbeddedAdapter> {
  const a = createEmbeddedAdapter(opts);
  await a.probe();
  return a;
}
