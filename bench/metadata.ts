/**
 * `npm run bench -- metadata [sqlite|dynamodb…]`: the namespace engine's ops/s on each metadata
 * backend — SQLite (a temp-file database, the embedded default) and DynamoDB Local (started here,
 * a fresh table) — next to the raw requests the operation costs, on the same server in the same
 * run, the ratio engine/raw (target ≥ 0.8) and the requests per operation the store counted,
 * checked against the cost targets of issue 3 (docs/namespace.md, "Operations and their costs").
 *
 * "Raw": the engine's requests for one operation are recorded (a pass-through wrapper around the
 * store) and replayed straight to the backend without strata — see `openRawReplayer` in
 * bench/metadata-store.ts. Reads are replayed exactly (same items); a transaction becomes a
 * TransactWriteItems with the same number and kinds of items on bench keys.
 *
 * Ops run one after another (latency-bound, like one client). Each measurement: a short warm-up,
 * then raw and engine alternate in 6 short rounds; each side's op/s is the median over its rounds
 * (drift and bursts of load elsewhere on the machine hit both alike). About 3.5 s per row.
 * Env: STRATA_BENCH_MS (measured ms per side and row, default 1,500); STRATA_BENCH_CLOCK=cpu
 * measures this process's CPU time instead of wall time (bench/support.ts), the fair clock on a
 * machine busy with other work (both sides run in this process on SQLite).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDbMetadataStore } from "../adapters/metadata/dynamodb.ts";
import { SqliteMetadataStore } from "../adapters/metadata/sqlite.ts";
import type {
  Condition,
  Item,
  Key,
  MetadataStore,
  QueryOptions,
  QueryPage,
  RequestCounts,
  TransactOp,
  TransactOptions,
  Update,
} from "../core/metadata/port.ts";
import { emptyRequestCounts } from "../core/metadata/port.ts";
import { itemSize } from "../core/metadata/values.ts";
import { type BatchOp, createNamespace, type FileSystem } from "../core/namespace/index.ts";
import { dynamoDbLocalClientConfig, startDynamoDbLocal } from "../standins/dynamodb.ts";
import { openRawReplayer, type RawReplayer, type RecordedRequest } from "./metadata-store.ts";
import { median, table, timed } from "./support.ts";

const MEASURE_MS = Number(process.env.STRATA_BENCH_MS ?? 1_500);
const ROUNDS = 6;
const WARM_MS = Math.max(200, MEASURE_MS / 4);
const MB = 1024 * 1024;
const READDIR_ENTRIES = 1000;
const DEPTHS = [1, 100, 1000] as const;

type Op = () => Promise<unknown>;

/**
 * A pass-through MetadataStore that, while `recording` is set, notes each request it forwards.
 * Off, it costs one extra call per request (it returns the inner store's promise as is).
 */
class RecordingStore implements MetadataStore {
  recording: RecordedRequest[] | undefined;
  constructor(readonly inner: MetadataStore) {}
  get kind() {
    return this.inner.kind;
  }
  private note(r: RecordedRequest) {
    this.recording?.push(structuredClone(r));
  }
  get(key: Key) {
    if (this.recording) this.note({ kind: "get", key });
    return this.inner.get(key);
  }
  put(item: Item, options?: { condition?: Condition }) {
    if (this.recording) this.note({ kind: "other", method: "put" });
    return this.inner.put(item, options);
  }
  update(key: Key, update: Update, options?: { condition?: Condition }) {
    if (this.recording) this.note({ kind: "other", method: "update" });
    return this.inner.update(key, update, options);
  }
  delete(key: Key, options?: { condition?: Condition }) {
    if (this.recording) this.note({ kind: "other", method: "delete" });
    return this.inner.delete(key, options);
  }
  transact(ops: TransactOp[], options?: TransactOptions) {
    if (this.recording) this.note({ kind: "transact", ops });
    return this.inner.transact(ops, options);
  }
  transactGet(keys: Key[]) {
    if (this.recording) this.note({ kind: "other", method: "transactGet" });
    return this.inner.transactGet(keys);
  }
  batchGet(keys: Key[]) {
    if (this.recording) this.note({ kind: "other", method: "batchGet" });
    return this.inner.batchGet(keys);
  }
  query(pk: string, options?: QueryOptions): Promise<QueryPage> {
    if (this.recording) this.note({ kind: "query", pk, options: options ?? {} });
    return this.inner.query(pk, options);
  }
  requestCounts() {
    return this.inner.requestCounts();
  }
  resetRequestCounts() {
    this.inner.resetRequestCounts();
  }
  close() {
    return this.inner.close();
  }
}

