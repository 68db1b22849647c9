/**
 * The JUnit XML of `avbench check`, read back by a JUnit XML consumer's parser
 * (fast-xml-parser, a devDependency): the document is well-formed, one testsuite per
 * scanner × mode, one testcase per category (+ `(all)`), and exactly the failing cases of
 * real benches carry a <failure> naming the messages — also with hostile file names,
 * categories and scanner names.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Results } from '../../src/results/types.js';
import { computeDetection } from '../../src/bench/stats.js';
import { xmlAttr, xmlText } from '../../src/check/junit.js';
import { regressions } from '../../src/check/findings.js';
import { runCheck } from '../../src/check/run.js';
import { changed, makeFixtures, type CheckFixtures } from './fixtures.js';

/** The parts of fast-xml-parser this test uses. */
interface Fxp {
  XMLParser: new (o: Record<string, unknown>) => { parse(xml: string): unknown };
  XMLValidator: { validate(xml: string): true | { err: { code: string; msg: string; line: number } } };
}

async function loadParser(): Promise<Fxp> {
  const name = 'fast-xml-parser';
  try {
    return (await import(name)) as Fxp;
  } catch (err) {
    throw new Error(`this test needs the devDependency fast-xml-parser (npm install --save-dev fast-xml-parser): ${(err as Error).message}`);
  }
}

interface XFailure {
  '#text'?: string;
  '@_message': string;
  '@_type': string;
}
interface XCase {
  '@_classname': string;
  '@_name': string;
  failure?: XFailure[];
  'system-out'?: string;
}
interface XSuite {
  '@_name': string;
  '@_tests': string;
  '@_failures': string;
  properties: { property: { '@_name': string; '@_value': string }[] };
  testcase: XCase[];
}
interface XDoc {
  testsuites: { '@_tests': string; '@_failures': string; testsuite: XSuite[] };
}

let dir: string;
let fx: CheckFixtures;
let fxp: Fxp;

beforeAll(async () => {
  fxp = await loadParser();
  dir = await mkdtemp(join(tmpdir(), 'avbench-junit-test-'));
  fx = await makeFixtures(dir);
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function junitOf(results: string, baseline: string): Promise<{ xml: string; doc: XDoc; failing: number }> {
  const file = join(dir, `junit-${Math.random().toString(36).slice(2)}.xml`);
  const r = await runCheck({ results, baseline, junit: file, env: {}, out: () => undefined, err: () => undefined });
  const xml = await readFile(file, 'utf8');
  expect(fxp.XMLValidator.validate(xml)).toBe(true);
  const parser = new fxp.XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    parseAttributeValue: false,
    isArray: (tag: string) => ['testsuite', 'testcase', 'failure', 'property'].includes(tag),
  });
  const doc = parser.parse(xml) as XDoc;
  const failing = new Set(regressions(r.report!).map(({ c }) => c)).size;
  return { xml, doc, failing };
}

function failures(doc: XDoc): XCase[] {
  return doc.testsuites.testsuite.flatMap((s) => s.testcase).filter((c) => (c.failure ?? []).length > 0);
}

