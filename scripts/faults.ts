/**
 * Print the fault table of the last fault-suite run (`npm run test:faults` writes
 * out/faults.json and out/faults.md) and check it: exit 0 when every row shows lost = 0 and
 * adds up (delivered + rejected + tempfailed + lost = sent), 1 when a row does not, 2 when
 * there is no table yet.
 *
 *   node dist/scripts/faults.js [--file out/faults.json] [--markdown]
 */
import { readFile } from 'node:fs/promises';
import Table from 'cli-table3';
import { parseOptions } from './lib/args.js';

interface Row {
  fault: string;
  sent: number;
  delivered: number;
  rejected: number;
  tempfailed: number;
  lost: number;
  note: string;
}

async function main(): Promise<number> {
  let file: string;
  let markdown: boolean;
  try {
    ({ file, markdown } = parseOptions('faults', process.argv.slice(2), { file: { type: 'string', default: 'out/faults.json' }, markdown: { type: 'boolean', default: false } }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  let doc: { when: string; rows: Row[] };
  try {
    doc = JSON.parse(await readFile(file, 'utf8')) as { when: string; rows: Row[] };
  } catch (err) {
    process.stderr.write(`faults: no fault table at ${file} (${(err as Error).message}); run \`npm run test:faults\` first\n`);
    return 2;
  }
  if (markdown) {
    process.stdout.write(await readFile(file.replace(/\.json$/, '.md'), 'utf8'));
  } else {
    const t = new Table({ head: ['fault', 'sent', 'delivered', 'rejected', 'tempfailed', 'lost'], wordWrap: true, colWidths: [60, 8, 11, 10, 12, 6], style: { head: [], border: [] } });
    for (const r of doc.rows) t.push([r.fault, r.sent, r.delivered, r.rejected, r.tempfailed, r.lost]);
    process.stdout.write(`Fault suite, ${doc.when}\n${t.toString()}\n`);
  }
  const bad = doc.rows.filter((r) => r.lost !== 0 || r.delivered + r.rejected + r.tempfailed + r.lost !== r.sent);
  const total = doc.rows.reduce((n, r) => n + r.sent, 0);
  process.stdout.write(bad.length === 0 ? `${doc.rows.length} faults, ${total} messages, lost 0\n` : `FAILED: ${bad.map((r) => r.fault).join('; ')}\n`);
  return bad.length === 0 && doc.rows.length > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`faults: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
