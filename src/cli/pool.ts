/**
 * Run async work over a stream of items with bounded concurrency, handing results back
 * in input order (so output stays deterministic) without holding the whole input.
 */

interface Slot<R> {
  promise: Promise<R>;
  settled: boolean;
}

/**
 * `work` runs on at most `concurrency` items at once; results come out in input order.
 * A slow item does not stall the others: while it runs, later items keep starting as
 * earlier ones finish (their results wait, in order, behind it), up to `window` items
 * started and not yet handed back (default 4 × concurrency), which bounds the memory held.
 * A rejected `work` is rethrown at its place in the order.
 */
export async function* orderedPool<T, R>(
  items: AsyncIterable<T> | Iterable<T>,
  concurrency: number,
  work: (item: T) => Promise<R>,
  window?: number,
): AsyncGenerator<R> {
  const limit = Math.max(1, Math.floor(concurrency));
  const most = Math.max(limit, Math.floor(window ?? limit * 4));
  const source: AsyncIterator<T> | Iterator<T> = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  const started: Slot<R>[] = [];
  let running = 0;
  let exhausted = false;
  let wake: (() => void) | undefined;

  const fill = async (): Promise<void> => {
    while (!exhausted && running < limit && started.length < most) {
      const next = await source.next();
      if (next.done === true) {
        exhausted = true;
        return;
      }
      running += 1;
      const slot: Slot<R> = { promise: work(next.value), settled: false };
      const settle = (): void => {
        slot.settled = true;
        running -= 1;
        wake?.();
      };
      slot.promise.then(settle, settle);
      started.push(slot);
    }
  };

  for (;;) {
    await fill();
    const head = started[0];
    if (head === undefined) return;
    if (!head.settled) {
      // Wait for the head, or for any other item to finish (then start the next one).
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
    while (started.length > 0 && (started[0] as Slot<R>).settled) yield await (started.shift() as Slot<R>).promise;
  }
}
