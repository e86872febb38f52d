/**
 * Results in input order; at most `limit` calls in flight. On a failure no call starts after it,
 * and the calls in flight settle before it is thrown: a caller that hears of the failure knows that
 * nothing it started is still writing (a write-out that failed half-way, then rolled forward by the
 * same process, must not meet its own old items landing late over the new ones).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        out[index] = await fn(items[index] as T);
      } catch (error) {
        failure ??= { error };
      }
    }
  });
  await Promise.all(workers);
  if (failure !== undefined) throw failure.error;
  return out;
}
