/**
 * Raw baselines for the metadata benchmark: how fast the backend itself does the requests the
 * namespace engine's operations cost, measured on the same server in the same run, so the engine
 * bench can print its ops/s next to them (target ratio ≥ 0.8).
 *
 * For each shape — one GetItem, a TransactWriteItems of 2 and of 6 items, a Query of 1,000 small
 * items — two numbers:
 * - `raw`: the backend without strata (DynamoDB: SDK commands on the store's client and table;
 *   SQLite: the equivalent better-sqlite3 statements on a second connection to the store's file,
 *   with the same pragmas);
 * - `store`: the same request through the MetadataStore adapter (its validation, (de)serialisation,
 *   conditions), with the requests it sent per operation.
 * Operations run one after another (latency-bound), as an engine call does.
 */
import {
  type AttributeValue,
  GetItemCommand,
  QueryCommand,
  type QueryCommandOutput,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import Database from "better-sqlite3";
import { DynamoDbMetadataStore, toAttributeMap, toAttributeValue } from "../adapters/metadata/dynamodb.ts";
import { encodeItem, SqliteMetadataStore } from "../adapters/metadata/sqlite.ts";
import type {
  Item,
  Key,
  MetadataStore,
  QueryOptions,
  RequestCounts,
  TransactOp,
  Value,
} from "../core/metadata/port.ts";
import { timed } from "./support.ts";

export interface Rate {
  ops: number;
  ms: number;
  opsPerSec: number;
}

export interface Baseline {
  /** "GetItem", "TransactWriteItems×2", "TransactWriteItems×6", "Query×1000". */
  shape: string;
  raw: Rate;
  store: Rate & { requestsPerOp: number };
}

export interface BaselineOptions {
  /** Time spent measuring each shape and path (default 1,500 ms; at least `minOps` ops). */
  durationMs?: number;
  minOps?: number;
  /** Partition prefix for the bench's items (default a random one); they are left in place. */
  partition?: string;
}

type Op = () => Promise<unknown> | unknown;

/** Untimed runs first (connections, caches, both JITs — DynamoDB Local's JVM needs it most). */
async function warm(op: Op, ms: number): Promise<number> {
  const until = performance.now() + ms;
  let n = 0;
  do {
    await op();
    n++;
  } while (performance.now() < until);
  return n;
}

async function measure(op: Op, durationMs: number, minOps: number): Promise<Rate> {
  const { ops, ms } = await timed(op, durationMs, minOps);
  return { ops, ms, opsPerSec: (ops * 1000) / ms };
}

function requests(counts: RequestCounts): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

interface Shapes {
  get: Op;
  transact: (n: 2 | 6) => Op;
  query: Op;
  close(): void;
}

function dynamoRaw(store: DynamoDbMetadataStore, pk: string): Shapes {
  const TableName = store.tableName;
  const S = (s: string) => ({ S: s });
  let round = 0;
  return {
    // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_GetItem.html
    get: () =>
      store.client.send(
        new GetItemCommand({ TableName, Key: { pk: S(`${pk}/get`), sk: S("item") }, ConsistentRead: true }),
      ),
    // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
    transact: (n) => () => {
      round++;
      return store.client.send(
        new TransactWriteItemsCommand({
          TransactItems: Array.from({ length: n }, (_, i) => ({
            Put: {
              TableName,
              Item: { pk: S(`${pk}/tx${n}`), sk: S(`raw${i}`), round: { N: String(round) } },
              ConditionExpression: "attribute_not_exists(#r) OR #r < :r",
              ExpressionAttributeNames: { "#r": "round" },
              ExpressionAttributeValues: { ":r": { N: String(round) } },
            },
          })),
        }),
      );
    },
    // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html
    query: async () => {
      let ExclusiveStartKey: QueryCommandOutput["LastEvaluatedKey"];
      do {
        const out: QueryCommandOutput = await store.client.send(
          new QueryCommand({
            TableName,
            KeyConditionExpression: "pk = :pk",
            ExpressionAttributeValues: { ":pk": S(`${pk}/query`) },
            ConsistentRead: true,
            ...(ExclusiveStartKey ? { ExclusiveStartKey } : {}),
          }),
        );
        ExclusiveStartKey = out.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    },
    close() {},
  };
}

function sqliteRaw(store: SqliteMetadataStore, pk: string): Shapes {
  const db = new Database(store.path, { timeout: 5_000 });
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  const get = db.prepare("SELECT item FROM items WHERE pk = ? AND sk = ?");
  const put = db.prepare("INSERT OR REPLACE INTO items (pk, sk, item) VALUES (?, ?, ?)");
  const query = db.prepare("SELECT sk, item FROM items WHERE pk = ? ORDER BY sk");
  let round = 0;
  const transactions = {
    2: db.transaction((r: number) => txBody(2, r)),
    6: db.transaction((r: number) => txBody(6, r)),
  };
  // The statements a conditional transaction needs: read each item, check, write each item.
  function txBody(n: number, r: number) {
    for (let i = 0; i < n; i++) {
      const key = [`${pk}/tx${n}`, `raw${i}`] as const;
      get.get(...key);
      put.run(...key, encodeItem({ pk: key[0], sk: key[1], round: r }));
    }
  }
  return {
    get: () => get.get(`${pk}/get`, "item"),
    transact: (n) => () => transactions[n].immediate(++round),
    query: () => query.all(`${pk}/query`),
    close: () => db.close(),
  };
}

function storeShapes(store: MetadataStore, pk: string): Shapes {
  let round = 0;
  return {
    get: () => store.get({ pk: `${pk}/get`, sk: "item" }),
    transact: (n) => () => {
      round++;
      return store.transact(
        Array.from({ length: n }, (_, i) => ({
          kind: "put" as const,
          item: { pk: `${pk}/tx${n}`, sk: `store${i}`, round },
          condition: {
            op: "or" as const,
            of: [
              { op: "attrNotExists" as const, attr: "round" },
              { op: "lt" as const, attr: "round", value: round },
            ],
          },
        })),
      );
    },
    query: async () => {
      let cursor: string | undefined;
      do {
        const page = await store.query(`${pk}/query`, cursor === undefined ? {} : { cursor });
        cursor = page.cursor;
      } while (cursor !== undefined);
    },
    close() {},
  };
}

/** Measure the raw baselines (and the same shapes through the store) on a started store. */
export async function measureMetadataBaselines(
  store: MetadataStore,
  options: BaselineOptions = {},
): Promise<Baseline[]> {
  const durationMs = options.durationMs ?? 1_500;
  const minOps = options.minOps ?? 20;
  const pk = options.partition ?? `bench-${Math.random().toString(36).slice(2, 10)}`;
  let raw: Shapes;
  if (store instanceof DynamoDbMetadataStore) raw = dynamoRaw(store, pk);
  else if (store instanceof SqliteMetadataStore) raw = sqliteRaw(store, pk);
  else throw new Error(`raw baselines exist for the sqlite and dynamodb stores, not ${store.kind}`);

  // Fixtures: one item to get, 1,000 small items to query (written in transactions of 100).
  await store.put({ pk: `${pk}/get`, sk: "item", name: "a file name.txt", size: 12345, mode: 0o644 });
  for (let start = 0; start < 1000; start += 100)
    await store.transact(
      Array.from({ length: 100 }, (_, i) => ({
        kind: "put" as const,
        item: {
          pk: `${pk}/query`,
          sk: `entry-${String(start + i).padStart(4, "0")}`,
          ino: String(start + i),
          type: "f",
        },
      })),
    );

  const through = storeShapes(store, pk);
  const shapes: Array<[string, Op, Op]> = [
    ["GetItem", raw.get, through.get],
    ["TransactWriteItems×2", raw.transact(2), through.transact(2)],
    ["TransactWriteItems×6", raw.transact(6), through.transact(6)],
    ["Query×1000", raw.query, through.query],
  ];
  const out: Baseline[] = [];
  try {
    for (const [shape, rawOp, storeOp] of shapes) {
      await warm(rawOp, durationMs / 3);
      await warm(storeOp, durationMs / 3);
      const rawRate = await measure(rawOp, durationMs, minOps);
      store.resetRequestCounts();
      const storeRate = await measure(storeOp, durationMs, minOps);
      const requestsPerOp = requests(store.requestCounts()) / storeRate.ops;
      out.push({ shape, raw: rawRate, store: { ...storeRate, requestsPerOp } });
    }
  } finally {
    raw.close();
  }
  return out;
}

/** A plain-text table of baselines, for bench output. */
export function formatBaselines(backend: string, baselines: Baseline[]): string {
  const rows = baselines.map(
    (b) =>
      `${backend.padEnd(9)} ${b.shape.padEnd(22)} ${b.raw.opsPerSec.toFixed(0).padStart(9)} ${b.store.opsPerSec
        .toFixed(0)
        .padStart(9)} ${(b.store.opsPerSec / b.raw.opsPerSec).toFixed(2).padStart(6)} ${b.store.requestsPerOp
        .toFixed(2)
        .padStart(9)}`,
  );
  return [
    `${"backend".padEnd(9)} ${"shape".padEnd(22)} ${"raw op/s".padStart(9)} ${"store op/s".padStart(9)} ${"ratio".padStart(6)} ${"req/op".padStart(9)}`,
    ...rows,
  ].join("\n");
}

/** One request an engine operation sent to its store (recorded by bench/metadata.ts). */
export type RecordedRequest =
  | { kind: "get"; key: Key }
  | { kind: "query"; pk: string; options: QueryOptions }
  | { kind: "transact"; ops: TransactOp[] }
  | { kind: "other"; method: string };

/**
 * The requests of one engine operation, sent straight to the backend without strata: the
 * "raw" side of the metadata bench.
 * - Reads (GetItem, Query with the same key condition, order, limit and paging) are replayed
 *   exactly, on the same items the engine read.
 * - A transaction cannot be replayed as is (its conditions hold once), so it becomes a
 *   TransactWriteItems with the same number and kinds of items on bench keys: each put writes the
 *   engine's item attributes to a fresh key (in a partition next to the engine's) under
 *   `attribute_not_exists(pk)`; each update SETs the
 *   engine's attributes on a fixture item that must exist; each check is a ConditionCheck that a
 *   fixture item exists.
 * - Other requests (the id allocator's UpdateItem, 1 per 1,000 ids) are not replayed.
 * SQLite: the same in better-sqlite3 statements on a second connection with the store's pragmas,
 * and every item read is decoded with JSON.parse (the store's codec is JSON), so both sides do
 * the decoding work; a transaction is BEGIN IMMEDIATE, per item a SELECT + JSON.parse (the
 * condition read) and an INSERT OR REPLACE of JSON.stringify, COMMIT (synchronous = FULL).
 */
export interface RawReplayer {
  /** An op that sends `requests` raw, one after another. */
  replay(requests: RecordedRequest[]): () => Promise<void>;
  /** "GetItem + Query(limit 1)", "TransactWriteItems×7 (4 put, 3 check)"… */
  describe(requests: RecordedRequest[]): string;
  close(): void;
}

function describeRequests(requests: RecordedRequest[]): string {
  const parts: string[] = [];
  for (const r of requests) {
    if (r.kind === "get") parts.push("GetItem");
    else if (r.kind === "query") {
      if (r.options.cursor !== undefined) parts.push("Query(next page)");
      else parts.push(r.options.limit === undefined ? "Query" : `Query(limit ${r.options.limit})`);
    } else if (r.kind === "transact") {
      const kinds = new Map<string, number>();
      for (const op of r.ops) kinds.set(op.kind, (kinds.get(op.kind) ?? 0) + 1);
      const detail = [...kinds].map(([k, n]) => `${n} ${k}`).join(", ");
      parts.push(`TransactWriteItems×${r.ops.length} (${detail})`);
    }
  }
  return parts.join(" + ");
}

/** Item attributes without the key. */
function payload(item: Item): Record<string, Value> {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest;
}

const FIXTURES = 100;

/**
 * Where a replayed put goes: a fresh key in a partition next to the engine's (`<pk>#raw`), so the
 * raw transaction touches as many, and as scattered, parts of the table (B-tree pages in SQLite)
 * as the engine's does — not one hot append-only partition.
 */
function rawKey(op: TransactOp, partition: string, round: number, i: number): Key {
  const pk = op.kind === "put" ? op.item.pk : op.key.pk;
  return { pk: `${pk}#raw`, sk: `${partition}-${round}-${i}` };
}

/**
 * Open a raw replayer on a started store. Writes its fixtures (100 items under
 * `<partition>/fx`) through the store first; bench items are left in place.
 */
export async function openRawReplayer(store: MetadataStore, partition: string): Promise<RawReplayer> {
  const fx = `${partition}/fx`;
  await store.transact(
    Array.from({ length: FIXTURES }, (_, i) => ({
      kind: "put" as const,
      item: { pk: fx, sk: `f${String(i).padStart(3, "0")}`, round: 0 },
    })),
  );
  const fixtureSk = (i: number) => `f${String(i % FIXTURES).padStart(3, "0")}`;
  let seq = 0;
  if (store instanceof DynamoDbMetadataStore)
    return dynamoReplayer(store, partition, fx, fixtureSk, () => ++seq);
  if (store instanceof SqliteMetadataStore)
    return sqliteReplayer(store, partition, fx, fixtureSk, () => ++seq);
  throw new Error(`raw baselines exist for the sqlite and dynamodb stores, not ${store.kind}`);
}

function dynamoReplayer(
  store: DynamoDbMetadataStore,
  partition: string,
  fx: string,
  fixtureSk: (i: number) => string,
  next: () => number,
): RawReplayer {
  const TableName = store.tableName;
  const S = (s: string): AttributeValue => ({ S: s });
  const keyOf = (key: Key) => ({ pk: S(key.pk), sk: S(key.sk) });

  function query(pk: string, options: QueryOptions, start: Record<string, AttributeValue> | undefined) {
    const values: Record<string, AttributeValue> = { ":pk": S(pk) };
    let cond = "pk = :pk";
    const sk = options.sk;
    if (sk?.op === "between") {
      cond += " AND sk BETWEEN :lo AND :hi";
      values[":lo"] = S(sk.low);
      values[":hi"] = S(sk.high);
    } else if (sk?.op === "beginsWith") {
      cond += " AND begins_with(sk, :v)";
      values[":v"] = S(sk.value);
    } else if (sk) {
      cond += ` AND sk ${{ eq: "=", lt: "<", le: "<=", gt: ">", ge: ">=" }[sk.op]} :v`;
      values[":v"] = S(sk.value);
    }
    // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html
    return store.client.send(
      new QueryCommand({
        TableName,
        KeyConditionExpression: cond,
        ExpressionAttributeValues: values,
        ConsistentRead: true,
        ScanIndexForward: !options.reverse,
        ...(options.limit !== undefined ? { Limit: options.limit } : {}),
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
  }

  function transactItems(ops: TransactOp[]): TransactWriteItem[] {
    const round = next();
    return ops.map((op, i): TransactWriteItem => {
      if (op.kind === "check")
        return {
          ConditionCheck: {
            TableName,
            Key: keyOf({ pk: fx, sk: fixtureSk(i) }),
            ConditionExpression: "attribute_exists(pk)",
          },
        };
      if (op.kind === "update") {
        const set = { ...(op.update.set ?? {}), round };
        const names: Record<string, string> = {};
        const values: Record<string, AttributeValue> = {};
        const clauses = Object.entries(set).map(([name, value], j) => {
          names[`#a${j}`] = name;
          values[`:v${j}`] = toAttributeValue(value);
          return `#a${j} = :v${j}`;
        });
        return {
          Update: {
            TableName,
            Key: keyOf({ pk: fx, sk: fixtureSk(i) }),
            UpdateExpression: `SET ${clauses.join(", ")}`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ConditionExpression: "attribute_exists(pk)",
          },
        };
      }
      const attributes = op.kind === "put" ? payload(op.item) : {};
      return {
        Put: {
          TableName,
          Item: toAttributeMap({ ...attributes, ...rawKey(op, partition, round, i) }),
          ConditionExpression: "attribute_not_exists(pk)",
        },
      };
    });
  }

  return {
    replay: (requests) => async () => {
      let last: Record<string, AttributeValue> | undefined;
      for (const r of requests) {
        if (r.kind === "get") {
          // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_GetItem.html
          await store.client.send(new GetItemCommand({ TableName, Key: keyOf(r.key), ConsistentRead: true }));
        } else if (r.kind === "query") {
          const out: QueryCommandOutput = await query(
            r.pk,
            r.options,
            r.options.cursor === undefined ? undefined : last,
          );
          last = out.LastEvaluatedKey;
        } else if (r.kind === "transact") {
          // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
          await store.client.send(new TransactWriteItemsCommand({ TransactItems: transactItems(r.ops) }));
        }
      }
    },
    describe: describeRequests,
    close() {},
  };
}

/** Same upper bound as the store's beginsWith (adapters/metadata/sqlite.ts). */
function prefixUpperBound(prefix: string): Buffer {
  return Buffer.concat([Buffer.from(prefix, "utf8"), Buffer.from([0xf4, 0x90])]);
}

function sqliteReplayer(
  store: SqliteMetadataStore,
  partition: string,
  fx: string,
  fixtureSk: (i: number) => string,
  next: () => number,
): RawReplayer {
  const db = new Database(store.path, { timeout: 5_000 });
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  const get = db.prepare<[string, string], { item: Buffer }>(
    "SELECT item FROM items WHERE pk = ? AND sk = ?",
  );
  const put = db.prepare("INSERT OR REPLACE INTO items (pk, sk, item) VALUES (?, ?, ?)");
  const statements = new Map<string, Database.Statement<unknown[], { sk: string; item: Buffer }>>();
  const decode = (row: { item: Buffer } | undefined) =>
    row === undefined ? undefined : (JSON.parse(row.item.toString("utf8")) as Record<string, unknown>);

  function query(pk: string, options: QueryOptions, after: string | undefined): string | undefined {
    const where = ["pk = ?"];
    const params: unknown[] = [pk];
    const sk = options.sk;
    if (sk?.op === "between") {
      where.push("sk >= ?", "sk <= ?");
      params.push(sk.low, sk.high);
    } else if (sk?.op === "beginsWith") {
      where.push("sk >= ?", "sk < CAST(? AS TEXT)");
      params.push(sk.value, prefixUpperBound(sk.value));
    } else if (sk) {
      where.push(`sk ${{ eq: "=", lt: "<", le: "<=", gt: ">", ge: ">=" }[sk.op]} ?`);
      params.push(sk.value);
    }
    if (after !== undefined) {
      where.push(options.reverse ? "sk < ?" : "sk > ?");
      params.push(after);
    }
    let sql = `SELECT sk, item FROM items WHERE ${where.join(" AND ")} ORDER BY sk ${options.reverse ? "DESC" : "ASC"}`;
    // A literal LIMIT, as the store uses for small limits: on better-sqlite3 a bound `LIMIT ?` makes a
    // one-row range query ~2.5× slower, which would flatter the store against this baseline.
    if (options.limit !== undefined) sql += ` LIMIT ${Math.trunc(options.limit)}`;
    let stmt = statements.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      statements.set(sql, stmt);
    }
    let last: string | undefined;
    for (const row of stmt.all(...params)) {
      decode(row);
      last = row.sk;
    }
    return last;
  }

  const transaction = db.transaction((ops: TransactOp[]) => {
    const round = next();
    ops.forEach((op, i) => {
      const key =
        op.kind === "put" || op.kind === "delete"
          ? rawKey(op, partition, round, i)
          : { pk: fx, sk: fixtureSk(i) };
      const current = decode(get.get(key.pk, key.sk)); // the condition read
      if (op.kind === "check") return;
      const item =
        op.kind === "update"
          ? { ...current, ...(op.update.set ?? {}), round, ...key }
          : { ...(op.kind === "put" ? payload(op.item) : {}), ...key };
      put.run(key.pk, key.sk, Buffer.from(JSON.stringify(item), "utf8"));
    });
  });

  return {
    replay: (requests) => async () => {
      let last: string | undefined;
      for (const r of requests) {
        if (r.kind === "get") decode(get.get(r.key.pk, r.key.sk));
        else if (r.kind === "query")
          last = query(r.pk, r.options, r.options.cursor === undefined ? undefined : last);
        else if (r.kind === "transact") transaction.immediate(r.ops);
      }
    },
    describe: describeRequests,
    close: () => db.close(),
  };
}
