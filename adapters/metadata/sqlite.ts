/**
 * The embedded MetadataStore: DynamoDB's semantics on one SQLite file (better-sqlite3), what
 * `npm start` uses when there is no cloud. Held to the same conformance suite as DynamoDB.
 *
 * - One table `items(pk, sk, item)`, clustered on (pk, sk) (WITHOUT ROWID). SQLite's BINARY
 *   collation compares UTF-8 bytes, which is DynamoDB's sort-key order.
 * - Input is validated, requests counted and cursors coded by the checked wrapper
 *   (core/metadata/checked.ts); this file only translates.
 * - Every request is one synchronous SQLite transaction (writes take the write lock up front
 *   with BEGIN IMMEDIATE; a request that is one statement — a get, a query, an unconditional put
 *   or delete — is atomic by itself), and conditions and updates are evaluated with
 *   core/metadata/values.ts inside it — so racing writers, in this process or in several
 *   processes on one file, see conditional writes exactly as DynamoDB's.
 * - Transaction tokens (DynamoDB's ClientRequestToken) live in a second table
 *   `requests(token, fingerprint, expires)`: written in the same SQLite transaction as the items,
 *   so a token is remembered exactly when its transaction committed; expired rows are pruned.
 * - WAL with `synchronous = FULL`: an acknowledged write survives a power loss.
 * - Requests are counted in DynamoDB's units (a 250-key batchGet = 3 BatchGetItem).
 */
import { createHash } from "node:crypto";
import Database from "better-sqlite3";
import { isStrataError, StrataError, strataError } from "../../core/errors.ts";
import {
  CheckedMetadataStore,
  type DriverPage,
  type DriverQuery,
  type MetadataDriver,
} from "../../core/metadata/checked.ts";
import {
  type CancellationReason,
  type Condition,
  IDEMPOTENCY_WINDOW_MS,
  type Item,
  type Key,
  LIMITS,
  type TransactOp,
  type Update,
  type Value,
} from "../../core/metadata/port.ts";
import {
  applyUpdate,
  evaluateCondition,
  itemSize,
  tokenMismatch,
  transactFingerprint,
  validateItem,
} from "../../core/metadata/values.ts";

export interface SqliteMetadataStoreOptions {
  /** Database file (created if missing), or ":memory:" for a private in-memory database. */
  path: string;
  /** How long a request waits for another connection's write lock before ETHROTTLED (default 5 s). */
  busyTimeoutMs?: number;
  /** Wall clock in ms for the transaction-token window (default Date.now). */
  clock?: () => number;
}

// The item codec, JSON with a tagged form for bytes:
// Uint8Array → {"\u0000": base64}. A map key that starts with "\u0000" gets one more "\u0000" in
// front, so no user map can be mistaken for bytes. Numbers are finite doubles: JSON is exact.

const BYTES_TAG = "\u0000";

function encodeValue(value: Value): unknown {
  if (value instanceof Uint8Array) return { [BYTES_TAG]: Buffer.from(value).toString("base64") };
  if (Array.isArray(value)) return value.map(encodeValue);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k.startsWith(BYTES_TAG) ? BYTES_TAG + k : k] = encodeValue(v);
    return out;
  }
  return value;
}

function decodeValue(value: unknown): Value {
  if (Array.isArray(value)) return value.map(decodeValue);
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    const [first] = entries;
    if (entries.length === 1 && first && first[0] === BYTES_TAG && typeof first[1] === "string")
      return new Uint8Array(Buffer.from(first[1], "base64"));
    const out: { [key: string]: Value } = {};
    for (const [k, v] of entries) out[k.startsWith(BYTES_TAG) ? k.slice(1) : k] = decodeValue(v);
    return out;
  }
  return value as Value;
}

/** True when `value` holds bytes or a map key starting with the tag: only then is a tagged copy needed. */
function needsTags(value: Value): boolean {
  if (value === null || typeof value !== "object") return false;
  if (value instanceof Uint8Array) return true;
  if (Array.isArray(value)) {
    for (const v of value) if (needsTags(v)) return true;
    return false;
  }
  for (const k in value) if (k.charCodeAt(0) === 0 || needsTags(value[k]!)) return true;
  return false;
}

