/**
 * Versions and signatures of every scanner and system under test (issue 14.5): which
 * programs ran (clamsmtpd -v, clamav-milter --version, clamd's VERSION command, c-icap -V...),
 * and which signature databases they scanned with (version, build time, signature count:
 * `sigtool --info` on CVD/CLD files, else their 512-byte header; counted signature lines of
 * plain databases such as the lab's .ndb/.hdb; counted YARA rules).
 *
 * A SUT is found through its processes (`pid=` on --sut, a lab's daemons): /proc/PID/exe
 * names the program, /proc/PID/cmdline its config file, whose keys lead to clamd (its
 * socket, its DatabaseDirectory) and to the SUT's own deadline (clamsmtpd's TimeOut).
 * Processes only through src/core/exec.ts, sockets only through src/core/net.ts. Nothing
 * here throws for a program that cannot be asked: what is not known is left out.
 */
import { createHash } from 'node:crypto';
import { open, readFile, readdir, readlink, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseVersion } from '../../adapters/clamd/protocol.js';
import { run, which } from '../core/exec.js';
import { connect, type Endpoint } from '../core/net.js';
import type { ProgramVersion, ScannerInfo, SignatureDatabase } from '../results/types.js';

/** How long one version question may take (ms). */
const ASK_MS = 5_000;

/** What was found about a set of processes (or a scanner's options). */
export interface Described {
  programs: ProgramVersion[];
  databases: SignatureDatabase[];
  /** The SUT's own deadline (clamsmtpd's TimeOut), ms. */
  deadlineMs?: number;
}

/** How to ask a program its version: arguments, and the pattern of the answer (group 1; else the first line). */
const ASK: Record<string, { args: string[]; pattern?: RegExp }> = {
  clamsmtpd: { args: ['-v'], pattern: /\(version ([^)\s]+)\)/ },
  'clamav-milter': { args: ['--version'], pattern: /^clamav-milter (\S+)/m },
  clamd: { args: ['--version'], pattern: /^(ClamAV [^/\s]+)/m },
  clamscan: { args: ['--version'], pattern: /^(ClamAV [^/\s]+)/m },
  clamdscan: { args: ['--version'], pattern: /^(ClamAV [^/\s]+)/m },
  sigtool: { args: ['--version'], pattern: /^(ClamAV [^/\s]+)/m },
  freshclam: { args: ['--version'], pattern: /^(ClamAV [^/\s]+)/m },
  yara: { args: ['--version'] },
  'c-icap': { args: ['-V'] },
  procmail: { args: ['-v'], pattern: /^procmail v(\S+)/m },
};

/** The version `file` reports (via src/core/exec.ts), or undefined. */
export async function askVersion(file: string, name = basename(file)): Promise<{ version?: string; source: string }> {
  const how = ASK[name] ?? { args: ['--version'] };
  const source = `${name} ${how.args.join(' ')}`;
  const r = await run(file, how.args, { deadline: Date.now() + ASK_MS, maxBuffer: 64 * 1024 });
  const text = `${r.stdout}\n${r.stderr}`;
  if (!r.ok && r.stdout === '' && r.stderr === '') return { source };
  const m = how.pattern?.exec(text);
  const version = m?.[1] ?? (how.pattern === undefined ? text.trim().split('\n')[0]?.trim() : undefined);
  return version === undefined || version === '' ? { source } : { version, source };
}

/** Send one z-command to clamd (via src/core/net.ts) and read its NUL-terminated reply; undefined on any failure. */
export async function clamdCommand(ep: Endpoint, command: string, timeoutMs = ASK_MS): Promise<string | undefined> {
  try {
    const c = await connect(ep, { deadline: Date.now() + timeoutMs });
    try {
      await c.write(Buffer.from(`z${command}\0`, 'latin1'));
      return (await c.readUntil('\0')).toString('utf8').replace(/\0$/, '');
    } finally {
      c.destroy();
    }
  } catch {
    return undefined;
  }
}

/** clamd's VERSION reply as a program and (when it names one) the daily database it loaded. */
export function fromClamdVersion(reply: string): { program?: ProgramVersion; database?: SignatureDatabase } {
  const v = parseVersion(reply);
  if (v === undefined) return {};
  const out: { program?: ProgramVersion; database?: SignatureDatabase } = { program: { name: 'clamd', version: v.version, source: 'clamd VERSION' } };
  const m = /\/(\d+)(?:\/(.+))?$/.exec(reply.replace(/[\0\r\n]+$/, ''));
  if (m !== null) {
    const built = m[2] === undefined ? undefined : isoOf(m[2]);
    out.database = { name: 'daily', version: m[1] as string, ...(built === undefined ? {} : { buildTime: built }), source: 'clamd VERSION' };
  }
  return out;
}

