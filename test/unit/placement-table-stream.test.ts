/**
 * The DynamoDB Streams trigger on synthesized stream records: the change-index items the engine
 * really wrote (read back from SQLite, marshalled as the stream delivers them), objective items
 * and a volume turning draining → one placement job per affected file.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import type { Item } from "../../core/metadata/port.ts";
import type { FileSystem, Namespace } from "../../core/namespace/api.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import {
  type AttributeValue,
  createTableStreamHandler,
  type StreamRecord,
} from "../../functions/triggers/table-stream.ts";
import { openPlacement, type PlacementServices } from "../../runtime/services.ts";

function toAttribute(v: unknown): AttributeValue {
  if (typeof v === "string") return { S: v };
  if (typeof v === "number") return { N: String(v) };
  if (typeof v === "boolean") return { BOOL: v };
  if (v === null || v === undefined) return { NULL: true };
  if (Array.isArray(v)) return { L: v.map(toAttribute) };
  return { M: Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, toAttribute(x)])) };
}

function record(eventName: StreamRecord["eventName"], item: Item, old?: Item): StreamRecord {
  const marshal = (i: Item) => Object.fromEntries(Object.entries(i).map(([k, v]) => [k, toAttribute(v)]));
  return {
    eventName,
    dynamodb: {
      Keys: { pk: { S: item.pk }, sk: { S: item.sk } },
      ...(eventName !== "REMOVE" ? { NewImage: marshal(item) } : {}),
      ...(old ? { OldImage: marshal(old) } : {}),
    },
  };
}

describe("table-stream trigger (synthesized DynamoDB Stream records)", () => {
  let dir: string;
  let store: SqliteMetadataStore;
  let ns: Namespace;
  let fs: FileSystem;
  let p: PlacementServices;
  let pfsId: string;

  /** Change-index items written since the last call, as INSERT stream records. */
  let seen = new Set<string>();
  async function newChanges(): Promise<StreamRecord[]> {
    const out: StreamRecord[] = [];
    for (let shard = 0; shard < 8; shard++) {
      const page = await store.query(`chg#${pfsId}#${shard}`, {});
      for (const item of page.items) {
        const id = `${item.pk}/${item.sk}`;
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(record("INSERT", item));
      }
    }
    return out;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-table-stream-"));
    store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
    ns = createNamespace({ store });
    pfsId = (await ns.createPfs("main")).id;
    fs = ns.pfs("main");
    p = openPlacement({
      store,
      namespace: ns,
      defaultVolume: "home",
      data: { chunkSize: 64 * 1024, sha256: nodeSha256 },
    });
    await p.volumes.add({ name: "home", kind: "local", config: { root: join(dir, "home") } });
    await fs.mkdir("/show/shot42", { recursive: true });
    await fs.mkdir("/show/shot43", { recursive: true });
    for (const f of ["/show/shot42/a", "/show/shot42/b", "/show/shot43/c"])
      await p.data.writeFile(fs, f, new Uint8Array(70_000).fill(1));
    seen = new Set();
    await newChanges();
  });

  afterEach(async () => {
    await p.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const handler = () => createTableStreamHandler({ store, namespace: ns, placement: p.placement });
  const paths = (jobs: Array<{ pfs: string; path: string }>) => jobs.map((j) => `${j.pfs}:${j.path}`).sort();

  it("a tag on a directory → every file under it", async () => {
    await fs.setTag("/show/shot42", "render-site", "gcs-eu");
    const jobs = await handler()({ Records: await newChanges() });
    expect(paths(jobs)).toEqual(["main:/show/shot42/a", "main:/show/shot42/b"]);
  });

  it("a new file (its directory entry) → that file; the stream's batches may be a bare array (Pipes)", async () => {
    await p.data.writeFile(fs, "/show/shot43/d", new Uint8Array(70_000).fill(2));
    expect(paths(await handler()(await newChanges()))).toEqual(["main:/show/shot43/d"]);
  });

  it("an objective item (set or removed) → the subtree it is attached to", async () => {
    await p.placement.setObjectives("main", "/show/shot43", "place 1 on any");
    const item = (await store.query("objective#main", {})).items[0]!;
    expect(paths(await handler()([record("INSERT", item)]))).toEqual(["main:/show/shot43/c"]);
    expect(paths(await handler()([record("REMOVE", item, item)]))).toEqual(["main:/show/shot43/c"]);
  });

  it("a volume turning draining → every file; other records are ignored", async () => {
    const vol = (await store.get({ pk: "volume", sk: "home" }))!;
    const drained = { ...vol, state: "draining" };
    expect(paths(await handler()([record("MODIFY", drained, vol)]))).toEqual([
      "main:/show/shot42/a",
      "main:/show/shot42/b",
      "main:/show/shot43/c",
    ]);
    expect(await handler()([record("MODIFY", drained, drained)])).toEqual([]);
    const chunkRecord = record("INSERT", { pk: "chunk#00", sk: "inst#home", state: "present" });
    expect(await handler()([chunkRecord])).toEqual([]);
  });
});
