import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { isStrataError } from "../../core/errors.ts";
import { testMetadataStore } from "../conformance/metadata-store.ts";

testMetadataStore("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-sqlite-"));
  const path = join(dir, "metadata.db");
  let now = 1_700_000_000_000;
  const clock = () => now;
  const store = new SqliteMetadataStore({ path, clock });
  return {
    store,
    reopen: async () => new SqliteMetadataStore({ path, clock }),
    advanceClock: (ms) => {
      now += ms;
    },
    dispose: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe("sqlite metadata store: the file", () => {
  let dir: string;
  let path: string;
  const open: Array<{ close(): unknown }> = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-sqlite-"));
    path = join(dir, "metadata.db");
  });
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
    await rm(dir, { recursive: true, force: true });
  });
  const store = (options: { busyTimeoutMs?: number } = {}) => {
    const s = new SqliteMetadataStore({ path, ...options });
    open.push(s);
    return s;
  };
  const raw = () => {
    const db = new Database(path);
    open.push(db);
    return db;
  };
  const codeOf = async (promise: Promise<unknown>) =>
    await promise.then(
      () => "ok",
      (err: unknown) => (isStrataError(err) ? err.code : String(err)),
    );

  it("keeps acknowledged writes across close and reopen, in WAL mode", async () => {
    const first = new SqliteMetadataStore({ path });
    await first.put({ pk: "p", sk: "a", bytes: new Uint8Array([1, 2]) });
    await first.close();
    expect(await store().get({ pk: "p", sk: "a" })).toEqual({
      pk: "p",
      sk: "a",
      bytes: new Uint8Array([1, 2]),
    });
    expect(raw().pragma("journal_mode", { simple: true })).toBe("wal");
  });

  it("shows one connection's writes to another at once", async () => {
    const a = store();
    const b = store();
    await a.put({ pk: "p", sk: "a", v: 1 });
    expect(await b.get({ pk: "p", sk: "a" })).toEqual({ pk: "p", sk: "a", v: 1 });
  });

  it("answers ETHROTTLED when another connection holds the write lock past the busy timeout", async () => {
    const s = store({ busyTimeoutMs: 50 });
    await s.put({ pk: "p", sk: "a" });
    const locker = raw();
    locker.exec("BEGIN IMMEDIATE");
    expect(await codeOf(s.put({ pk: "p", sk: "b" }))).toBe("ETHROTTLED");
    locker.exec("ROLLBACK");
    await s.put({ pk: "p", sk: "b" });
    expect(await s.get({ pk: "p", sk: "b" })).toEqual({ pk: "p", sk: "b" });
  });

  it("refuses a file that is not a database with ECORRUPT", async () => {
    await writeFile(path, Buffer.alloc(4096, 0x5a));
    let code: string | undefined;
    try {
      store();
    } catch (err) {
      code = isStrataError(err) ? err.code : String(err);
    }
    expect(code).toBe("ECORRUPT");
  });

  it("reports a damaged item as ECORRUPT on get and query", async () => {
    const s = store();
    await s.put({ pk: "p", sk: "a" });
    raw().prepare("UPDATE items SET item = ? WHERE pk = 'p' AND sk = 'a'").run(Buffer.from("{not json"));
    expect(await codeOf(s.get({ pk: "p", sk: "a" }))).toBe("ECORRUPT");
    expect(await codeOf(s.query("p"))).toBe("ECORRUPT");
  });
});
