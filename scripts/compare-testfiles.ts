/**
 * Issue 16's acceptance check: ClamAV's own test files (Debian `clamav-testfiles`, 44 files:
 * clam.exe inside archives, mail formats, Office files, installers, packers) each attached
 * to one message (base64). The embedded scanner, given only clam.exe's MD5 as a one-line
 * .hdb, and clamscan with the same one-line database scan the same messages; the table
 * shows each file's verdict side by side. An embedded verdict that is neither infected nor
 * an error must carry `unchecked` (never plain clean).
 *
 *   npm run build && node dist/scripts/compare-testfiles.js [--dir /usr/share/clamav-testfiles] [--keep]
 *
 * Exit 0 when the embedded scanner detects at least 28 files and leaves none plain clean.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../src/core/exec.js';
import { parseOptions } from './lib/args.js';

const CLAM_EXE_HDB = 'aa15bcf478d165efd2065190eb473bcb:544:ClamAV-Test-File\n';
const TARGET = 28;

interface EmbeddedRow {
  file: string;
  status: 'clean' | 'infected' | 'error';
  detections?: { name: string; part?: string }[];
  unchecked?: { part: string; reason: string; detail?: string }[];
  limits?: { code: string; message: string }[];
  error?: { code: string; message: string };
}

/** One message with `name` attached as application/octet-stream, base64, 76-column lines. */
export function messageWith(name: string, data: Buffer): Buffer {
  const b64 = data.toString('base64').replace(/.{76}/g, '$&\r\n');
  const boundary = '=_avbench_testfile';
  return Buffer.from(
    [
      'From: tester@example.com',
      'To: gateway@example.com',
      `Subject: ClamAV test file ${name}`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=us-ascii',
      '',
      `Attached: ${name}`,
      `--${boundary}`,
      `Content-Type: application/octet-stream; name="${name}"`,
      `Content-Disposition: attachment; filename="${name}"`,
      'Content-Transfer-Encoding: base64',
      '',
      b64.replace(/\r\n$/, ''),
      `--${boundary}--`,
      '',
    ].join('\r\n'),
  );
}

function describeEmbedded(r: EmbeddedRow | undefined): string {
  if (r === undefined) return 'missing';
  if (r.status === 'infected') {
    const part = r.detections?.[0]?.part ?? '';
    return `infected ${part.replace(/^1\.2:[^ ]* > /, '> ').replace(/^1\.2:.*$/, '(attachment)')}`.slice(0, 60);
  }
  if (r.status === 'error') return `error ${r.error?.code ?? ''}`;
  if (r.unchecked !== undefined && r.unchecked.length > 0) {
    const u = r.unchecked[0] as NonNullable<EmbeddedRow['unchecked']>[number];
    return `clean, unchecked ${u.reason}: ${u.detail ?? ''}`.slice(0, 70);
  }
  return 'CLEAN (plain)';
}

async function main(): Promise<number> {
  const { dir: src, keep } = parseOptions('compare-testfiles', process.argv.slice(2), {
    dir: { type: 'string', default: '/usr/share/clamav-testfiles' },
    keep: { type: 'boolean', default: false },
  });
  const files = readdirSync(src).sort();
  const work = await mkdtemp(join(tmpdir(), 'avbench-testfiles-'));
  const db = join(work, 'db');
  const mail = join(work, 'mail');
  await mkdir(db);
  await mkdir(mail);
  await writeFile(join(db, 'clam.hdb'), CLAM_EXE_HDB);
  const config = join(work, 'avbench.config.json');
  await writeFile(config, JSON.stringify({ scanners: { 'embedded-clam': { type: 'embedded', signatures: db } } }));
  const messageOf = new Map<string, string>();
  for (const f of files) {
    const path = join(mail, `${f}.eml`);
    messageOf.set(path, f);
    await writeFile(path, messageWith(f, readFileSync(join(src, f))));
  }
  try {
    const bin = join(dirname(fileURLToPath(import.meta.url)), '../src/cli/bin.cjs');
    const load0 = loadavg()[0]?.toFixed(2);
    const ours = await run(process.execPath, [bin, 'scan', '--config', config, '-s', 'embedded-clam', '--json', mail], { maxBuffer: 64 * 1024 * 1024 });
    const rows = new Map<string, EmbeddedRow>();
    try {
      for (const r of JSON.parse(ours.stdout) as EmbeddedRow[]) rows.set(messageOf.get(r.file) ?? basename(r.file).replace(/\.eml$/, ''), r);
    } catch {
      process.stderr.write(`avbench scan gave no JSON: ${ours.stderr.slice(0, 2000)}\n`);
      return 2;
    }
    const clam = await run('clamscan', ['--no-summary', '-d', db, mail], { maxBuffer: 16 * 1024 * 1024 });
    const clamRows = new Map<string, string>();
    for (const line of clam.stdout.split('\n')) {
      const m = /^(.*\.eml): (.*)$/.exec(line);
      if (m) clamRows.set(basename(m[1] as string).replace(/\.eml$/, ''), (m[2] as string).replace(/ FOUND$/, ' FOUND'));
    }
    let detected = 0;
    let clamDetected = 0;
    let plainClean = 0;
    let unchecked = 0;
    let errors = 0;
    const out: string[] = [];
    out.push(`| file | avbench scan -s embedded (clam.exe MD5 only) | clamscan -d (same .hdb) |`);
    out.push(`| --- | --- | --- |`);
    for (const f of files) {
      const r = rows.get(f);
      const c = clamRows.get(f) ?? 'missing';
      if (r?.status === 'infected') detected++;
      else if (r?.status === 'error') errors++;
      else if (r?.unchecked?.length) unchecked++;
      else plainClean++;
      if (c.endsWith('FOUND')) clamDetected++;
      out.push(`| ${f} | ${describeEmbedded(r)} | ${c} |`);
    }
    out.push('');
    out.push(`embedded: ${detected}/${files.length} infected, ${unchecked} clean with unchecked parts, ${errors} errors, ${plainClean} plain clean`);
    out.push(`clamscan: ${clamDetected}/${files.length} infected`);
    out.push(`host load average at start: ${load0}; messages in ${keep ? mail : '(removed)'}`);
    process.stdout.write(out.join('\n') + '\n');
    return detected >= TARGET && plainClean === 0 ? 0 : 1;
  } finally {
    if (!keep) await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(2);
    },
  );
}
