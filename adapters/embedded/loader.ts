/**
 * Loading a folder of ClamAV-format signature files into a SignatureDb, with a report
 * of everything that could not be used. Nothing is dropped silently: every refused line
 * is in `rejected` (file, line number, text, reason); every signature that will be
 * matched differently from ClamAV (target type widened to "any", slow path) is listed.
 */
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { BodyMatcher } from './body.js';
import { HashDb, HashSigError, parseHashLine } from './hashsig.js';
import { NdbError, parseNdbLine, TARGET_TYPES, type NdbSignature } from './ndb.js';

/** One line (or file, line 0) that could not be used. */
export interface RejectedLine {
  file: string;
  line: number;
  text: string;
  reason: string;
}

/** A signature that loaded but is matched in a way worth knowing about. */
export interface NotedSignature {
  file: string;
  line: number;
  name: string;
  note: string;
}

/** What a load did. */
export interface LoadReport {
  /** Signature files read (full paths), in load order. */
  files: string[];
  /** Signatures loaded, by file kind. */
  signatures: { hdb: number; hsb: number; ndb: number };
  /** Lines refused (line 0 = the whole file). */
  rejected: RejectedLine[];
  /** Files in the folder that are not ClamAV signature files at all (not read). */
  ignored: string[];
  /** .ndb signatures with no fixed run of 2 bytes: checked position by position. */
  slow: NotedSignature[];
  /** .ndb signatures whose TargetType is not 0: applied to every unit (we do not classify files). */
  widened: NotedSignature[];
}

/** Loaded signatures: hash tables and the one-pass body matcher (built once, here). */
export class SignatureDb {
  constructor(
    readonly hashes: HashDb,
    readonly body: BodyMatcher,
  ) {}

  /** Total number of signatures (EICAR not counted). */
  get count(): number {
    return this.hashes.size + this.body.stats.signatures;
  }
}

/** An empty report. */
export function emptyReport(): LoadReport {
  return { files: [], signatures: { hdb: 0, hsb: 0, ndb: 0 }, rejected: [], ignored: [], slow: [], widened: [] };
}

/** Kinds of signature file we load. */
export type SupportedKind = 'hdb' | 'hsb' | 'ndb';

/** ClamAV database files we recognise but do not support, and what they are. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  ldb: 'logical signatures', ldu: 'logical signatures (PUA)', ndu: 'body signatures (PUA)',
  hdu: 'md5 signatures (PUA)', hsu: 'sha signatures (PUA)', mdb: 'PE section hashes', mdu: 'PE section hashes (PUA)',
  msb: 'PE section hashes', msu: 'PE section hashes (PUA)', imp: 'PE import table hashes', cdb: 'container metadata',
  cbc: 'bytecode', pdb: 'phishing domains', gdb: 'phishing domains', wdb: 'phishing allow list', fp: 'allow list',
  sfp: 'allow list', ign: 'ignore list', ign2: 'ignore list', idb: 'icon signatures', crb: 'certificate rules',
  cat: 'Authenticode catalog', ftm: 'file type magic', cfg: 'engine configuration', info: 'database index',
  yar: 'YARA rules', yara: 'YARA rules', pwdb: 'password list', db: 'old-style signatures', zmd: 'zip metadata',
  rmd: 'rar metadata', cvd: 'signed database container', cld: 'database container', cud: 'database container',
};
const BINARY = new Set(['cvd', 'cld', 'cud', 'cbc']);

function lines(text: string): string[] {
  return text.split(/\r?\n/);
}

function skippable(line: string): boolean {
  const t = line.trim();
  return t === '' || t.startsWith('#');
}

/** Parsed contents of one file, before the matcher is built. */
interface Parsed {
  hashes: HashDb;
  ndb: NdbSignature[];
  report: LoadReport;
}