/** The stored form of an item (pk and sk live in their own columns too). */
export function encodeItem(item: Item): Buffer {
  // Most items hold neither bytes nor tagged keys: JSON.stringify them as they are (no copy).
  return Buffer.from(JSON.stringify(needsTags(item) ? encodeValue(item) : item), "utf8");
}

export function decodeItem(blob: Buffer, where: Key): Item {
  return decodeRow(blob, where.pk, where.sk);
}

function decodeRow(blob: Buffer, pk: string, sk: string): Item {
  try {
    const text = blob.toString("utf8");
    const parsed = JSON.parse(text) as Item;
    // JSON.stringify writes U+0000 as the escape \u0000: without one, there is no tag to undo.
    const item = text.includes("\\u0000") ? (decodeValue(parsed) as Item) : parsed;
    if (item.pk === pk && item.sk === sk) return item;
  } catch {
    // fall through
  }
  throw strataError(
    "ECORRUPT",
    `SQLite metadata item ${pk} / ${sk} cannot be decoded: the database file is damaged. Restore it from a backup or a mirror.`,
    { pk, sk },
  );
}

interface Row {
  pk: string;
  sk: string;
  item: Buffer;
}

/** A query row in raw (array) mode: `[sk, item]`. */
type RawRow = [string, Buffer];

/** Queries with a limit up to this read their rows with one `.all()` (at most limit + 1 rows). */
const ALL_ROWS_LIMIT = 100;

/** Sort-key operators, numbered for the statement cache's key. */
const SK_OPS: ReadonlyArray<string | undefined> = ["eq", "lt", "le", "gt", "ge", "beginsWith", "between"];

/**
 * An upper bound of `itemSize(decodeItem(blob))` for a blob written by {@link encodeItem}: twice
 * its length. Per value, DynamoDB's size is at most twice its JSON text: a string's UTF-8 bytes
 * ≤ its JSON; a number of d digits sizes ⌈d/2⌉ + 1 ≤ 2d; true/false/null size 1; bytes n ≤ their
 * tagged base64; an array of k values sizes 3 + Σ(1 + size) ≤ 2 × (2 + Σ JSON + k − 1) for
 * k ≥ 1 (and 3 ≤ 4 for k = 0); a map entry sizes 1 + name + size, its JSON name + 3 + value.
 * test/unit/metadata-sqlite-size-bound.test.ts checks it on random items.
 */
export const storedSizeBound = (blob: Uint8Array): number => 2 * blob.length;

/**
 * One query page from rows in query order, with the reference store's rules (pageOf): stop at
 * `limit` items, or before the next item once the page holds ≥ LIMITS.queryPageBytes by
 * `itemSize`. Item sizes are only computed once the stored lengths' bound says the page could
 * be that full.
 */
function pageOfRows(pk: string, rows: Iterable<RawRow>, limit: number): DriverPage {
  const items: Item[] = [];
  let bound = 0;
  /** Exact bytes of `items`, or -1 while `bound` is below the page budget. */
  let bytes = -1;
  let more = false;
  for (const [sk, blob] of rows) {
    if (items.length === limit) {
      more = true;
      break;
    }
    if (bytes < 0 && bound >= LIMITS.queryPageBytes) {
      bytes = 0;
      for (const item of items) bytes += itemSize(item);
    }
    if (items.length > 0 && bytes >= LIMITS.queryPageBytes) {
      more = true;
      break;
    }
    const item = decodeRow(blob, pk, sk);
    items.push(item);
    bound += storedSizeBound(blob);
    if (bytes >= 0) bytes += itemSize(item);
  }
  const last = items[items.length - 1];
  return more && last ? { items, last: last.sk } : { items };
}

/**
 * The UTF-8 bytes of `prefix` followed by F4 90 — a byte pair no valid UTF-8 string contains,
 * so it sorts after every string that starts with `prefix` (the upper bound of beginsWith).
 */
function prefixUpperBound(prefix: string): Buffer {
  const n = Buffer.byteLength(prefix, "utf8");
  const bound = Buffer.allocUnsafe(n + 2);
  bound.write(prefix, 0, "utf8");
  bound[n] = 0xf4;
  bound[n + 1] = 0x90;
  return bound;
}