/** Each timed run makes at least this many calls, however long they take. */
const MIN_OPS = 5;
const perSec = (r: { ops: number; ms: number }) => (r.ops * 1000) / r.ms;

interface Row {
  op: string;
  raw: string;
  engine: number;
  rawRate: number;
  requests: RequestCounts;
  /** The cost target, and whether the measured requests per op meet it. */
  target: string;
  ok: boolean;
}

function perOp(counts: RequestCounts, ops: number): RequestCounts {
  const out = emptyRequestCounts();
  for (const k of Object.keys(out) as Array<keyof RequestCounts>) out[k] = counts[k] / ops;
  return out;
}

const SHORT: Record<keyof RequestCounts, string> = {
  GetItem: "Get",
  PutItem: "Put",
  UpdateItem: "Upd",
  DeleteItem: "Del",
  Query: "Query",
  BatchGetItem: "BatchGet",
  TransactWriteItems: "TxWrite",
  TransactGetItems: "TxGet",
};

function formatRequests(c: RequestCounts): string {
  const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n < 0.01 ? n.toFixed(4) : n.toFixed(2));
  return (Object.keys(c) as Array<keyof RequestCounts>)
    .filter((k) => c[k] > 0)
    .map((k) => `${fmt(c[k])} ${SHORT[k]}`)
    .join(" + ");
}

/** Requests per op match `expected` exactly, except the id allocator's amortised UpdateItem (≤ 1 per 100). */
function meets(c: RequestCounts, expected: Partial<RequestCounts>): boolean {
  return (Object.keys(c) as Array<keyof RequestCounts>).every((k) =>
    k === "UpdateItem" && expected[k] === undefined
      ? c[k] <= 0.01
      : Math.abs(c[k] - (expected[k] ?? 0)) < 1e-9,
  );
}

interface Case {
  op: string;
  engine: Op;
  target: string;
  expected: Partial<RequestCounts>;
}

async function benchCase(store: RecordingStore, raw: RawReplayer, c: Case): Promise<Row> {
  // Warm up (JIT, caches, the as-of close), then record one steady-state call's requests.
  const until = performance.now() + WARM_MS;
  do await c.engine();
  while (performance.now() < until);
  store.recording = [];
  await c.engine();
  const recorded = store.recording;
  store.recording = undefined;
  const rawOp = raw.replay(recorded);
  await timed(rawOp, WARM_MS / 2, MIN_OPS);

  // Raw and engine alternate in short rounds; each side's rate is the median over rounds, so a
  // burst of load from elsewhere on the machine (or a JVM pause) does not decide the ratio.
  const rawRates: number[] = [];
  const engineRates: number[] = [];
  let engineOps = 0;
  const counts = emptyRequestCounts();
  for (let round = 0; round < ROUNDS; round++) {
    rawRates.push(perSec(await timed(rawOp, MEASURE_MS / ROUNDS, MIN_OPS)));
    store.resetRequestCounts();
    const e = await timed(c.engine, MEASURE_MS / ROUNDS, MIN_OPS);
    engineRates.push(perSec(e));
    engineOps += e.ops;
    const got = store.requestCounts();
    for (const k of Object.keys(counts) as Array<keyof RequestCounts>) counts[k] += got[k];
  }
  const requests = perOp(counts, engineOps);
  return {
    op: c.op,
    raw: raw.describe(recorded),
    engine: median(engineRates),
    rawRate: median(rawRates),
    requests,
    target: c.target,
    ok: meets(requests, c.expected),
  };
}

async function inBatches(fs: FileSystem, ops: BatchOp[]): Promise<void> {
  for (let i = 0; i < ops.length; i += 30) await fs.batch(ops.slice(i, i + 30));
}

