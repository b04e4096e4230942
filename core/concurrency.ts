/** The one bounded-concurrency helper (pure): used by the remote SDK, the CLI, the HTTP API and placement. */

/**
 * Run `fn` over `items` with at most `limit` calls in flight (a limit below 1 counts as 1);
 * results in input order. After the first failure no new call starts; the calls already running
 * are awaited, and then that first failure (the earliest in time) is thrown, so a caller that
 * retries or cleans up never races its own work.
 *
 * @example
 * const sizes = await mapLimit(paths, 8, async (p) => (await client.stat(p)).size);
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const workers = Math.min(Math.max(1, Math.floor(limit) || 1), items.length);
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure) throw failure.error;
  return results;
}