/** Translate a SQLite failure into a StrataError (the original is the cause). */
function translate(err: unknown, what: string): StrataError {
  if (isStrataError(err)) return err;
  const code = (err as { code?: unknown })?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === "string") {
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
      return new StrataError(
        "ETHROTTLED",
        `SQLite ${what}: the database is locked by another writer (${message}); retry`,
        {
          cause: err,
        },
      );
    if (code.startsWith("SQLITE_FULL"))
      return new StrataError(
        "EUNAVAIL",
        `SQLite ${what}: the disk is full (${message}); free space and retry`,
        {
          cause: err,
        },
      );
    if (code.startsWith("SQLITE_CORRUPT") || code.startsWith("SQLITE_NOTADB"))
      return new StrataError(
        "ECORRUPT",
        `SQLite ${what}: the database file is corrupt (${message}); restore it from a backup or a mirror`,
        { cause: err },
      );
    if (code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_READONLY"))
      return new StrataError(
        "EUNAVAIL",
        `SQLite ${what}: cannot open or write the database file (${message})`,
        {
          cause: err,
        },
      );
    if (code.startsWith("SQLITE_IOERR"))
      return new StrataError("EIO", `SQLite ${what}: input/output error (${message})`, { cause: err });
  }
  if (err instanceof TypeError && /not open/.test(message))
    return new StrataError("EUNAVAIL", `SQLite ${what}: the store is closed`, { cause: err });
  return new StrataError("EIO", `SQLite ${what} failed: ${message}`, { cause: err });
}

