/**
 * Writing results.json without building one huge string: the document is written piece
 * by piece (each run's header, then its per-message records one per line), so a
 * 10,000-message bench across many runs stays small in memory. The output is ordinary
 * JSON, equal to JSON.parse-able `JSON.stringify(results)` content.
 */
import { open, rename, rm } from 'node:fs/promises';
import type { Results, Run } from '../results/types.js';

/** Write `results` to `file` (via a temp file renamed into place, mode 0644). */
export async function writeResultsFile(file: string, results: Results): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    let buf: string[] = [];
    let size = 0;
    const put = async (s: string): Promise<void> => {
      buf.push(s);
      size += s.length;
      if (size >= 1 << 20) await flush();
    };
    const flush = async (): Promise<void> => {
      if (buf.length === 0) return;
      await fh.write(buf.join(''));
      buf = [];
      size = 0;
    };
    const { runs, ...top } = results;
    const head = JSON.stringify(top, null, 2);
    await put(`${head.slice(0, -2)},\n  "runs": [`);
    for (const [i, run] of runs.entries()) {
      await put(i === 0 ? '\n' : ',\n');
      await writeRun(run, put);
    }
    await put(runs.length === 0 ? ']\n}\n' : '\n  ]\n}\n');
    await flush();
    await fh.close();
    await rename(tmp, file);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}

async function writeRun(run: Run, put: (s: string) => Promise<void>): Promise<void> {
  const { results, ...rest } = run;
  const head = JSON.stringify(rest, null, 2).replace(/\n/g, '\n    ');
  await put(`    ${head.slice(0, -1).trimEnd()},\n      "results": [`);
  for (const [i, r] of results.entries()) await put(`${i === 0 ? '\n' : ',\n'}        ${JSON.stringify(r)}`);
  await put(results.length === 0 ? ']\n    }' : '\n      ]\n    }');
}
