/**
 * Read a stream to its end, after `chunks` already read (plain listeners: a stream's async
 * iterator costs more to set up). `avbench scan -` and `avbench deliver` read stdin with it.
 */
export function readStream(stream: NodeJS.ReadableStream, chunks: Buffer[] = []): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    stream.on('data', (c: Buffer | string) => chunks.push(typeof c === 'string' ? Buffer.from(c) : c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}
