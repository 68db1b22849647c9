/**
 * Run async work over a stream of items with bounded concurrency, handing results back
 * in input order (so output stays deterministic) without holding the whole input.
 */
export async function* orderedPool<T, R>(items: AsyncIterable<T> | Iterable<T>, concurrency: number, work: (item: T) => Promise<R>): AsyncGenerator<R> {
  const limit = Math.max(1, Math.floor(concurrency));
  const inFlight: Promise<R>[] = [];
  for await (const item of items) {
    inFlight.push(work(item));
    if (inFlight.length >= limit) yield await (inFlight.shift() as Promise<R>);
  }
  while (inFlight.length > 0) yield await (inFlight.shift() as Promise<R>);
}
