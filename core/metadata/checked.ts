/**
 * `CheckedMetadataStore`: the one wrapper every MetadataStore adapter sits in, so no adapter
 * repeats what the port promises (core/metadata/port.ts):
 * - input validation against the port's limits before any request (keys, items, updates,
 *   conditions, transactions and their tokens, batch and transactional gets, queries): EINVAL /
 *   E2BIG with nothing sent and nothing counted;
 * - request counting in DynamoDB's units (one per call, a batchGet one per 100 keys), or by the
 *   driver itself when it sees each attempt on the wire;
 * - the query cursor codec: drivers page by "after this sort key" and never see a cursor.
 *
 * A {@link MetadataDriver} only translates: it receives checked input and evaluates conditions
 * and updates (or lets its backend do so) with DynamoDB's semantics (core/metadata/values.ts).
 * Drivers may answer synchronously (SQLite, memory): the wrapper then adds no promise of its own.
 */
import { strataError } from "../errors.ts";
import {
  type Condition,
  emptyRequestCounts,
  type Item,
  type Key,
  LIMITS,
  type MetadataStore,
  type QueryOptions,
  type QueryPage,
  type RequestCounts,
  type RequestKind,
  type SortKeyCondition,
  type TransactOp,
  type TransactOptions,
  type Update,
} from "./port.ts";
import {
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

type Answer<T> = T | Promise<T>;

/** A query as a driver sees it: the cursor already decoded into the sort key to resume after. */
export interface DriverQuery {
  sk?: SortKeyCondition;
  reverse: boolean;
  /** A positive integer when present. */
  limit?: number;
  /** Resume strictly after this sort key (in the query's direction). */
  after?: string;
}

/** A driver's page: `last` is the sort key to resume after when more items may follow. */
export interface DriverPage {
  items: Item[];
  last?: string;
}

/**
 * What an adapter implements: the MetadataStore operations on input that
 * {@link CheckedMetadataStore} has already validated, with the port's semantics for everything
 * that depends on the stored data (conditions, updates, item size after an update, idempotency
 * tokens, paging at LIMITS.queryPageBytes). Failures are StrataErrors with the port's codes.
 */
export interface MetadataDriver {
  readonly kind: string;
  get(key: Key): Answer<Item | undefined>;
  put(item: Item, condition: Condition | undefined): Answer<void>;
  update(key: Key, update: Update, condition: Condition | undefined): Answer<Item>;
  delete(key: Key, condition: Condition | undefined): Answer<void>;
  transact(ops: TransactOp[], token: string | undefined): Answer<void>;
  transactGet(keys: Key[]): Answer<Array<Item | undefined>>;
  /** Any number of keys (repeats allowed), answered in the order asked. */
  batchGet(keys: Key[]): Answer<Array<Item | undefined>>;
  query(pk: string, query: DriverQuery): Answer<DriverPage>;
  close(): Answer<void>;
  /**
   * Implemented by drivers that count requests themselves — every attempt that goes on the wire,
   * SDK retries included (DynamoDB). Without it the wrapper counts one request per call.
   */
  countRequestsWith?(count: (kind: RequestKind, n?: number) => void): void;
}

// The cursor codec: base64 of the UTF-8 JSON `{"sk": …}`.
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const NON_ASCII = /[\u0080-\uffff]/;

/** The cursor that resumes a query after sort key `sk`. */
export function encodeCursor(sk: string): string {
  const json = JSON.stringify({ sk });
  // btoa takes Latin-1: ASCII text is its own UTF-8 (the common case, no byte copy).
  if (!NON_ASCII.test(json)) return btoa(json);
  let binary = "";
  for (const byte of utf8.encode(json)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The sort key a cursor from {@link encodeCursor} resumes after; EINVAL for any other text. */
export function decodeCursor(cursor: string): string {
  try {
    const binary = atob(cursor);
    const json = NON_ASCII.test(binary)
      ? utf8Decoder.decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))
      : binary;
    const parsed = JSON.parse(json) as { sk?: unknown };
    if (typeof parsed.sk === "string" && parsed.sk.length > 0) return parsed.sk;
  } catch {
    // fall through
  }
  throw strataError("EINVAL", "query cursor is not one this store produced", { cursor });
}

function withCursor(page: DriverPage): QueryPage {
  return page.last === undefined
    ? { items: page.items }
    : { items: page.items, cursor: encodeCursor(page.last) };
}

/** Wraps a driver with validation, request counting and the cursor codec (see the file comment). */
export class CheckedMetadataStore implements MetadataStore {
  readonly kind: string;
  private counts = emptyRequestCounts();
  /** False when the driver counts its own requests. */
  private readonly countsPerCall: boolean;

  constructor(protected readonly driver: MetadataDriver) {
    this.kind = driver.kind;
    this.countsPerCall = driver.countRequestsWith === undefined;
    driver.countRequestsWith?.((kind, n = 1) => {
      this.counts[kind] += n;
    });
  }

  private count(kind: RequestKind, n = 1): void {
    if (this.countsPerCall) this.counts[kind] += n;
  }

  async get(key: Key): Promise<Item | undefined> {
    validateKey(key);
    this.count("GetItem");
    return this.driver.get(key);
  }

  async put(item: Item, options: { condition?: Condition } = {}): Promise<void> {
    validateItem(item);
    if (options.condition) validateCondition(options.condition);
    this.count("PutItem");
    return this.driver.put(item, options.condition);
  }

  async update(key: Key, update: Update, options: { condition?: Condition } = {}): Promise<Item> {
    validateKey(key);
    validateUpdate(update);
    if (options.condition) validateCondition(options.condition);
    this.count("UpdateItem");
    return this.driver.update(key, update, options.condition);
  }

  async delete(key: Key, options: { condition?: Condition } = {}): Promise<void> {
    validateKey(key);
    if (options.condition) validateCondition(options.condition);
    this.count("DeleteItem");
    return this.driver.delete(key, options.condition);
  }

  async transact(ops: TransactOp[], options: TransactOptions = {}): Promise<void> {
    validateTransaction(ops);
    validateToken(options.token);
    this.count("TransactWriteItems");
    return this.driver.transact(ops, options.token);
  }

  async transactGet(keys: Key[]): Promise<Array<Item | undefined>> {
    validateTransactGet(keys);
    this.count("TransactGetItems");
    return this.driver.transactGet(keys);
  }

  async batchGet(keys: Key[]): Promise<Array<Item | undefined>> {
    validateBatchGet(keys);
    this.count("BatchGetItem", Math.ceil(keys.length / LIMITS.batchGetKeys));
    return this.driver.batchGet(keys);
  }

  async query(pk: string, options: QueryOptions = {}): Promise<QueryPage> {
    validateQuery(pk, options);
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
    this.count("Query");
    const query: DriverQuery = { reverse: options.reverse === true };
    if (options.sk !== undefined) query.sk = options.sk;
    if (options.limit !== undefined) query.limit = options.limit;
    if (after !== undefined) query.after = after;
    const page = this.driver.query(pk, query);
    return page instanceof Promise ? page.then(withCursor) : withCursor(page);
  }

  requestCounts(): RequestCounts {
    return { ...this.counts };
  }

  resetRequestCounts(): void {
    this.counts = emptyRequestCounts();
  }

  async close(): Promise<void> {
    return this.driver.close();
  }
}
