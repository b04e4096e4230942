/**
 * The reference MetadataStore: DynamoDB's semantics in memory. For unit tests of pure core logic
 * and as the model the other adapters are held to by the conformance suite — never what a user
 * gets by default (that is SQLite locally, DynamoDB in the cloud).
 */
import { strataError } from "../errors.ts";
import {
  CheckedMetadataStore,
  type DriverPage,
  type DriverQuery,
  decodeCursor,
  encodeCursor,
  type MetadataDriver,
} from "./checked.ts";
import {
  type CancellationReason,
  type Condition,
  IDEMPOTENCY_WINDOW_MS,
  type Item,
  type Key,
  LIMITS,
  type QueryOptions,
  type QueryPage,
  type TransactOp,
  type Update,
} from "./port.ts";
import {
  applyUpdate,
  cloneItem,
  compareUtf8,
  evaluateCondition,
  itemSize,
  matchesSortKey,
  tokenMismatch,
  transactFingerprint,
  validateItem,
} from "./values.ts";

/**
 * Select one page from items already in ascending UTF-8 sort-key order, resuming after
 * `query.after`: stop at `limit` items, or before the next item once the page holds
 * ≥ LIMITS.queryPageBytes by `itemSize` (DynamoDB's 1 MB pages). Items are copied.
 */
export function pageAfter(sortedItems: Item[], query: DriverQuery): DriverPage {
  const { after, reverse } = query;
  const ordered = reverse ? [...sortedItems].reverse() : sortedItems;
  const items: Item[] = [];
  let bytes = 0;
  let more = false;
  for (const item of ordered) {
    if (!matchesSortKey(item.sk, query.sk)) continue;
    if (after !== undefined) {
      const c = compareUtf8(item.sk, after);
      if (reverse ? c >= 0 : c <= 0) continue;
    }
    if (
      items.length === (query.limit ?? Number.POSITIVE_INFINITY) ||
      (items.length > 0 && bytes >= LIMITS.queryPageBytes)
    ) {
      more = true;
      break;
    }
    items.push(cloneItem(item));
    bytes += itemSize(item);
  }
  const last = items[items.length - 1];
  return more && last ? { items, last: last.sk } : { items };
}

/**
 * {@link pageAfter} with the port's options and cursors: the reference paging, checked on its own
 * by test/unit/metadata-values.test.ts.
 */
export function pageOf(sortedItems: Item[], options: QueryOptions): QueryPage {
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1))
    throw strataError("EINVAL", `query limit must be a positive integer; got ${options.limit}`);
  const query: DriverQuery = { reverse: options.reverse === true };
  if (options.sk !== undefined) query.sk = options.sk;
  if (options.limit !== undefined) query.limit = options.limit;
  if (options.cursor !== undefined) query.after = decodeCursor(options.cursor);
  const page = pageAfter(sortedItems, query);
  return page.last === undefined
    ? { items: page.items }
    : { items: page.items, cursor: encodeCursor(page.last) };
}

export interface MemoryMetadataStoreOptions {
  /** Wall clock in ms for the token window (default Date.now). */
  clock?: () => number;
}

/** DynamoDB's semantics over maps; every item in or out is a copy, so callers share nothing. */
export class MemoryMetadataDriver implements MetadataDriver {
  readonly kind = "memory";
  private readonly partitions = new Map<string, Map<string, Item>>();
  /** Tokens of successful transactions: fingerprint of their ops and when they are forgotten. */
  private readonly tokens = new Map<string, { fingerprint: string; until: number }>();
  private readonly clock: () => number;

  constructor(options: MemoryMetadataStoreOptions = {}) {
    this.clock = options.clock ?? Date.now;
  }

  private read(key: Key): Item | undefined {
    return this.partitions.get(key.pk)?.get(key.sk);
  }

  private copy(key: Key): Item | undefined {
    const item = this.read(key);
    return item && cloneItem(item);
  }

