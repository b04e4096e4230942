/**
 * The reference MetadataStore: DynamoDB's semantics in memory. For unit tests of pure core logic
 * and as the model the other adapters are held to by the conformance suite — never what a user
 * gets by default (that is SQLite locally, DynamoDB in the cloud).
 */
import { strataError } from "../errors.ts";
import {
  type CancellationReason,
  type Condition,
  emptyRequestCounts,
  IDEMPOTENCY_WINDOW_MS,
  type Item,
  type Key,
  LIMITS,
  type MetadataStore,
  type QueryOptions,
  type QueryPage,
  type RequestCounts,
  type RequestKind,
  type TransactOp,
  type TransactOptions,
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
  validateBatchGet,
  validateCondition,
  validateItem,
  validateKey,
  validateQuery,
  validateToken,
  validateTransactGet,
  validateTransaction,
  validateUpdate,
} from "./values.ts";

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeCursor(sk: string): string {
  let binary = "";
  for (const byte of utf8.encode(JSON.stringify({ sk }))) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function decodeCursor(cursor: string): string {
  try {
    const bytes = Uint8Array.from(atob(cursor), (c) => c.charCodeAt(0));
    const parsed = JSON.parse(utf8Decoder.decode(bytes)) as { sk?: unknown };
    if (typeof parsed.sk === "string" && parsed.sk.length > 0) return parsed.sk;
  } catch {
    // fall through
  }
  throw strataError("EINVAL", "query cursor is not one this store produced", { cursor });
}

/**
 * Select one query page from sort keys already in ascending UTF-8 order. Shared by the stores
 * that evaluate queries themselves, so paging (limit, 1 MB pages, cursors) behaves identically.
 */
export function pageOf(sortedItems: Item[], options: QueryOptions): QueryPage {
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1))
    throw strataError("EINVAL", `query limit must be a positive integer; got ${options.limit}`);
  const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
  const ordered = options.reverse ? [...sortedItems].reverse() : sortedItems;
  const items: Item[] = [];
  let bytes = 0;
  let more = false;
  for (const item of ordered) {
    if (!matchesSortKey(item.sk, options.sk)) continue;
    if (after !== undefined) {
      const c = compareUtf8(item.sk, after);
      if (options.reverse ? c >= 0 : c <= 0) continue;
    }
    if (
      items.length === (options.limit ?? Number.POSITIVE_INFINITY) ||
      (items.length > 0 && bytes >= LIMITS.queryPageBytes)
    ) {
      more = true;
      break;
    }
    items.push(cloneItem(item));
    bytes += itemSize(item);
  }
  const last = items[items.length - 1];
  return more && last ? { items, cursor: encodeCursor(last.sk) } : { items };
}

export interface MemoryMetadataStoreOptions {
  /** Wall clock in ms for the token window (default Date.now). */
  clock?: () => number;
}

export class MemoryMetadataStore implements MetadataStore {
  readonly kind = "memory";
  private readonly partitions = new Map<string, Map<string, Item>>();
  private counts = emptyRequestCounts();
  /** Tokens of successful transactions: fingerprint of their ops and when they are forgotten. */
  private readonly tokens = new Map<string, { fingerprint: string; until: number }>();
  private readonly clock: () => number;

  constructor(options: MemoryMetadataStoreOptions = {}) {
    this.clock = options.clock ?? Date.now;
  }

  private count(kind: RequestKind, n = 1): void {
    this.counts[kind] += n;
  }

  private read(key: Key): Item | undefined {
    return this.partitions.get(key.pk)?.get(key.sk);
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

  async get(key: Key): Promise<Item | undefined> {
    validateKey(key);
    this.count("GetItem");
    const item = this.read(key);
    return item && cloneItem(item);
  }

  async put(item: Item, options: { condition?: Condition } = {}): Promise<void> {
    validateItem(item);
    if (options.condition) validateCondition(options.condition);
    this.count("PutItem");
    this.check(item, options.condition);
    this.write(item);
  }

  async update(key: Key, update: Update, options: { condition?: Condition } = {}): Promise<Item> {
    validateKey(key);
    validateUpdate(update);
    if (options.condition) validateCondition(options.condition);
    this.count("UpdateItem");
    this.check(key, options.condition);
    const next = applyUpdate(key, this.read(key), update);
    validateItem(next);
    this.write(next);
    return cloneItem(next);
  }

  async delete(key: Key, options: { condition?: Condition } = {}): Promise<void> {
    validateKey(key);
    if (options.condition) validateCondition(options.condition);
    this.count("DeleteItem");
    this.check(key, options.condition);
    this.remove(key);
  }

  async transact(ops: TransactOp[], options: TransactOptions = {}): Promise<void> {
    validateTransaction(ops);
    validateToken(options.token);
    this.count("TransactWriteItems");
    const now = this.clock();
    const fingerprint = options.token === undefined ? "" : transactFingerprint(ops);
    if (options.token !== undefined) {
      const seen = this.tokens.get(options.token);
      if (seen && seen.until > now) {
        if (seen.fingerprint !== fingerprint) throw tokenMismatch(options.token);
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
    if (options.token !== undefined) {
      // Insertion order is expiry order (a steady clock): drop the expired ones from the front.
      for (const [t, seen] of this.tokens) {
        if (seen.until > now) break;
        this.tokens.delete(t);
      }
      this.tokens.delete(options.token);
      this.tokens.set(options.token, { fingerprint, until: now + IDEMPOTENCY_WINDOW_MS });
    }
  }

  async transactGet(keys: Key[]): Promise<Array<Item | undefined>> {
    validateTransactGet(keys);
    this.count("TransactGetItems");
    return keys.map((key) => {
      const item = this.read(key);
      return item && cloneItem(item);
    });
  }

  async batchGet(keys: Key[]): Promise<Array<Item | undefined>> {
    validateBatchGet(keys);
    this.count("BatchGetItem", Math.ceil(keys.length / LIMITS.batchGetKeys));
    return keys.map((key) => {
      const item = this.read(key);
      return item && cloneItem(item);
    });
  }

  async query(pk: string, options: QueryOptions = {}): Promise<QueryPage> {
    validateQuery(pk, options);
    if (options.cursor !== undefined) decodeCursor(options.cursor);
    this.count("Query");
    const partition = this.partitions.get(pk);
    if (!partition) return { items: [] };
    const sorted = [...partition.values()].sort((a, b) => compareUtf8(a.sk, b.sk));
    return pageOf(sorted, options);
  }

  requestCounts(): RequestCounts {
    return { ...this.counts };
  }

  resetRequestCounts(): void {
    this.counts = emptyRequestCounts();
  }

  async close(): Promise<void> {}
}
