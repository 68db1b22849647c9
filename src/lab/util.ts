/** Small helpers shared by the lab's daemon starters. */
import { readFile } from 'node:fs/promises';

/** Last `n` bytes of a log file ('' when it cannot be read), for error messages. */
export async function logTail(file: string, n = 2_000): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.slice(-n);
  } catch {
    return '';
  }
}

/** Sleep `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
