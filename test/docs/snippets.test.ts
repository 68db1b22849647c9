/**
 * Snippets that paste (issue 12.5): every configuration snippet in docs/ is extracted and
 * checked with the real programs, as an administrator would paste it.
 *
 * A snippet is a fenced block whose info string names its file: ```main.cf, ```master.cf,
 * ```sendmail.mc, ```sendmail.cf (the lines m4 makes of the sendmail.mc before it),
 * ```procmailrc. An untagged block that looks like one of those fails the test (tag it).
 *
 * - main.cf: `postconf -c DIR -n` prints exactly the values written and no warning (a
 *   `# comment` after a value would be part of the value; an unknown parameter warns).
 * - master.cf: `postconf -M` and `-P` parse every service and every `-o` override, with no
 *   warning; a listener beside a content_filter must clear it (`-o content_filter=`) or
 *   mail loops.
 * - The Postfix lines are the ones the lab's private Postfix runs (src/lab/postfix.ts) and
 *   the procmail recipe is the lab's (src/lab/procmail.ts), addresses and paths aside.
 * - sendmail.mc: expanded by m4 with Sendmail's own cf macros (Debian sendmail-cf); the
 *   sendmail.cf block after it must be in the output.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/core/exec.js';
import { postfixMainCf, postfixMasterCf } from '../../src/lab/postfix.js';
import { procmailRc } from '../../src/lab/procmail.js';
import { describeReal } from '../helpers/real.js';

const DOCS = resolve(import.meta.dirname, '../../docs');
const KINDS = ['main.cf', 'master.cf', 'sendmail.mc', 'sendmail.cf', 'procmailrc'] as const;
type Kind = (typeof KINDS)[number];

interface Snippet {
  doc: string;
  /** 1-based line of the opening fence. */
  line: number;
  kind: Kind | undefined;
  info: string;
  text: string;
}