function isoOf(text: string): string | undefined {
  const t = Date.parse(text.replace(/(\d{2})-(\d{2}) ([+-]\d{4})$/, '$1:$2 $3'));
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/** `sigtool --info FILE` output (it exits non-zero on an unsigned file but still prints the header). */
export function parseSigtoolInfo(text: string): { version?: string; buildTime?: string; signatures?: number } | undefined {
  const version = /^Version:\s*(\S+)/m.exec(text)?.[1];
  const sigs = /^Signatures:\s*(\d+)/m.exec(text)?.[1];
  const built = /^Build time:\s*(.+)$/m.exec(text)?.[1];
  if (version === undefined && sigs === undefined) return undefined;
  const buildTime = built === undefined ? undefined : isoOf(built.trim());
  return { ...(version === undefined ? {} : { version }), ...(buildTime === undefined ? {} : { buildTime }), ...(sigs === undefined ? {} : { signatures: Number(sigs) }) };
}

/** The 512-byte header of a CVD/CLD/CUD file: `ClamAV-VDB:time:version:sigs:flevel:md5:dsig:builder:stime`. */
export function parseCvdHeader(head: string): { version?: string; buildTime?: string; signatures?: number } | undefined {
  if (!head.startsWith('ClamAV-VDB:')) return undefined;
  const f = head.slice('ClamAV-VDB:'.length).split(':');
  const buildTime = isoOf((f[0] ?? '').trim());
  const sigs = Number(f[2]);
  return { ...(f[1] ? { version: f[1] } : {}), ...(buildTime === undefined ? {} : { buildTime }), ...(Number.isInteger(sigs) ? { signatures: sigs } : {}) };
}

/** Plain ClamAV database extensions whose every non-empty, non-comment line is one signature. */
const LINE_DBS = new Set(['.ndb', '.ndu', '.hdb', '.hdu', '.hsb', '.hsu', '.mdb', '.mdu', '.msb', '.msu', '.ldb', '.ldu', '.cdb', '.ftm', '.fp', '.sfp', '.idb', '.pdb', '.gdb', '.wdb', '.crb', '.imp', '.ign', '.ign2']);
const CVD_DBS = new Set(['.cvd', '.cld', '.cud']);

/** One database file: CVD-like through sigtool (else its header), plain ones by counting lines, YARA by counting rules. */
export async function describeDatabaseFile(path: string): Promise<SignatureDatabase | undefined> {
  const ext = extname(path).toLowerCase();
  const name = basename(path);
  let st;
  try {
    st = await stat(path);
  } catch {
    return undefined;
  }
  if (!st.isFile()) return undefined;
  const mtime = st.mtime.toISOString();
  if (CVD_DBS.has(ext)) {
    const sigtool = await which('sigtool');
    if (sigtool !== undefined) {
      const r = await run(sigtool, [`--info=${path}`], { deadline: Date.now() + 30_000, maxBuffer: 64 * 1024 });
      const info = parseSigtoolInfo(r.stdout);
      if (info !== undefined) return { name, path, ...info, source: 'sigtool --info' };
    }
    try {
      const fh = await open(path, 'r');
      try {
        const buf = Buffer.alloc(512);
        await fh.read(buf, 0, 512, 0);
        const info = parseCvdHeader(buf.toString('latin1'));
        if (info !== undefined) return { name, path, ...info, source: 'CVD header' };
      } finally {
        await fh.close();
      }
    } catch {
      /* unreadable: below */
    }
    return { name, path, buildTime: mtime, source: 'file' };
  }
  if (LINE_DBS.has(ext) || ext === '.yar' || ext === '.yara') {
    if (st.size > 512 * 1024 * 1024) return { name, path, buildTime: mtime, source: 'file' };
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      return { name, path, buildTime: mtime, source: 'file' };
    }
    // A plain database has no version of its own: the sha256 of its content stands for one.
    const version = `sha256:${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
    if (ext === '.yar' || ext === '.yara') {
      const rules = text.match(/^\s*(?:(?:private|global)\s+)*rule\s+[A-Za-z_]\w*/gm)?.length ?? 0;
      return { name, path, version, buildTime: mtime, signatures: rules, source: 'counted rules' };
    }
    const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).length;
    return { name, path, version, buildTime: mtime, signatures: lines, source: 'counted lines' };
  }
  return undefined;
}

/** Every database file of a ClamAV database directory (or one file), sorted by name. */
export async function describeDatabaseDir(dir: string): Promise<SignatureDatabase[]> {
  let names: string[];
  try {
    const st = await stat(dir);
    if (st.isFile()) {
      const one = await describeDatabaseFile(dir);
      return one === undefined ? [] : [one];
    }
    names = (await readdir(dir)).sort();
  } catch {
    return [];
  }
  const out: SignatureDatabase[] = [];
  for (const n of names) {
    const d = await describeDatabaseFile(join(dir, n));
    if (d !== undefined) out.push(d);
  }
  return out;
}

/** A config file's `Key value` / `Key: value` lines (first value of each key; comments skipped). */
export function parseConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const m = /^([A-Za-z][\w]*)\s*(?::\s*|\s+)(.*)$/.exec(t);
    if (m === null) continue;
    const k = (m[1] as string).toLowerCase();
    if (!out.has(k)) out.set(k, (m[2] as string).trim());
  }
  return out;
}

async function readConfig(file: string | undefined): Promise<Map<string, string> | undefined> {
  if (file === undefined) return undefined;
  try {
    return parseConfig(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The config file named on a command line (`--config-file=F`, `--config-file F`, `-c F`, `-f F`). */
export function configFileOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const eq = /^--config-file=(.+)$/.exec(a);
    if (eq !== null) return eq[1];
    if ((a === '--config-file' || a === '-c' || a === '-f') && argv[i + 1] !== undefined) return argv[i + 1];
  }
  return undefined;
}

/** clamd's endpoint from a clamd.conf (LocalSocket first, else TCPSocket on TCPAddr). */
function clamdEndpointOf(conf: Map<string, string>): Endpoint | undefined {
  const sock = conf.get('localsocket');
  if (sock !== undefined) return { path: sock };
  const port = Number(conf.get('tcpsocket'));
  if (Number.isInteger(port) && port > 0) return { host: conf.get('tcpaddr') ?? '127.0.0.1', port };
  return undefined;
}

/** clamd's endpoint as a SUT's config names it: clamsmtpd `ClamAddress`, clamav-milter `ClamdSocket`. */
function clamdOfSut(name: string, conf: Map<string, string>): Endpoint | undefined {
  const raw = name === 'clamsmtpd' ? conf.get('clamaddress') : name === 'clamav-milter' ? conf.get('clamdsocket') : undefined;
  if (raw === undefined) return undefined;
  const v = raw.replace(/^unix:/, '');
  if (v.startsWith('/')) return { path: v };
  const m = /^(?:tcp:)?([^:]+):(\d+)/.exec(v);
  return m === null ? undefined : { host: m[1] as string, port: Number(m[2]) };
}

/** Add `p` unless the same name and version is there (several processes of one daemon are one program). */
function addProgram(list: ProgramVersion[], p: ProgramVersion): void {
  if (!list.some((q) => q.name === p.name && q.version === p.version)) list.push(p);
}

const INTERPRETERS = new Set(['node', 'nodejs', 'python', 'python3', 'perl', 'ruby']);

/** A script run by an interpreter (Haraka under node): its name, and its version from the nearest package.json. */
async function scriptProgram(script: string, pid: number): Promise<ProgramVersion> {
  let dir = script;
  for (let up = 0; up < 4; up++) {
    dir = join(dir, '..');
    try {
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (typeof pkg.name === 'string' && typeof pkg.version === 'string') return { name: pkg.name, version: pkg.version, source: `${join(dir, 'package.json')}`, path: script, pid };
    } catch {
      /* not here: one folder up */
    }
  }
  return { name: basename(script), source: 'script', path: script, pid };
}

function addDatabases(list: SignatureDatabase[], dbs: readonly SignatureDatabase[]): void {
  for (const d of dbs) if (!list.some((x) => x.name === d.name && x.path === d.path && x.version === d.version)) list.push(d);
}

/** Ask a clamd endpoint its VERSION: its program line and daily database. */
async function askClamd(ep: Endpoint, into: Described): Promise<void> {
  const reply = await clamdCommand(ep, 'VERSION');
  if (reply === undefined) return;
  const { program, database } = fromClamdVersion(reply);
  if (program !== undefined) addProgram(into.programs, program);
  if (database !== undefined) addDatabases(into.databases, [database]);
}

/**
 * Describe processes by PID: each one's program and version, clamd's VERSION reply and
 * database directory, a SUT's clamd (from its config) and its own deadline (clamsmtpd's
 * TimeOut, default 180 s). Gone or unreadable processes are skipped.
 */
export async function describeProcesses(pids: readonly number[]): Promise<Described> {
  const out: Described = { programs: [], databases: [] };
  const clamds: Endpoint[] = [];
  for (const pid of [...new Set(pids)]) {
    let exe: string;
    let argv: string[];
    try {
      exe = (await readlink(`/proc/${pid}/exe`)).replace(/ \(deleted\)$/, '');
      argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((s) => s !== '');
    } catch {
      continue;
    }
    const name = basename(exe);
    const script = argv[1];
    if (INTERPRETERS.has(name.replace(/[\d.]+$/, '')) && script !== undefined && script.startsWith('/')) addProgram(out.programs, await scriptProgram(script, pid));
    const asked = await askVersion(exe, name);
    addProgram(out.programs, { name, ...(asked.version === undefined ? {} : { version: asked.version }), source: asked.source, path: exe, pid });
    const conf = await readConfig(configFileOf(argv.slice(1)) ?? (name === 'clamd' ? '/etc/clamav/clamd.conf' : undefined));
    if (conf === undefined) continue;
    if (name === 'clamd') {
      const ep = clamdEndpointOf(conf);
      if (ep !== undefined) clamds.push(ep);
      addDatabases(out.databases, await describeDatabaseDir(conf.get('databasedirectory') ?? '/var/lib/clamav'));
    } else {
      const ep = clamdOfSut(name, conf);
      if (ep !== undefined) clamds.push(ep);
      if (name === 'clamsmtpd') {
        const t = Number(conf.get('timeout') ?? 180);
        if (Number.isFinite(t) && t > 0) out.deadlineMs = t * 1000;
      }
    }
  }
  for (const ep of clamds) await askClamd(ep, out);
  return out;
}

/** The program a command line starts (an `lda:` SUT: procmail, avbench deliver...), asked its version. */
export async function describeCommand(file: string): Promise<ProgramVersion | undefined> {
  const path = file.includes('/') ? file : await which(file);
  if (path === undefined) return undefined;
  const name = basename(path);
  if (INTERPRETERS.has(name.replace(/[\d.]+$/, ''))) return { name, source: 'command', path };
  const v = await askVersion(path, name);
  return { name, ...(v.version === undefined ? {} : { version: v.version }), source: v.source, path };
}

/** Scanner options the descriptions read (a subset of each adapter type's options). */
export interface ScannerOptionsSeen {
  socket?: string;
  host?: string;
  port?: number;
  configFile?: string;
  database?: string;
  rules?: string;
  binary?: string;
}

/**
 * Describe an adapter by its type and options (plus the PIDs of its daemon, when known):
 * clamd / clamdscan → clamd's VERSION and database directory; clamscan → its database
 * (default /var/lib/clamav); yara → its rules file.
 */
export async function describeAdapter(type: string, options: ScannerOptionsSeen, pids: readonly number[] = [], probe?: { version?: string; signatures?: string }): Promise<Described> {
  const out = await describeProcesses(pids);
  if (type === 'icap') {
    // The OPTIONS reply: its Service header names the server and its version, its ISTag the signature state.
    if (probe?.version !== undefined) addProgram(out.programs, { name: 'ICAP service', version: probe.version, source: 'ICAP OPTIONS Service' });
    const istag = /^ISTag (.+)$/.exec(probe?.signatures ?? '')?.[1];
    if (istag !== undefined) addDatabases(out.databases, [{ name: 'ISTag', version: istag, source: 'ICAP OPTIONS ISTag' }]);
  }
  const conf = await readConfig(options.configFile);
  if (type === 'clamd' || type === 'clamdscan') {
    const ep: Endpoint | undefined =
      options.socket !== undefined ? { path: options.socket } : options.port !== undefined ? { host: options.host ?? '127.0.0.1', port: options.port } : conf !== undefined ? clamdEndpointOf(conf) : undefined;
    if (ep !== undefined) await askClamd(ep, out);
    if (conf !== undefined) addDatabases(out.databases, await describeDatabaseDir(conf.get('databasedirectory') ?? '/var/lib/clamav'));
    if (type === 'clamdscan') {
      const bin = options.binary ?? (await which('clamdscan'));
      if (bin !== undefined) {
        const v = await askVersion(bin, 'clamdscan');
        addProgram(out.programs, { name: 'clamdscan', ...(v.version === undefined ? {} : { version: v.version }), source: v.source, path: bin });
      }
    }
  } else if (type === 'clamscan') {
    const bin = options.binary ?? (await which('clamscan'));
    if (bin !== undefined) {
      const v = await askVersion(bin, 'clamscan');
      addProgram(out.programs, { name: 'clamscan', ...(v.version === undefined ? {} : { version: v.version }), source: v.source, path: bin });
    }
    addDatabases(out.databases, await describeDatabaseDir(options.database ?? '/var/lib/clamav'));
  } else if (type === 'yara') {
    const bin = options.binary ?? (await which('yara'));
    if (bin !== undefined) {
      const v = await askVersion(bin, 'yara');
      addProgram(out.programs, { name: 'yara', ...(v.version === undefined ? {} : { version: v.version }), source: v.source, path: bin });
    }
    if (options.rules !== undefined) {
      const d = await describeDatabaseFile(options.rules);
      if (d !== undefined) addDatabases(out.databases, [d]);
    }
  }
  return out;
}

/** One line for a program list: `clamsmtpd 1.10 + clamd ClamAV 1.4.6`. */
export function programsLine(programs: readonly ProgramVersion[]): string | undefined {
  const shown = programs.filter((p) => p.version !== undefined).map((p) => (p.version?.toLowerCase().startsWith(p.name.toLowerCase()) || p.version?.startsWith('ClamAV') ? (p.version as string) : `${p.name} ${p.version}`));
  const unique = [...new Set(shown)];
  return unique.length === 0 ? undefined : unique.join(' + ');
}

/**
 * One line for databases: `daily 27000 (355000 sigs, built 2026-12-04T10:24Z) · 2 signatures in
 * avbench.hdb, avbench.ndb`. Plain files are summed by their counts (no dates: a lab writes the
 * same database afresh every run, and the line must not change with it; the content hashes are
 * in each entry's `version`).
 */
export function databasesLine(dbs: readonly SignatureDatabase[]): string | undefined {
  if (dbs.length === 0) return undefined;
  const parts: string[] = [];
  const plain = (d: SignatureDatabase): boolean => d.source === 'counted lines' || d.source === 'counted rules' || d.source === 'file';
  const versioned = dbs.filter((d) => d.version !== undefined && !plain(d));
  for (const d of versioned) {
    const bits = [d.signatures !== undefined ? `${d.signatures} sigs` : '', d.buildTime !== undefined ? `built ${d.buildTime.slice(0, 16)}Z` : ''].filter((b) => b !== '');
    parts.push(`${d.name.replace(/\.(cvd|cld|cud)$/, '')} ${d.version as string}${bits.length > 0 ? ` (${bits.join(', ')})` : ''}`);
  }
  const files = dbs.filter(plain);
  if (files.length > 0) {
    const sigs = files.reduce((s, d) => s + (d.signatures ?? 0), 0);
    parts.push(`${sigs} signature${sigs === 1 ? '' : 's'} in ${files.map((d) => d.name).join(', ')}`);
  }
  return parts.join(' · ');
}

/** `info` with programs and databases added, and its version / signatures lines filled where they were empty. */
export function withDescription(info: ScannerInfo, d: Described): ScannerInfo {
  const out: ScannerInfo = { ...info };
  if (d.programs.length > 0) out.programs = d.programs;
  if (d.databases.length > 0) out.databases = d.databases;
  const pl = programsLine(d.programs);
  if (pl !== undefined && (out.version === undefined || info.type === 'sut')) out.version = pl;
  const dl = databasesLine(d.databases);
  if (dl !== undefined) out.signatures = out.signatures === undefined || /^(daily \d+|\d+ database files? in |ISTag )/.test(out.signatures) ? dl : `${out.signatures} · ${dl}`;
  return out;
}

/** sha256 of a corpus as benched: per message its name, a NUL, the sha256 of its bytes, a newline. */
export class CorpusHasher {
  private readonly h = createHash('sha256');
  add(name: string, raw: Buffer): void {
    this.h.update(name);
    this.h.update('\0');
    this.h.update(createHash('sha256').update(raw).digest('hex'));
    this.h.update('\n');
  }
  hex(): string {
    return this.h.digest('hex');
  }
}