  private write(item: Item): void {
    let partition = this.partitions.get(item.pk);
    if (!partition) {
      partition = new Map();
      this.partitions.set(item.pk, partition);
    }
    partition.set(item.sk, cloneItem(item));
  }

  private remove(key: Key): void {
    const partition = this.partitions.get(key.pk);
    partition?.delete(key.sk);
    if (partition?.size === 0) this.partitions.delete(key.pk);
  }

  private check(key: Key, condition: Condition | undefined): void {
    if (!condition) return;
    const current = this.read(key);
    if (!evaluateCondition(current, condition))
      throw strataError("ECONFLICT", `condition failed on ${key.pk} / ${key.sk}`, {
        item: current && cloneItem(current),
        key,
      });
  }

  get(key: Key): Item | undefined {
    return this.copy(key);
  }

  put(item: Item, condition: Condition | undefined): void {
    this.check(item, condition);
    this.write(item);
  }

  update(key: Key, update: Update, condition: Condition | undefined): Item {
    this.check(key, condition);
    const next = applyUpdate(key, this.read(key), update);
    validateItem(next);
    this.write(next);
    return cloneItem(next);
  }

  delete(key: Key, condition: Condition | undefined): void {
    this.check(key, condition);
    this.remove(key);
  }

  transact(ops: TransactOp[], token: string | undefined): void {
    const now = this.clock();
    const fingerprint = token === undefined ? "" : transactFingerprint(ops);
    if (token !== undefined) {
      const seen = this.tokens.get(token);
      if (seen && seen.until > now) {
        if (seen.fingerprint !== fingerprint) throw tokenMismatch(token);
        return; // already applied: succeed without applying again
      }
    }
    const reasons: Array<CancellationReason | null> = ops.map((op) => {
      const key = op.kind === "put" ? op.item : op.key;
      const current = this.read(key);
      if (!op.condition || evaluateCondition(current, op.condition)) return null;
      return { code: "ConditionalCheckFailed", ...(current ? { item: cloneItem(current) } : {}) };
    });
    const failedIndex = reasons.findIndex((r) => r !== null);
    if (failedIndex >= 0)
      throw strataError("ECONFLICT", `transaction cancelled: condition of op ${failedIndex} failed`, {
        reasons,
        failedIndex,
      });
    // Compute every result first so a failing update (e.g. ADD to a string) changes nothing.
    const results = ops.map((op) => {
      if (op.kind === "update") {
        const next = applyUpdate(op.key, this.read(op.key), op.update);
        validateItem(next);
        return next;
      }
      return undefined;
    });
    ops.forEach((op, i) => {
      if (op.kind === "put") this.write(op.item);
      else if (op.kind === "update") this.write(results[i]!);
      else if (op.kind === "delete") this.remove(op.key);
    });
    if (token !== undefined) {
      // Insertion order is expiry order (a steady clock): drop the expired ones from the front.
      for (const [t, seen] of this.tokens) {
        if (seen.until > now) break;
        this.tokens.delete(t);
      }
      this.tokens.delete(token);
      this.tokens.set(token, { fingerprint, until: now + IDEMPOTENCY_WINDOW_MS });
    }
  }

  transactGet(keys: Key[]): Array<Item | undefined> {
    return keys.map((key) => this.copy(key));
  }

  batchGet(keys: Key[]): Array<Item | undefined> {
    return keys.map((key) => this.copy(key));
  }

  query(pk: string, query: DriverQuery): DriverPage {
    const partition = this.partitions.get(pk);
    if (!partition) return { items: [] };
    const sorted = [...partition.values()].sort((a, b) => compareUtf8(a.sk, b.sk));
    return pageAfter(sorted, query);
  }

  close(): void {}
}

/**
 * The reference store: {@link MemoryMetadataDriver} in the checked wrapper
 * (core/metadata/checked.ts), as every adapter is.
 */
export class MemoryMetadataStore extends CheckedMetadataStore {
  constructor(options: MemoryMetadataStoreOptions = {}) {
    super(new MemoryMetadataDriver(options));
  }
}
