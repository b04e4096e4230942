/**
 * The MetadataStore port: one table of items with DynamoDB's semantics, so the namespace engine
 * runs unchanged on DynamoDB (cloud), SQLite (embedded default) and the in-memory reference
 * store (unit tests).
 *
 * Semantics every adapter keeps (the conformance suite in test/conformance/metadata-store.ts
 * checks each one):
 * - An item is addressed by `pk` (partition key) + `sk` (sort key), both non-empty strings
 *   (pk ≤ 2,048 UTF-8 bytes, sk ≤ 1,024). Items hold at most {@link LIMITS.itemBytes} as sized by
 *   `itemSize` (core/metadata/values.ts); larger ones are refused with E2BIG.
 * - Sort keys order by UTF-8 bytes (= Unicode code point order), as DynamoDB orders them.
 * - Reads are strongly consistent.
 * - A failed condition throws `StrataError` `ECONFLICT` with `details.item` = the item as it is
 *   now (undefined when absent). Nothing was written.
 * - `transact` is all-or-nothing over ≤ 100 distinct items; when it is cancelled it throws
 *   ECONFLICT with `details.reasons[i]` describing each op (`null` for ops that were fine) and
 *   `details.failedIndex` the first op that failed. Two ops on one item: EINVAL before any request.
 * - `transact(ops, { token })` is idempotent per token (DynamoDB's ClientRequestToken): within
 *   {@link IDEMPOTENCY_WINDOW_MS} of a transaction that SUCCEEDED with a token, the same token with
 *   the same ops succeeds again without applying anything (it still costs 1 TransactWriteItems);
 *   with different ops it is EINVAL with `details.idempotency = "mismatch"` and nothing is
 *   applied. A cancelled transaction does not keep its token. So a caller whose reply was lost
 *   (EUNAVAIL/ETIMEDOUT after the request may have been applied) re-sends the same ops with the
 *   same token and learns the true outcome.
 * - Throttling and unavailability surface as ETHROTTLED / EUNAVAIL after the adapter's own
 *   bounded retries. Bad input (empty keys, oversize items, > 100 ops, unsupported values) is
 *   EINVAL / E2BIG before any request is sent.
 * - Every adapter counts the requests it sends, by DynamoDB request kind, so the cost of an
 *   engine operation is measurable the same way on every backend.
 */

/** Attribute values. Numbers must be finite; 64-bit ids and tids travel as strings. */
export type Value = string | number | boolean | null | Uint8Array | Value[] | { [key: string]: Value };

export interface Key {
  pk: string;
  sk: string;
}

export type Item = Key & { [attribute: string]: Value };

/** Conditions on one item. Attribute names are top-level names (no nested paths). */
export type Condition =
  | { op: "exists" }
  | { op: "notExists" }
  | { op: "attrExists"; attr: string }
  | { op: "attrNotExists"; attr: string }
  | { op: "eq" | "ne" | "lt" | "le" | "gt" | "ge"; attr: string; value: string | number | boolean }
  | { op: "and" | "or"; of: Condition[] }
  | { op: "not"; of: Condition };

/**
 * An update in DynamoDB's UpdateItem terms: SET attributes, REMOVE attributes, ADD to numbers
 * (a missing number counts as 0). Updating a missing item creates it (unless the condition says
 * otherwise). `pk`/`sk` cannot be updated.
 */
export interface Update {
  set?: Record<string, Value>;
  remove?: string[];
  add?: Record<string, number>;
}

export type TransactOp =
  | { kind: "put"; item: Item; condition?: Condition }
  | { kind: "update"; key: Key; update: Update; condition?: Condition }
  | { kind: "delete"; key: Key; condition?: Condition }
  | { kind: "check"; key: Key; condition: Condition };

/** Why a transaction op was cancelled (DynamoDB's CancellationReason, normalised). */
export interface CancellationReason {
  code: "ConditionalCheckFailed" | "TransactionConflict" | "Other";
  /** The item as it is now, for ConditionalCheckFailed. */
  item?: Item;
  message?: string;
}