/** better-sqlite3 statements for the port's operations, on checked input (see the file comment). */
export class SqliteMetadataDriver implements MetadataDriver {
  readonly kind = "sqlite";
  readonly path: string;
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string, string], Row>;
  private readonly putStmt: Database.Statement<[string, string, Buffer]>;
  private readonly deleteStmt: Database.Statement<[string, string]>;
  private readonly queryStmts = new Map<number, Database.Statement<unknown[], RawRow>>();
  private readonly tokenGetStmt: Database.Statement<[string], { fingerprint: string; expires: number }>;
  private readonly tokenPutStmt: Database.Statement<[string, string, number]>;
  private readonly tokenPruneStmt: Database.Statement<[number]>;
  /** One transaction wrapper, made once (better-sqlite3 builds five functions per `transaction()`). */
  private readonly tx: Database.Transaction<(fn: () => unknown) => unknown>;
  private readonly clock: () => number;
  private tokenWrites = 0;

  constructor(options: SqliteMetadataStoreOptions) {
    this.path = options.path;
    this.clock = options.clock ?? Date.now;
    try {
      this.db = new Database(options.path, { timeout: options.busyTimeoutMs ?? 5_000 });
      this.db.pragma("journal_mode = WAL");
      // FULL: the WAL is synced at every commit, so an acknowledged write survives a crash.
      this.db.pragma("synchronous = FULL");
      this.db.exec(
        "CREATE TABLE IF NOT EXISTS items (pk TEXT NOT NULL, sk TEXT NOT NULL, item BLOB NOT NULL, PRIMARY KEY (pk, sk)) WITHOUT ROWID",
      );
      this.getStmt = this.db.prepare("SELECT pk, sk, item FROM items WHERE pk = ? AND sk = ?");
      this.putStmt = this.db.prepare("INSERT OR REPLACE INTO items (pk, sk, item) VALUES (?, ?, ?)");
      this.deleteStmt = this.db.prepare("DELETE FROM items WHERE pk = ? AND sk = ?");
      this.db.exec(
        "CREATE TABLE IF NOT EXISTS requests (token TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, expires INTEGER NOT NULL) WITHOUT ROWID",
      );
      this.tokenGetStmt = this.db.prepare("SELECT fingerprint, expires FROM requests WHERE token = ?");
      this.tokenPutStmt = this.db.prepare(
        "INSERT OR REPLACE INTO requests (token, fingerprint, expires) VALUES (?, ?, ?)",
      );
      this.tokenPruneStmt = this.db.prepare("DELETE FROM requests WHERE expires <= ?");
      this.tx = this.db.transaction((fn: () => unknown) => fn());
    } catch (err) {
      throw translate(err, `open ${options.path}`);
    }
  }

  /**
   * Run `fn` in one SQLite transaction; IMMEDIATE takes the write lock first (no upgrade
   * deadlock). "statement" runs one statement, atomic by itself, without BEGIN/COMMIT.
   */
  private run<T>(what: string, mode: "read" | "write" | "statement", fn: () => T): T {
    try {
      if (mode === "statement") return fn();
      return (mode === "write" ? this.tx.immediate(fn) : this.tx.deferred(fn)) as T;
    } catch (err) {
      throw translate(err, what);
    }
  }

  private read(key: Key): Item | undefined {
    const row = this.getStmt.get(key.pk, key.sk);
    return row && decodeItem(row.item, key);
  }

  private write(item: Item): void {
    this.putStmt.run(item.pk, item.sk, encodeItem(item));
  }

  private check(key: Key, condition: Condition): void {
    const current = this.read(key);
    if (!evaluateCondition(current, condition))
      throw strataError("ECONFLICT", `condition failed on ${key.pk} / ${key.sk}`, { item: current, key });
  }

  get(key: Key): Item | undefined {
    // The hot path: no closure, one statement.
    try {
      return this.read(key);
    } catch (err) {
      throw translate(err, "GetItem");
    }
  }

  put(item: Item, condition: Condition | undefined): void {
    // Without a condition the write is one statement; with one, the read and the write are one transaction.
    if (!condition) {
      this.run("PutItem", "statement", () => this.write(item));
      return;
    }
    this.run("PutItem", "write", () => {
      this.check(item, condition);
      this.write(item);
    });
  }

  update(key: Key, update: Update, condition: Condition | undefined): Item {
    return this.run("UpdateItem", "write", () => {
      if (condition) this.check(key, condition);
      const next = applyUpdate(key, this.read(key), update);
      validateItem(next);
      this.write(next);
      return next;
    });
  }

  delete(key: Key, condition: Condition | undefined): void {
    if (!condition) {
      this.run("DeleteItem", "statement", () => this.deleteStmt.run(key.pk, key.sk));
      return;
    }
    this.run("DeleteItem", "write", () => {
      this.check(key, condition);
      this.deleteStmt.run(key.pk, key.sk);
    });
  }

  transact(ops: TransactOp[], token: string | undefined): void {
    // A SHA-256 of the canonical ops: the row stays small whatever the transaction's size.
    const fingerprint =
      token === undefined ? "" : createHash("sha256").update(transactFingerprint(ops)).digest("hex");
    this.run("TransactWriteItems", "write", () => {
      const now = this.clock();
      if (token !== undefined) {
        const seen = this.tokenGetStmt.get(token);
        if (seen && seen.expires > now) {
          if (seen.fingerprint !== fingerprint) throw tokenMismatch(token);
          return; // already applied: succeed without applying again
        }
      }
      // Only conditions and updates need the current item.
      const currents = ops.map((op) =>
        op.condition || op.kind === "update" ? this.read(op.kind === "put" ? op.item : op.key) : undefined,
      );
      const reasons: Array<CancellationReason | null> = ops.map((op, i) => {
        const current = currents[i];
        if (!op.condition || evaluateCondition(current, op.condition)) return null;
        return { code: "ConditionalCheckFailed", ...(current ? { item: current } : {}) };
      });
      const failedIndex = reasons.findIndex((r) => r !== null);
      if (failedIndex >= 0)
        throw strataError("ECONFLICT", `transaction cancelled: condition of op ${failedIndex} failed`, {
          reasons,
          failedIndex,
        });
      // Compute every result before writing, so a failing update (ADD to a string) writes nothing.
      const results = ops.map((op, i) => {
        if (op.kind !== "update") return undefined;
        const next = applyUpdate(op.key, currents[i], op.update);
        validateItem(next);
        return next;
      });
      ops.forEach((op, i) => {
        if (op.kind === "put") this.write(op.item);
        else if (op.kind === "update") this.write(results[i]!);
        else if (op.kind === "delete") this.deleteStmt.run(op.key.pk, op.key.sk);
      });
      if (token !== undefined) {
        // Prune now and then (a full scan of a table that holds ≤ 10 minutes of tokens).
        if (++this.tokenWrites % 256 === 0) this.tokenPruneStmt.run(now);
        this.tokenPutStmt.run(token, fingerprint, now + IDEMPOTENCY_WINDOW_MS);
      }
    });
  }

  transactGet(keys: Key[]): Array<Item | undefined> {
    return this.run("TransactGetItems", "read", () => keys.map((key) => this.read(key)));
  }

  batchGet(keys: Key[]): Array<Item | undefined> {
    const out: Array<Item | undefined> = [];
    // One SQLite read per 100 keys, as DynamoDB's BatchGetItem requests (the wrapper counts them).
    for (let start = 0; start < keys.length; start += LIMITS.batchGetKeys) {
      const chunk = keys.slice(start, start + LIMITS.batchGetKeys);
      out.push(...this.run("BatchGetItem", "read", () => chunk.map((key) => this.read(key))));
    }
    return out;
  }

  /** The SELECT for a query's shape (cached per SQL text) and its parameters. */
  private queryStatement(
    pk: string,
    query: DriverQuery,
  ): { stmt: Database.Statement<unknown[], RawRow>; params: unknown[] } {
    const params: unknown[] = [pk];
    const { sk, after, limit, reverse } = query;
    if (sk) {
      if (sk.op === "between") params.push(sk.low, sk.high);
      // beginsWith is a text range, so the primary key index serves it.
      else if (sk.op === "beginsWith") params.push(sk.value, prefixUpperBound(sk.value));
      else params.push(sk.value);
    }
    if (after !== undefined) params.push(after);
    // One more row than asked tells whether another page follows. Small limits (a validated
    // integer) go into the SQL text: a bound LIMIT ? made a 1-row range query ~2.5× slower
    // (better-sqlite3 12, measured), and ≤ 100 limits keep the statement cache bounded.
    let limitSql = "";
    if (limit !== undefined) {
      if (limit <= ALL_ROWS_LIMIT) limitSql = ` LIMIT ${limit + 1}`;
      else {
        limitSql = " LIMIT ?";
        params.push(limit + 1);
      }
    }
    // The statement cache is keyed by the query's shape, as a number (no string built per
    // query): sort-key operator, resume point, direction, and the literal limit (≤ 100) or 127
    // for a bound one; the SQL is only built on a miss.
    const limitCode = limit === undefined ? 0 : limit <= ALL_ROWS_LIMIT ? limit : 127;
    const shape =
      (((SK_OPS.indexOf(sk?.op) + 1) * 2 + (after === undefined ? 0 : 1)) * 2 + (reverse ? 1 : 0)) * 128 +
      limitCode;
    let stmt = this.queryStmts.get(shape);
    if (!stmt) {
      const where = ["pk = ?"];
      if (sk) {
        if (sk.op === "between") where.push("sk >= ?", "sk <= ?");
        else if (sk.op === "beginsWith") where.push("sk >= ?", "sk < CAST(? AS TEXT)");
        else where.push(`sk ${{ eq: "=", lt: "<", le: "<=", gt: ">", ge: ">=" }[sk.op]} ?`);
      }
      if (after !== undefined) where.push(reverse ? "sk < ?" : "sk > ?");
      const sql = `SELECT sk, item FROM items WHERE ${where.join(" AND ")} ORDER BY sk ${reverse ? "DESC" : "ASC"}${limitSql}`;
      stmt = this.db.prepare<unknown[], RawRow>(sql).raw(true);
      this.queryStmts.set(shape, stmt);
    }
    return { stmt, params };
  }

  query(pk: string, query: DriverQuery): DriverPage {
    // One SELECT: a consistent snapshot by itself.
    try {
      const { stmt, params } = this.queryStatement(pk, query);
      const limit = query.limit;
      // Small limits read their ≤ limit + 1 rows at once (cheaper than an iterator); otherwise
      // rows are streamed, never the whole partition.
      const rows =
        limit !== undefined && limit <= ALL_ROWS_LIMIT ? stmt.all(...params) : stmt.iterate(...params);
      return pageOfRows(pk, rows, limit ?? Number.POSITIVE_INFINITY);
    } catch (err) {
      throw translate(err, "Query");
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** The embedded MetadataStore: {@link SqliteMetadataDriver} in the checked wrapper. */
export class SqliteMetadataStore extends CheckedMetadataStore {
  /** The database file (benchmarks open their own raw connection on it). */
  readonly path: string;

  constructor(options: SqliteMetadataStoreOptions) {
    const driver = new SqliteMetadataDriver(options);
    super(driver);
    this.path = driver.path;
  }
}