/** Every fenced block of a Markdown text. */
function fences(doc: string, md: string): Snippet[] {
  const out: Snippet[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(.*)$/.exec(lines[i] as string);
    if (open === null) continue;
    const info = (open[1] as string).trim();
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^```\s*$/.test(lines[j] as string)) body.push(lines[j++] as string);
    const kind = (KINDS as readonly string[]).includes(info) ? (info as Kind) : undefined;
    out.push({ doc, line: i + 1, kind, info, text: body.join('\n') + '\n' });
    i = j;
  }
  return out;
}

const where = (s: Snippet) => `${s.doc}:${s.line}`;

/** `key = value` pairs of a main.cf text (continuation lines joined, comments dropped). */
function mainParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  let last: string | undefined;
  for (const raw of text.split('\n')) {
    if (/^\s*(#|$)/.test(raw)) {
      last = undefined;
      continue;
    }
    if (/^\s/.test(raw) && last !== undefined) {
      params.set(last, `${params.get(last) ?? ''} ${raw.trim()}`.trim());
      continue;
    }
    const m = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(raw);
    if (m === null) throw new Error(`not a main.cf line: ${JSON.stringify(raw)}`);
    last = m[1] as string;
    params.set(last, (m[2] as string).trim());
  }
  return params;
}

/** Parse `postconf -n` output into a map. */
function postconfOutput(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const x = /^([A-Za-z0-9_]+) = ?(.*)$/.exec(line);
    if (x !== null) m.set(x[1] as string, x[2] as string);
  }
  return m;
}

/** master.cf services of a text: `name/type` → their `-o key=value` overrides and the rest of the line. */
interface Service {
  key: string;
  command: string;
  overrides: Map<string, string>;
  /** Everything after the command (pipe flags=, user=, argv=). */
  rest: string;
}
function masterServices(text: string): Service[] {
  const out: Service[] = [];
  let cur: { fields: string[] } | undefined;
  const finish = () => {
    if (cur === undefined) return;
    const [name, type, , , , , , command, ...rest] = cur.fields;
    const overrides = new Map<string, string>();
    const other: string[] = [];
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === '-o') {
        const kv = rest[++i] as string;
        const eq = kv.indexOf('=');
        overrides.set(kv.slice(0, eq), kv.slice(eq + 1));
      } else other.push(rest[i] as string);
    }
    out.push({ key: `${name}/${type}`, command: command as string, overrides, rest: other.join(' ') });
    cur = undefined;
  };
  for (const raw of text.split('\n')) {
    if (/^\s*(#|$)/.test(raw)) continue;
    if (/^\s/.test(raw)) {
      if (cur === undefined) throw new Error(`continuation line without a service: ${raw}`);
      cur.fields.push(...raw.trim().split(/\s+/));
      continue;
    }
    finish();
    cur = { fields: raw.trim().split(/\s+/) };
  }
  finish();
  return out;
}

/** A private Postfix config folder holding `main` and `master` (postconf only reads it). */
async function configDir(root: string, main: string, master: string): Promise<string> {
  const dir = await mkdtemp(join(root, 'cf-'));
  await writeFile(join(dir, 'main.cf'), main);
  await writeFile(join(dir, 'master.cf'), master);
  return dir;
}

async function postconf(dir: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await run('postconf', ['-c', dir, ...args], { deadline: Date.now() + 20_000 });
  if (!r.ok) throw new Error(`postconf ${args.join(' ')}: ${r.message}`);
  if (r.exitCode !== 0) throw new Error(`postconf ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

const all: Snippet[] = [];
beforeAll(async () => {
  for (const f of (await readdir(DOCS)).filter((n) => n.endsWith('.md')).sort()) {
    all.push(...fences(`docs/${f}`, await readFile(join(DOCS, f), 'utf8')));
  }
});
const ofKind = (k: Kind) => all.filter((s) => s.kind === k);

describe('docs snippets are tagged', () => {
  it('every block that looks like MTA or procmail configuration names its file in the fence', () => {
    const looksLikeConfig =
      /^\s*(smtpd_|non_smtpd_milters|milter_|content_filter|mailbox_command|transport_maps|receive_override_options)\w*\s*=|^\S+\s+(inet|unix|pass|fifo|unix-dgram)\s+[-yn]\s+[-yn]\s+[-yn]\s|INPUT_MAIL_FILTER|FEATURE\(|^:0/m;
    const untagged = all.filter((s) => s.kind === undefined && s.info === '' && looksLikeConfig.test(s.text)).map(where);
    expect(untagged).toEqual([]);
    // The kinds this test knows are all present, so none of its checks runs on nothing.
    for (const k of KINDS) expect(ofKind(k).length, k).toBeGreaterThan(0);
  });
});

await describeReal('docs snippets, checked with the real programs', ['postconf', 'm4', 'procmail'], () => {
  let root: string;
  let stockMaster: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'avbench-snippets-'));
    stockMaster = await readFile('/usr/share/postfix/master.cf.dist', 'utf8');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** The stock master.cf with the services the doc's master.cf snippets define (so their `NAME_*` parameters are known). */
  function masterFor(doc: string): string {
    const snippets = ofKind('master.cf').filter((s) => s.doc === doc);
    const defined = new Set(snippets.flatMap((s) => masterServices(s.text).map((x) => x.key)));
    const kept: string[] = [];
    let skipping = false;
    for (const line of stockMaster.split('\n')) {
      if (/^\S/.test(line) && !line.startsWith('#')) {
        const [name, type] = line.trim().split(/\s+/);
        skipping = defined.has(`${name}/${type}`);
      } else if (!/^\s/.test(line)) skipping = false;
      if (!skipping) kept.push(line);
    }
    return [...kept, ...snippets.map((s) => s.text)].join('\n');
  }

  it('main.cf: postconf -n shows exactly the values written, with no warning', async () => {
    for (const s of ofKind('main.cf')) {
      const want = mainParams(s.text);
      expect(want.size, where(s)).toBeGreaterThan(0);
      const dir = await configDir(root, s.text, masterFor(s.doc));
      const r = await postconf(dir, '-n');
      expect(r.stderr, `${where(s)}: postconf warned`).toBe('');
      const got = postconfOutput(r.stdout);
      for (const [k, v] of want) {
        expect(v, `${where(s)}: ${k} has a comment inside its value`).not.toContain('#');
        expect(got.get(k), `${where(s)}: ${k}`).toBe(v);
      }
    }
  });

  it('master.cf: postconf -M and -P parse every service and override, with no warning', async () => {
    for (const s of ofKind('master.cf')) {
      const services = masterServices(s.text);
      expect(services.length, where(s)).toBeGreaterThan(0);
      const dir = await configDir(root, '', s.text);
      const m = await postconf(dir, '-M');
      expect(m.stderr, `${where(s)}: postconf -M warned`).toBe('');
      const p = await postconf(dir, '-P');
      expect(p.stderr, `${where(s)}: postconf -P warned`).toBe('');
      const listed = m.stdout.split('\n').filter((l) => l !== '').map((l) => l.split(/\s+/).slice(0, 2).join('/'));
      expect(listed, where(s)).toEqual(services.map((x) => x.key));
      const overrides = new Set(p.stdout.split('\n').filter((l) => l !== ''));
      for (const svc of services) {
        for (const [k, v] of svc.overrides) expect(overrides.has(`${svc.key}/${k} =${v === '' ? '' : ` ${v}`}`), `${where(s)}: ${svc.key} -o ${k}=${v}`).toBe(true);
      }
    }
  });

  it('master.cf: beside a content_filter, every other smtpd listener clears it (no mail loop)', async () => {
    for (const s of ofKind('master.cf')) {
      const services = masterServices(s.text);
      const docMain = ofKind('main.cf').filter((x) => x.doc === s.doc).map((x) => mainParams(x.text).get('content_filter') ?? '');
      const filtered = services.filter((x) => (x.overrides.get('content_filter') ?? '') !== '');
      if (filtered.length === 0 && docMain.every((v) => v === '')) continue;
      for (const svc of services) {
        if (svc.command !== 'smtpd' || !svc.key.endsWith('/inet') || filtered.includes(svc)) continue;
        expect(svc.overrides.get('content_filter'), `${where(s)}: ${svc.key} re-injects mail: add -o content_filter=`).toBe('');
      }
    }
  });

  it('the Postfix snippets are the lab\'s: milter parameters, before-queue proxy listeners, pipe transport', async () => {
    // Milter: the parameters the lab sets, with the same values (the address aside).
    const lab = mainParams(postfixMainCf({ dir: '/x', relayPort: 1, milter: 'inet:127.0.0.1:7357' }));
    const LAB_MILTER = ['smtpd_milters', 'milter_default_action', 'milter_protocol'];
    /** Set in a doc but not by the lab, and why. */
    const DOC_ONLY: Record<string, string> = { non_smtpd_milters: 'the lab submits no mail through sendmail(1)/pickup' };
    const milterSnippets = ofKind('main.cf').filter((s) => mainParams(s.text).has('smtpd_milters'));
    expect(milterSnippets.length).toBeGreaterThan(0);
    for (const s of milterSnippets) {
      const doc = mainParams(s.text);
      for (const k of LAB_MILTER) {
        // inet (the lab) or unix (test/daemon/milter-unit.test.ts runs Postfix against the unit's socket).
        if (k === 'smtpd_milters') expect(['inet', 'unix'], `${where(s)}: ${k}`).toContain(doc.get(k)?.split(':')[0]);
        else expect(doc.get(k), `${where(s)}: ${k}`).toBe(lab.get(k));
      }
      for (const k of doc.keys()) if (!LAB_MILTER.includes(k)) expect(DOC_ONLY[k], `${where(s)}: ${k} is not what the lab runs`).toBeDefined();
    }

    // Before-queue proxy: the public and re-injection listeners carry the lab's overrides.
    const labMaster = masterServices(postfixMasterCf({ port: 25, proxyFilter: '127.0.0.1:10025', reinjectPort: 10026 }));
    const role = (x: Service) => (x.overrides.has('smtpd_proxy_filter') ? (x.overrides.get('smtpd_proxy_filter') === '' ? 'reinject' : 'public') : undefined);
    const normalize = (x: Service) => [...x.overrides].map(([k, v]) => `${k}=${k === 'smtpd_proxy_filter' && v !== '' ? 'ADDR' : v}`).sort();
    const proxySnippets = ofKind('master.cf').filter((s) => masterServices(s.text).some((x) => role(x) === 'public'));
    expect(proxySnippets.length).toBeGreaterThan(0);
    for (const s of proxySnippets) {
      for (const r of ['public', 'reinject']) {
        const d = masterServices(s.text).find((x) => role(x) === r);
        const l = labMaster.find((x) => role(x) === r);
        expect(d, `${where(s)}: ${r} listener`).toBeDefined();
        expect(normalize(d as Service), `${where(s)}: ${r} listener`).toEqual(normalize(l as Service));
      }
    }

    // pipe(8) transports: the lab's flags and one recipient per run.
    const labPipe = masterServices(postfixMasterCf({ port: 25, pipeTransports: [{ name: 'avbench', domain: 'example.com', argv: ['/bin/true'], user: 'nobody' }] })).find((x) => x.command === 'pipe');
    const flags = (x: Service | undefined) => /(?:^| )flags=(\S*)/.exec(x?.rest ?? '')?.[1];
    const labMain = mainParams(postfixMainCf({ dir: '/x', relayPort: 1, pipeTransports: [{ name: 'avbench', domain: 'example.com', argv: ['/bin/true'], user: 'nobody' }] }));
    const pipeSnippets = ofKind('master.cf').filter((s) => masterServices(s.text).some((x) => x.command === 'pipe' && /argv=\S*avbench deliver/.test(x.rest) && x.overrides.size === 0 && !/null_sender/.test(x.rest)));
    expect(pipeSnippets.length).toBeGreaterThan(0);
    for (const s of pipeSnippets) {
      const d = masterServices(s.text).find((x) => x.command === 'pipe');
      expect(flags(d), where(s)).toBe(flags(labPipe));
      const name = (d as Service).key.split('/')[0] as string;
      const main = ofKind('main.cf').filter((x) => x.doc === s.doc).map((x) => mainParams(x.text));
      expect(main.some((m) => m.get(`${name}_destination_recipient_limit`) === labMain.get('avbench_destination_recipient_limit')), `${where(s)}: ${name}_destination_recipient_limit`).toBe(true);
    }
  });

  it('sendmail.mc: m4 with Sendmail\'s cf macros expands it, into the sendmail.cf lines shown after it', async () => {
    const cfM4 = '/usr/share/sendmail/cf/m4/cf.m4';
    for (const s of ofKind('sendmail.mc')) {
      const mc = [`include(\`${cfM4}')dnl`, "OSTYPE(`debian')dnl", s.text, "MAILER(`local')dnl", "MAILER(`smtp')dnl", ''].join('\n');
      const file = join(root, `t${s.line}.mc`);
      await writeFile(file, mc);
      const r = await run('m4', [file], { deadline: Date.now() + 20_000 });
      expect(r.ok && r.exitCode, `${where(s)}: m4 failed: ${r.stderr}`).toBe(0);
      expect(r.stderr, where(s)).toBe('');
      const cf = r.stdout.split('\n').map((l) => l.replace(/\s+/g, ' ').trim());
      const next = all[all.indexOf(s) + 1];
      if (next?.kind === 'sendmail.cf' && next.doc === s.doc) {
        for (const line of next.text.split('\n').filter((l) => l.trim() !== '')) expect(cf, `${where(next)}: ${line}`).toContain(line.replace(/\s+/g, ' ').trim());
      }
      if (/INPUT_MAIL_FILTER/.test(s.text)) expect(cf.some((l) => l.startsWith('O InputMailFilters=')), where(s)).toBe(true);
    }
    expect(ofKind('sendmail.cf').every((c) => ofKind('sendmail.mc').some((m) => m.doc === c.doc && all.indexOf(m) + 1 === all.indexOf(c))), 'each sendmail.cf block follows its sendmail.mc').toBe(true);
  });

  it("procmailrc: the lab's recipe as generated, and procmail runs it without a complaint", async () => {
    for (const s of ofKind('procmailrc')) {
      const v = (name: string) => new RegExp(`^${name}=(\\S+)$`, 'm').exec(s.text)?.[1];
      const clamdscan = /^AV_REPORT=`(\S+) --config-file=(\S+) /m.exec(s.text);
      const formail = /\| (\S+formail) -i/.exec(s.text)?.[1];
      expect(clamdscan, where(s)).not.toBeNull();
      const onInfected = /EXITCODE=77/.test(s.text) ? 'reject' : /^\s*\/dev\/null$/m.test(s.text.split(':0E')[0] ?? '') ? 'drop' : 'tag';
      const want = procmailRc({
        folder: v('MAILDIR') as string,
        maildir: (v('DEFAULT') as string).replace(/\/$/, ''),
        logFile: v('LOGFILE') as string,
        clamdscan: clamdscan?.[1] as string,
        formail: formail as string,
        clamdConfig: clamdscan?.[2] as string,
        onInfected,
      });
      const body = (t: string) => t.split('\n').filter((l) => !l.startsWith('# generated by avbench lab')).join('\n').trim();
      expect(body(s.text), where(s)).toBe(body(want));
      // procmail parses it: run it on a message with its folders pointed at a temp folder and
      // clamdscan at a absent-clamd.config (so it exits 75 by the recipe's own last rule).
      const dir = await mkdtemp(join(root, 'pm-'));
      const rc = s.text
        .replace(/^MAILDIR=.*$/m, `MAILDIR=${dir}`)
        .replace(/^DEFAULT=.*$/m, `DEFAULT=${dir}/Maildir/`)
        .replace(/^LOGFILE=.*$/m, `LOGFILE=${dir}/log`)
        .replace(/--config-file=\S+/, `--config-file=${dir}/absent-clamd.conf`)
        .replace(/^VERBOSE=no$/m, 'VERBOSE=yes');
      await writeFile(join(dir, 'rc'), rc);
      const r = await run('procmail', ['-m', join(dir, 'rc')], { input: 'From: a@example.org\nTo: b@example.org\nSubject: t\n\nhello\n', deadline: Date.now() + 20_000 });
      const log = await readFile(join(dir, 'log'), 'utf8').catch(() => '');
      expect(log, `${where(s)}: procmail complained`).not.toMatch(/^procmail: (Skipped|Missing|Invalid|Unexpected|Extraneous|Bad substitution)/im);
      expect(r.ok && r.exitCode, `${where(s)}: ${log}`).toBe(75);
    }
  });
});
