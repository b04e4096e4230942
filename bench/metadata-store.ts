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
  GetItemCommand,
  QueryCommand,
  type QueryCommandOutput,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import Database from "better-sqlite3";
import { DynamoDbMetadataStore } from "../adapters/metadata/dynamodb.ts";
import { encodeItem, SqliteMetadataStore } from "../adapters/metadata/sqlite.ts";
import type { MetadataStore, RequestCounts } from "../core/metadata/port.ts";

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
  const start = performance.now();
  let ops = 0;
  while (ops < minOps || performance.now() - start < durationMs) {
    await op();
    ops++;
  }
  const ms = performance.now() - start;
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