/** Parse the text of one signature file of a supported kind into `into`. */
export function parseSignatureText(kind: SupportedKind, text: string, file: string, into: Parsed): void {
  into.report.files.push(file);
  lines(text).forEach((raw, i) => {
    if (skippable(raw)) return;
    const line = raw.trim();
    const where = { file, line: i + 1 };
    try {
      if (kind === 'ndb') {
        const sig = parseNdbLine(line, where);
        into.ndb.push(sig);
        into.report.signatures.ndb++;
        if (sig.plan.kind === 'slow') into.report.slow.push({ ...where, name: sig.name, note: 'no fixed run of 2 bytes: checked at every position' });
        if (sig.widened) {
          into.report.widened.push({ ...where, name: sig.name, note: `TargetType ${sig.target} (${TARGET_TYPES[sig.target] ?? '?'}) applied to every unit` });
        }
      } else {
        into.hashes.add(parseHashLine(line, kind));
        into.report.signatures[kind]++;
      }
    } catch (e) {
      if (e instanceof NdbError || e instanceof HashSigError) {
        into.report.rejected.push({ ...where, text: line, reason: e.message });
      } else throw e;
    }
  });
}

/** Record the usable lines of a recognised but unsupported file as rejected. */
function rejectFile(ext: string, text: string | null, file: string, report: LoadReport): void {
  const what = UNSUPPORTED[ext] ?? 'unknown';
  const reason = `unsupported signature file type .${ext} (${what})`;
  if (text === null) {
    report.rejected.push({ file, line: 0, text: '', reason });
    return;
  }
  let any = false;
  lines(text).forEach((raw, i) => {
    if (skippable(raw)) return;
    any = true;
    report.rejected.push({ file, line: i + 1, text: raw.trim(), reason });
  });
  if (!any) report.rejected.push({ file, line: 0, text: '', reason: `${reason}; file has no signature lines` });
}

/** Build a database from in-memory texts (tests, benchmarks). Names in the report are `<kind>:memory`. */
export function signatureDbFromText(texts: Partial<Record<SupportedKind, string>>): { db: SignatureDb; report: LoadReport } {
  const into: Parsed = { hashes: new HashDb(), ndb: [], report: emptyReport() };
  for (const kind of ['hdb', 'hsb', 'ndb'] as const) {
    const t = texts[kind];
    if (t !== undefined) parseSignatureText(kind, t, `memory.${kind}`, into);
  }
  return { db: new SignatureDb(into.hashes, new BodyMatcher(into.ndb)), report: into.report };
}

/**
 * Load every ClamAV-format signature file in `dir` (not recursive): .hdb, .hsb and .ndb
 * are used; other ClamAV database files are reported line by line as rejected; files
 * that are not signature files are listed in `ignored`. Throws only if the folder (or a
 * file in it) cannot be read.
 */
export async function loadSignatureFolder(dir: string): Promise<{ db: SignatureDb; report: LoadReport }> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const into: Parsed = { hashes: new HashDb(), ndb: [], report: emptyReport() };
  for (const ent of entries) {
    const path = join(dir, ent.name);
    if (!ent.isFile()) {
      into.report.ignored.push(path);
      continue;
    }
    const ext = extname(ent.name).slice(1).toLowerCase();
    if (ext === 'hdb' || ext === 'hsb' || ext === 'ndb') {
      parseSignatureText(ext, await readFile(path, 'utf8'), path, into);
    } else if (UNSUPPORTED[ext] !== undefined) {
      rejectFile(ext, BINARY.has(ext) ? null : await readFile(path, 'utf8'), path, into.report);
    } else {
      into.report.ignored.push(path);
    }
  }
  return { db: new SignatureDb(into.hashes, new BodyMatcher(into.ndb)), report: into.report };
}

/** Human-readable lines for the rejected (and noted) signatures of a report, for printing. */
export function formatLoadProblems(report: LoadReport): string {
  const out: string[] = [];
  for (const r of report.rejected) {
    out.push(`rejected ${r.file}:${r.line}: ${r.reason}${r.text === '' ? '' : ` — ${r.text.length > 120 ? `${r.text.slice(0, 117)}...` : r.text}`}`);
  }
  for (const s of report.slow) out.push(`slow     ${s.file}:${s.line}: ${s.name}: ${s.note}`);
  for (const s of report.widened) out.push(`widened  ${s.file}:${s.line}: ${s.name}: ${s.note}`);
  for (const f of report.ignored) out.push(`ignored  ${f}: not a ClamAV signature file`);
  return out.join('\n');
}
