/**
 * scripts/lib/run.ts: a part of a bench stops only what it started (stopSince), and a script
 * imported by another does not run its main (isEntryScript).
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isEntryScript, stopSince, type Stops } from '../../scripts/lib/run.js';

describe('stopSince', () => {
  it('stops what was pushed after the mark, the last first, and leaves the rest on the list', async () => {
    const stopped: string[] = [];
    const stop = (name: string) => async (): Promise<void> => {
      stopped.push(name);
    };
    const stops: Stops = [stop('clamd'), stop('sink')];
    const mark = stops.length;
    stops.push(stop('haraka'), async () => {
      stopped.push('proxy');
      throw new Error('already gone');
    }, stop('exim'));
    await stopSince(stops, mark);
    expect(stopped).toEqual(['exim', 'proxy', 'haraka']);
    expect(stops).toHaveLength(2);
  });
});

describe('isEntryScript', () => {
  it('is true only for the script node was started with', () => {
    const entry = process.argv[1];
    if (entry !== undefined && existsSync(entry)) expect(isEntryScript(pathToFileURL(entry).href)).toBe(true);
    expect(isEntryScript(import.meta.url)).toBe(false);
    expect(isEntryScript('file:///no/such/script.js')).toBe(false);
  });
});