describe('JUnit XML of avbench check', () => {
  it('identical runs: every testcase passes; one testcase per category and (all)', async () => {
    const { doc } = await junitOf(fx.fullAgain, fx.full);
    expect(doc.testsuites['@_failures']).toBe('0');
    const suites = doc.testsuites.testsuite;
    expect(suites.map((s) => s['@_name'])).toEqual(['avbench.embedded.direct']);
    const names = suites[0]!.testcase.map((c) => c['@_name']).sort();
    const cats = Object.keys(fx.results.full.runs[0]!.detection.byCategory);
    expect(names).toEqual(['(all)', ...cats].sort());
    expect(failures(doc)).toHaveLength(0);
    const props = Object.fromEntries(suites[0]!.properties.property.map((p) => [p['@_name'], p['@_value']]));
    expect(props['host.cpuModel']).toBe(fx.results.full.host.cpuModel);
    expect(props['corpus.path']).toBe(fx.results.full.corpus.path);
    expect(props['avbench.baseline.kind']).toBe('results');
  });

  it('one signature fewer: the failures are (all) and the missed messages\' categories, naming them', async () => {
    const { doc, failing } = await junitOf(fx.reduced, fx.full);
    const missed = changed(fx.results.full, fx.results.reduced, 'infected', 'infected', 'clean');
    const byFile = new Map(fx.results.full.runs[0]!.results.map((r) => [r.file, r]));
    const cats = new Set(missed.map((f) => byFile.get(f)!.category!));
    const bad = failures(doc);
    expect(bad.map((c) => c['@_name']).sort()).toEqual(['(all)', ...cats].sort());
    expect(bad).toHaveLength(failing);
    expect(doc.testsuites['@_failures']).toBe(String(cats.size + 1));
    expect(doc.testsuites.testsuite[0]!['@_failures']).toBe(String(cats.size + 1));
    for (const c of bad) {
      expect(c['@_classname']).toBe('avbench.embedded.direct');
      const f = c.failure![0]!;
      expect(f['@_type']).toBe('detection');
      expect(f['@_message']).toMatch(/^embedded\/direct .*: detection rate /);
      for (const file of missed.filter((m) => c['@_name'] === '(all)' || byFile.get(m)!.category === c['@_name'])) expect(f['#text']).toContain(file);
    }
  });

  it('a clean message flagged: the failures are (all) and its category', async () => {
    const { doc } = await junitOf(fx.flagging, fx.full);
    const cat = fx.results.full.runs[0]!.results.find((r) => r.file === fx.flaggedFile)!.category!;
    const bad = failures(doc);
    expect(bad.map((c) => c['@_name']).sort()).toEqual(['(all)', cat].sort());
    for (const c of bad) {
      expect(c.failure![0]!['@_type']).toBe('false-positives');
      expect(c.failure![0]!['#text']).toContain(fx.flaggedFile);
    }
  });

  it('hostile file names, categories and scanner names keep the document well-formed and come back as written', async () => {
    const hostileFile = 'evil <"&\'>]]>\u001b[31m red &amp; <!-- x --> .eml';
    const nulFile = 'nul\u0000 and \u0007bell\uffff.eml';
    const hostileCat = '<script>"cat"&\'</script>]]>';
    const hostileScanner = 'scan"ner<&>';
    const rename = (doc: Results): Results => {
      const d = structuredClone(doc);
      const run = d.runs[0]!;
      run.scanner.name = hostileScanner;
      const missed = changed(fx.results.full, fx.results.reduced, 'infected', 'infected', 'clean');
      for (const r of run.results) {
        if (r.file === missed[0]) {
          r.file = hostileFile;
          r.category = hostileCat;
        } else if (r.file === missed[1] || (missed.length === 1 && r.file === fx.flaggedFile)) r.file = nulFile;
      }
      run.detection = computeDetection(run.results);
      return d;
    };
    const base = join(dir, 'hostile-base.json');
    const cur = join(dir, 'hostile-cur.json');
    await writeFile(base, JSON.stringify(rename(fx.results.full)));
    await writeFile(cur, JSON.stringify(rename(fx.results.reduced)));
    const { xml, doc } = await junitOf(cur, base);
    expect(xml).not.toContain('\u0000');
    expect(xml).not.toContain('\u001b');
    const suite = doc.testsuites.testsuite[0]!;
    expect(suite['@_name']).toBe(`avbench.${hostileScanner}.direct`);
    const bad = failures(doc);
    // (all), the hostile category, and the categories of the other messages the reduced database misses.
    const missedFiles = new Set(changed(fx.results.full, fx.results.reduced, 'infected', 'infected', 'clean').slice(1));
    const otherCats = new Set(fx.results.reduced.runs[0]!.results.filter((r) => missedFiles.has(r.file)).map((r) => r.category ?? '(none)'));
    const names = bad.map((c) => c['@_name'] as string);
    expect(names).toContain('(all)');
    expect(names).toContain(hostileCat);
    for (const n of names) if (n !== '(all)' && n !== hostileCat) expect(otherCats.has(n), n).toBe(true);
    for (const c of bad.filter((x) => x['@_name'] === '(all)' || x['@_name'] === hostileCat)) {
      expect(c['@_classname']).toBe(`avbench.${hostileScanner}.direct`);
      // Control characters come back as visible \xNN text; everything else as written.
      expect(c.failure![0]!['#text']).toContain('evil <"&\'>]]>\\x1b[31m red &amp; <!-- x --> .eml');
    }
  });

  it('escapes text and attributes (the helpers on their own)', () => {
    expect(xmlText('a<b>&c]]>')).toBe('a&lt;b&gt;&amp;c]]&gt;');
    expect(xmlAttr('"x"\n\'y\'\t<')).toBe('&quot;x&quot;&#10;&apos;y&apos;&#9;&lt;');
    expect(xmlText('\u0000\ud800x\ufffe')).toBe('\\x00\\ud800x\\ufffe');
    expect(xmlText('😀')).toBe('😀');
  });
});