/** Bytes of a live directory's entry partition, as the store sizes items (for ⌈bytes / 1 MB⌉). */
async function partitionBytes(store: MetadataStore, pk: string): Promise<number> {
  let bytes = 0;
  let cursor: string | undefined;
  do {
    const page = await store.query(pk, cursor === undefined ? {} : { cursor });
    for (const item of page.items) bytes += itemSize(item);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return bytes;
}

async function benchStore(inner: MetadataStore, log: (s: string) => void): Promise<Row[]> {
  const store = new RecordingStore(inner);
  const ns = createNamespace({ store });
  const run = Date.now().toString(36);
  const raw = await openRawReplayer(inner, `bench-${run}`);
  try {
    // One PFS per case, so one case's entries do not change another's directories.
    const pfs = async (name: string) => {
      await ns.createPfs(`${name}-${run}`);
      return ns.pfs(`${name}-${run}`);
    };
    const cases: Case[] = [];

    const creates = await pfs("create");
    let n = 0;
    cases.push({
      op: "create (in /)",
      engine: () => creates.create(`/f${n++}`),
      target: "1 TxWrite",
      expected: { TransactWriteItems: 1 },
    });

    const stats = await pfs("stat");
    await stats.create("/f");
    cases.push({
      op: "stat /",
      engine: () => stats.stat("/"),
      target: "1 Query",
      expected: { Query: 1 },
    });
    cases.push({
      op: "stat /f",
      engine: () => stats.stat("/f"),
      target: "1 Get (resolve f) + 1 Query",
      expected: { GetItem: 1, Query: 1 },
    });

    log("1,000 entries for readdir");
    const dirs = await pfs("readdir");
    await dirs.mkdir("/d");
    await inBatches(
      dirs,
      Array.from({ length: READDIR_ENTRIES }, (_, i) => ({
        op: "create" as const,
        path: `/d/file-${String(i).padStart(4, "0")}.dat`,
      })),
    );
    const pfsInfo = (await ns.listPfs()).find((p) => p.name === `readdir-${run}`)!;
    const dirIno = (await dirs.stat("/d")).ino;
    const queries = Math.ceil((await partitionBytes(inner, `dir#${pfsInfo.id}#${dirIno}`)) / MB);
    cases.push({
      op: `readdir /d (${READDIR_ENTRIES})`,
      engine: async () => {
        let cursor: string | undefined;
        let count = 0;
        do {
          const page = await dirs.readdir("/d", cursor === undefined ? {} : { cursor });
          count += page.entries.length;
          cursor = page.cursor;
        } while (cursor !== undefined);
        if (count !== READDIR_ENTRIES) throw new Error(`readdir /d gave ${count} entries`);
      },
      target: `1 Get (resolve d) + ${queries} Query`,
      expected: { GetItem: 1, Query: queries },
    });

    const renames = await pfs("rename");
    await renames.create("/a");
    let at = "/a";
    cases.push({
      op: "rename (in /)",
      engine: async () => {
        const to = at === "/a" ? "/b" : "/a";
        await renames.rename(at, to);
        at = to;
      },
      target: "2 Get (resolve from, to) + 1 TxWrite",
      expected: { GetItem: 2, TransactWriteItems: 1 },
    });

    const history = await pfs("history");
    for (const depth of DEPTHS) {
      log(`history depth ${depth}`);
      const path = `/h${depth}`;
      const tids = [(await history.create(path)).tid];
      for (let i = 1; i < depth; i++) tids.push((await history.setattr(path, { mtimeMs: i })).tid);
      // An early TID: the second version (the only one at depth 1).
      const tid = tids[Math.min(1, tids.length - 1)]!;
      cases.push({
        op: `as-of stat, depth ${depth}`,
        engine: () => history.stat(path, { asOf: tid }),
        target: "1 Query",
        expected: { Query: 1 },
      });
    }

    const rows: Row[] = [];
    for (const c of cases) {
      log(c.op);
      rows.push(await benchCase(store, raw, c));
    }
    return rows;
  } finally {
    raw.close();
  }
}

function format(rows: Row[]): string {
  const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  return table(
    [
      ["operation", "engine op/s", "raw op/s", "ratio", "requests/op (measured)", "cost target", "raw = "],
      ...rows.map((r) => [
        r.op,
        fmt(r.engine),
        fmt(r.rawRate),
        `${(r.engine / r.rawRate).toFixed(2)}${r.engine / r.rawRate < 0.8 ? " <" : ""}`,
        formatRequests(r.requests),
        `${r.target} ${r.ok ? "ok" : "MISSED"}`,
        r.raw,
      ]),
    ],
    new Set([0, 3, 4, 5, 6]),
  );
}

interface Backend {
  name: string;
  /** A started store and how to stop everything behind it. */
  start(): Promise<{ store: MetadataStore; stop(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  {
    name: "sqlite",
    async start() {
      const dir = await mkdtemp(join(tmpdir(), "strata-bench-meta-"));
      const store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
      return {
        store,
        async stop() {
          await store.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: "dynamodb",
    async start() {
      const local = await startDynamoDbLocal();
      try {
        const store = new DynamoDbMetadataStore({
          clientConfig: dynamoDbLocalClientConfig(local.endpoint),
          tableName: `strata-bench-${Date.now().toString(36)}`,
        });
        await store.createTable();
        return {
          store,
          async stop() {
            await store.close();
            await local.stop();
          },
        };
      } catch (err) {
        await local.stop();
        throw err;
      }
    },
  },
];

const LEGEND = `legend:
  engine   the namespace engine (createNamespace({ store })), one call after another
  raw      the same backend without strata, same server, same run: the requests the engine sent
           for one call of that operation (recorded), replayed directly — reads exactly (same
           items, key condition, limit, paging); a transaction as a TransactWriteItems with the same
           number and kinds of items (put → Put with attribute_not_exists, check → ConditionCheck,
           update → Update SET) on bench keys; the id allocator's UpdateItem (1 per 1,000 creates) is
           not replayed. DynamoDB: SDK commands on the store's client. SQLite: better-sqlite3
           statements on a second connection with the store's pragmas (WAL, synchronous = FULL);
           each item read is decoded with JSON.parse, a transaction is BEGIN IMMEDIATE + per item a
           SELECT/JSON.parse (the condition read) and an INSERT OR REPLACE of JSON.stringify + COMMIT.
  op/s     median over 6 alternating rounds (raw, engine, raw, engine, …)
  ratio    engine / raw (target ≥ 0.8; "<" marks a miss). The three as-of rows send the same
           request: their spread shows the run's noise (DynamoDB Local shares the CPU with the bench)
  requests measured by store.requestCounts() during the engine runs, per operation`;

export async function run(args: string[]): Promise<void> {
  const chosen = args.length === 0 ? BACKENDS : BACKENDS.filter((b) => args.includes(b.name));
  if (chosen.length === 0 || chosen.length < new Set(args).size)
    throw new Error(
      `no such backend in ${args.join(", ")} (have: ${BACKENDS.map((b) => b.name).join(", ")})`,
    );
  console.log(
    `metadata benchmark: namespace engine vs raw requests, sequential, ${MEASURE_MS} ms${process.env.STRATA_BENCH_CLOCK === "cpu" ? " of CPU time" : ""} measured per side and row`,
  );
  const failed: string[] = [];
  for (const backend of chosen) {
    const started = performance.now();
    process.stdout.write(`  ${backend.name}: starting\n`);
    try {
      const { store, stop } = await backend.start();
      try {
        const rows = await benchStore(store, (s) => process.stdout.write(`  ${backend.name}: ${s}\n`));
        const secs = ((performance.now() - started) / 1000).toFixed(0);
        console.log(`\n${backend.name} (${secs} s)\n${format(rows)}\n`);
        const misses = rows.filter((r) => !r.ok).map((r) => r.op);
        if (misses.length > 0) {
          console.log(`${backend.name}: cost target missed by ${misses.join(", ")}\n`);
          process.exitCode = 1;
        }
      } finally {
        await stop();
      }
    } catch (err) {
      failed.push(`${backend.name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
  console.log(LEGEND);
  if (failed.length > 0) {
    console.log(`\nnot measured:\n${failed.map((f) => `  ${f}`).join("\n")}`);
    process.exitCode = 1;
  }
}
