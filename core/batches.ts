/**
 * Work in groups: DynamoDB takes at most 100 items in one TransactWriteItems and 100 keys in one
 * BatchGetItem, and the stores and maintenance runs write and read in groups of that size.
 */

/** Items per TransactWriteItems / keys per BatchGetItem (DynamoDB's limit). */
export const BATCH_LIMIT = 100;

/** `items` in consecutive groups of at most `size` (default {@link BATCH_LIMIT}), in order. */
export function groupsOf<T>(items: readonly T[], size = BATCH_LIMIT): T[][] {
  if (!Number.isSafeInteger(size) || size < 1)
    throw new RangeError(`group size ${size} is not an integer ≥ 1`);
  const out: T[][] = [];
  for (let at = 0; at < items.length; at += size) out.push(items.slice(at, at + size));
  return out;
}