/** A sort-key condition for `query` (DynamoDB's KeyConditionExpression on the sort key). */
export type SortKeyCondition =
  | { op: "eq" | "lt" | "le" | "gt" | "ge" | "beginsWith"; value: string }
  | { op: "between"; low: string; high: string };

export interface QueryOptions {
  sk?: SortKeyCondition;
  /** Descending sort-key order. */
  reverse?: boolean;
  /** Maximum items in this page (pages also stop at {@link LIMITS.queryPageBytes}). */
  limit?: number;
  /** From a previous page's `cursor`. */
  cursor?: string;
}

export interface QueryPage {
  items: Item[];
  /** Present when more items may follow; opaque. */
  cursor?: string;
}

/** Options of one transaction. */
export interface TransactOptions {
  /**
   * The idempotency token (DynamoDB's ClientRequestToken): 1..36 printable ASCII characters
   * (U+0021..U+007E). Derive it from the operation's idempotency key and keep it for every
   * re-send of the SAME ops; a re-planned transaction takes a new one.
   */
  token?: string;
}

/** How long a store remembers a successful transaction's token (DynamoDB: 10 minutes). */
export const IDEMPOTENCY_WINDOW_MS = 10 * 60 * 1000;

export type RequestKind =
  | "GetItem"
  | "PutItem"
  | "UpdateItem"
  | "DeleteItem"
  | "Query"
  | "BatchGetItem"
  | "TransactWriteItems"
  | "TransactGetItems";

export type RequestCounts = Record<RequestKind, number>;

export const LIMITS = {
  /** DynamoDB's item size limit. */
  itemBytes: 400 * 1024,
  pkBytes: 2048,
  skBytes: 1024,
  transactItems: 100,
  /** DynamoDB's aggregate limit for one transaction. */
  transactBytes: 4 * 1024 * 1024,
  /** A query page stops after this many bytes of items, as DynamoDB's does. */
  queryPageBytes: 1024 * 1024,
  /** Keys per BatchGetItem request (adapters split larger batches). */
  batchGetKeys: 100,
} as const;

export interface MetadataStore {
  /** Name for messages and benchmark tables ("dynamodb", "sqlite", "memory"). */
  readonly kind: string;

  /** One item, or undefined. Cost: 1 GetItem. */
  get(key: Key): Promise<Item | undefined>;

  /** Create or replace. Condition failed: ECONFLICT (details.item = current). Cost: 1 PutItem. */
  put(item: Item, options?: { condition?: Condition }): Promise<void>;

  /** Update (or create); returns the item after the update. Cost: 1 UpdateItem. */
  update(key: Key, update: Update, options?: { condition?: Condition }): Promise<Item>;

  /** Delete; deleting a missing item is success unless a condition says otherwise. Cost: 1 DeleteItem. */
  delete(key: Key, options?: { condition?: Condition }): Promise<void>;

  /** All-or-nothing over ≤ 100 distinct items; idempotent per `options.token`. Cost: 1 TransactWriteItems. */
  transact(ops: TransactOp[], options?: TransactOptions): Promise<void>;

  /** Snapshot-consistent read of ≤ 100 items, in order. Cost: 1 TransactGetItems. */
  transactGet(keys: Key[]): Promise<Array<Item | undefined>>;

  /** Any number of items, in the order asked. Cost: ⌈n / 100⌉ BatchGetItem (more if throttled). */
  batchGet(keys: Key[]): Promise<Array<Item | undefined>>;

  /** One page of one partition, in sort-key order. Cost: 1 Query. */
  query(pk: string, options?: QueryOptions): Promise<QueryPage>;

  /** Requests sent since creation or the last reset, by kind. */
  requestCounts(): RequestCounts;
  resetRequestCounts(): void;

  close(): Promise<void>;
}

export function emptyRequestCounts(): RequestCounts {
  return {
    GetItem: 0,
    PutItem: 0,
    UpdateItem: 0,
    DeleteItem: 0,
    Query: 0,
    BatchGetItem: 0,
    TransactWriteItems: 0,
    TransactGetItems: 0,
  };
}
