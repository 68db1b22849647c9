/**
 * `avbench scan`'s summary table is drawn by plainTable (src/cli/commands/scan.ts) when every
 * cell is printable ASCII: it must be cli-table3's drawing, byte for byte, for any such table.
 */
import Table from 'cli-table3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainTable } from '../../src/cli/commands/scan.js';

function cliTable3(head: string[], rows: string[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) t.push(r);
  return t.toString();
}

describe('plainTable', () => {
  it('draws what cli-table3 draws for printable ASCII cells', () => {
    const cell = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 14 });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }).chain((n) => fc.tuple(fc.array(cell, { minLength: n, maxLength: n }), fc.array(fc.array(cell, { minLength: n, maxLength: n }), { maxLength: 6 }))),
        ([head, rows]) => {
          expect(plainTable(head, rows)).toBe(cliTable3(head, rows));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('draws the scan summary as cli-table3 did', () => {
    const head = ['scanner', 'category', 'messages', 'detected', 'missed', 'false pos.', 'errors'];
    const rows = [
      ['clamd', 'base64', '80', '80/80', '0', '0/0', '0'],
      ['clamd', 'ALL', '2137', '903/1000', '97', '0/1137', '0'],
    ];
    expect(plainTable(head, rows)).toBe(cliTable3(head, rows));
  });

  it('leaves other characters to cli-table3', () => {
    expect(plainTable(['a'], [['é']])).toBeUndefined();
    expect(plainTable(['a'], [['x\ny']])).toBeUndefined();
    expect(plainTable(['a'], [['\t']])).toBeUndefined();
    expect(plainTable(['a', 'b'], [['x']])).toBeUndefined();
  });
});
