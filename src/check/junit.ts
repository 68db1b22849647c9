/**
 * JUnit XML of a check: one `<testsuite>` per scanner × mode (`avbench.<scanner>.<mode>`),
 * one `<testcase>` per category of each checked run (`(all)` for the run as a whole), a
 * `<failure>` carrying every failed finding of the case with its figures and the messages
 * newly missed or flagged; `<properties>` say which host, corpus and baseline. Every value
 * is escaped for XML, and characters XML 1.0 cannot carry at all (NUL, most C0 controls,
 * lone surrogates) are written as visible `\xNN` / `\uXXXX` text: a hostile file name
 * cannot break the document.
 */
import { caseLabel, type CheckCase, type CheckReport, type Finding } from './findings.js';

/** Characters XML 1.0 cannot hold (even as references), plus C1 controls, as visible escapes. */
function visible(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Escape text content for XML. */
export function xmlText(value: string | number): string {
  return visible(String(value)).replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

const ATTR: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\n': '&#10;', '\r': '&#13;', '\t': '&#9;' };

/** Escape a value for a double-quoted XML attribute (line breaks and tabs kept as references). */
export function xmlAttr(value: string | number): string {
  return visible(String(value)).replace(/[&<>"'\n\r\t]/g, (c) => ATTR[c] ?? c);
}

function attrs(a: Record<string, string | number | undefined>): string {
  return Object.entries(a)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => ` ${k}="${xmlAttr(v)}"`)
    .join('');
}

/** The testsuite (class) name of a case. */
export function classname(c: CheckCase): string {
  return `avbench.${c.scanner}.${c.mode}`;
}

/** The testcase name: the category, with concurrency and SUT kind when they are not the plain ones. */
export function testcaseName(c: CheckCase): string {
  const conc = c.concurrency !== undefined && c.concurrency !== 1 ? ` @c${c.concurrency}` : '';
  const sut = c.sut !== undefined && c.sut !== 'direct' && c.sut !== 'ours' ? ` (${c.sut})` : '';
  return `${c.category}${conc}${sut}`;
}

function findingText(f: Finding): string {
  const lines = [`[${f.metric}] ${f.message}`];
  const figs = [f.baseline !== undefined ? `baseline=${f.baseline}` : '', f.actual !== undefined ? `actual=${f.actual}` : '', f.limit !== undefined ? `limit=${f.limit}` : ''].filter((s) => s !== '');
  if (figs.length > 0) lines.push(`  ${figs.join(' ')}`);
  for (const m of f.messages ?? []) lines.push(`  ${m.file}${m.category !== undefined ? ` [${m.category}]` : ''}: ${m.detail}`);
  return lines.join('\n');
}

/** The JUnit XML document of `report`. */
export function toJunitXml(report: CheckReport, timestamp = new Date().toISOString()): string {
  const suites = new Map<string, CheckCase[]>();
  for (const c of report.cases) suites.set(classname(c), [...(suites.get(classname(c)) ?? []), c]);
  const failed = (c: CheckCase): boolean => c.findings.some((f) => !f.ok);
  const total = report.cases.length;
  const failures = report.cases.filter(failed).length;
  const props: Record<string, string | number | undefined> = {
    'avbench.results': report.resultsFile,
    'avbench.baseline': report.baselineFile,
    'avbench.baseline.kind': report.baselineKind,
    'host.cpuModel': report.host.cpuModel,
    'host.cores': report.host.cores,
    'host.memoryBytes': report.host.memoryBytes,
    'host.os': report.host.os,
    'host.node': report.host.node,
    'host.hostname': report.host.hostname,
    'corpus.path': report.corpus.path,
    'corpus.messages': report.corpus.messages,
    'corpus.bytes': report.corpus.bytes,
    'corpus.manifestSha256': report.corpus.manifestSha256,
  };
  const propXml = Object.entries(props)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `      <property${attrs({ name: k, value: v })}/>`);
  for (const n of report.notes) propXml.push(`      <property${attrs({ name: 'avbench.note', value: n })}/>`);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites${attrs({ name: 'avbench check', tests: total, failures, errors: 0, timestamp })}>`];
  for (const [name, cases] of suites) {
    const first = cases[0] as CheckCase;
    out.push(`  <testsuite${attrs({ name, tests: cases.length, failures: cases.filter(failed).length, errors: 0, skipped: 0, timestamp, hostname: report.host.hostname })}>`);
    out.push('    <properties>', ...propXml, `      <property${attrs({ name: 'avbench.scanner', value: first.scanner })}/>`, `      <property${attrs({ name: 'avbench.mode', value: first.mode })}/>`, '    </properties>');
    for (const c of cases) {
      const bad = c.findings.filter((f) => !f.ok);
      const good = c.findings.filter((f) => f.ok);
      out.push(`    <testcase${attrs({ classname: name, name: testcaseName(c), time: 0 })}>`);
      if (bad.length > 0) {
        const firstBad = bad[0] as Finding;
        const message = `${caseLabel(c)}: ${firstBad.message}${bad.length > 1 ? ` (and ${bad.length - 1} more)` : ''}`;
        out.push(`      <failure${attrs({ type: [...new Set(bad.map((f) => f.metric))].join(','), message })}>${xmlText(bad.map(findingText).join('\n'))}</failure>`);
      }
      const sysOut: string[] = [];
      if (c.counts !== undefined) {
        const extra = `${c.counts.lost !== undefined ? ` lost=${c.counts.lost}` : ''}${c.counts.timeouts !== undefined ? ` timeouts=${c.counts.timeouts}` : ''}`;
        sysOut.push(`tp=${c.counts.tp} fn=${c.counts.fn} fp=${c.counts.fp} tn=${c.counts.tn} errors=${c.counts.errors}${extra}`);
      }
      for (const f of good) sysOut.push(`ok ${findingText(f)}`);
      if (sysOut.length > 0) out.push(`      <system-out>${xmlText(sysOut.join('\n'))}</system-out>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
