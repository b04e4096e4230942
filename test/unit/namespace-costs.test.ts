import { describe, expect, it } from "vitest";
import type { RequestCounts } from "../../core/metadata/port.ts";
import { itemSize } from "../../core/metadata/values.ts";
import type { BatchOp } from "../../core/namespace/index.ts";
import { codeOf, setup } from "./namespace-helpers.ts";

/** Only the kinds that were used, so expectations read as the exact cost. */
function used(counts: RequestCounts): Partial<RequestCounts> {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
}

describe("namespace: cost targets (store.requestCounts)", () => {
  it("create = one TransactWriteItems when the parent is resolved; + one GetItem per path component", async () => {
    const { fs, store } = await setup();
    await fs.mkdir("/a");
    await fs.create("/warm");
    store.resetRequestCounts();
    await fs.create("/f");
    expect(used(store.requestCounts())).toEqual({ TransactWriteItems: 1 });
    store.resetRequestCounts();
    await fs.create("/a/f");
    expect(used(store.requestCounts())).toEqual({ GetItem: 1, TransactWriteItems: 1 });
  });

  it("object ids cost one UpdateItem per 1,000", async () => {
    const { fs, store } = await setup();
    store.resetRequestCounts();
    const ops: BatchOp[] = [];
    for (let i = 0; i < 990; i++) ops.push({ op: "create", path: `/f${i}` });
    for (let i = 0; i < ops.length; i += 30) await fs.batch(ops.slice(i, i + 30));
    // createPfs used 2 ids of the first lease; 990 more fit in it.
    expect(store.requestCounts().UpdateItem).toBe(0);
    for (let i = 0; i < 20; i++) await fs.create(`/g${i}`);
    expect(store.requestCounts().UpdateItem).toBe(1);
  });

  it("stat = one Query for the inode (+ one GetItem per path component)", async () => {
    const { fs, store } = await setup();
    await fs.create("/f");
    store.resetRequestCounts();
    await fs.stat("/");
    expect(used(store.requestCounts())).toEqual({ Query: 1 });
    store.resetRequestCounts();
    await fs.stat("/f");
    expect(used(store.requestCounts())).toEqual({ GetItem: 1, Query: 1 });
  });

  for (const depth of [1, 100, 1000]) {
    it(`as-of stat = one Query at history depth ${depth}`, async () => {
      const { fs, store, clock } = await setup();
      await fs.create("/f");
      const tids: string[] = [];
      for (let i = 1; i < depth; i++) {
        clock.tick(1);
        tids.push((await fs.setattr("/f", { mtimeMs: i })).tid);
      }
      const points = [await fs.currentTid(), tids[Math.floor(tids.length / 2)] ?? (await fs.stat("/f")).tid];
      for (const t of points) {
        await fs.stat("/f", { asOf: t }); // closes t once and caches the immutable lookup
        store.resetRequestCounts();
        const st = await fs.stat("/f", { asOf: t });
        expect(used(store.requestCounts())).toEqual({ Query: 1 });
        expect(st.tid <= t).toBe(true);
      }
      expect((await fs.history("/f")).length).toBe(depth);
    });
  }

  it("rename = one TransactWriteItems whatever the size of the moved subtree", async () => {
    const { fs, store } = await setup();
    await fs.mkdir("/src/sub", { recursive: true });
    const ops: BatchOp[] = [];
    for (let i = 0; i < 300; i++) ops.push({ op: "create", path: `/src/sub/f${i}` });
    for (let i = 0; i < ops.length; i += 30) await fs.batch(ops.slice(i, i + 30));
    await fs.mkdir("/dst");
    store.resetRequestCounts();
    await fs.rename("/src", "/dst/moved");
    expect(store.requestCounts().TransactWriteItems).toBe(1);
    expect((await fs.readdir("/dst/moved/sub")).entries.length).toBe(300);
  });

  it("readdir of n entries = ⌈bytes / 1 MB⌉ queries", async () => {
    const { fs, store } = await setup();
    await fs.mkdir("/d");
    const ops: BatchOp[] = [];
    for (let i = 0; i < 4000; i++)
      ops.push({ op: "create", path: `/d/${String(i).padStart(5, "0")}${"n".repeat(250)}` });
    for (let i = 0; i < ops.length; i += 30) await fs.batch(ops.slice(i, i + 30));
    let bytes = 0;
    let cursor: string | undefined;
    const all = await (async () => {
      const ino = (await fs.stat("/d")).ino;
      const pfsId = (
        await (await import("../../core/namespace/index.ts")).createNamespace({ store }).listPfs()
      )[0]!.id;
      do {
        const page = await store.query(`dir#${pfsId}#${ino}`, cursor ? { cursor } : {});
        for (const item of page.items) bytes += itemSize(item);
        cursor = page.cursor;
      } while (cursor);
    })();
    void all;
    store.resetRequestCounts();
    let n = 0;
    cursor = undefined;
    do {
      const page = await fs.readdir("/d", cursor ? { cursor } : {});
      n += page.entries.length;
      cursor = page.cursor;
    } while (cursor);
    expect(n).toBe(4000);
    expect(bytes).toBeGreaterThan(1024 * 1024);
    expect(store.requestCounts().Query).toBe(Math.ceil(bytes / (1024 * 1024)));
  });
});

describe("namespace: batch", () => {
  it("commits all ops in one transaction; later ops see earlier ones", async () => {
    const { fs, store } = await setup();
    store.resetRequestCounts();
    const tid = await fs.batch([
      { op: "mkdir", path: "/d" },
      { op: "create", path: "/d/f" },
      { op: "setTag", path: "/d/f", key: "k", value: "v" },
      { op: "writeContent", path: "/d/f", content: { size: 1, inline: new Uint8Array([1]) } },
      { op: "link", existing: "/d/f", path: "/d/g" },
      { op: "rename", from: "/d/g", to: "/h" },
      { op: "symlink", target: "/h", path: "/s" },
      { op: "create", path: "/tmp" },
      { op: "unlink", path: "/tmp" },
      { op: "mkdir", path: "/e" },
      { op: "rmdir", path: "/e" },
    ]);
    expect(store.requestCounts().TransactWriteItems).toBe(1);
    const st = await fs.stat("/d/f");
    expect(st).toMatchObject({ tid, nlink: 2, size: 1 });
    expect(await fs.getTags("/h")).toEqual({ k: "v" });
    expect((await fs.readdir("/")).entries.map((e) => e.name)).toEqual(["d", "h", "s"]);
    // One version per inode per transaction.
    expect((await fs.history("/d/f")).length).toBe(1);
  });

  it("writes nothing when one op fails", async () => {
    const { fs } = await setup();
    await fs.create("/x");
    const before = await fs.readdir("/");
    expect(
      await codeOf(
        fs.batch([
          { op: "create", path: "/a" },
          { op: "create", path: "/x" },
        ]),
      ),
    ).toBe("EEXIST");
    expect(await fs.readdir("/")).toEqual(before);
  });

  it("rejects bad input before anything, and E2BIG beyond one transaction", async () => {
    const { fs, store } = await setup();
    store.resetRequestCounts();
    expect(
      await codeOf(
        fs.batch([
          { op: "create", path: "/ok" },
          { op: "create", path: "bad" },
        ]),
      ),
    ).toBe("EINVAL");
    expect(await codeOf(fs.batch([]))).toBe("EINVAL");
    expect(store.requestCounts().TransactWriteItems).toBe(0);
    const ops: BatchOp[] = [];
    for (let i = 0; i < 40; i++) ops.push({ op: "create", path: `/f${i}` });
    expect(await codeOf(fs.batch(ops))).toBe("E2BIG");
    expect((await fs.readdir("/")).entries).toEqual([]);
  });
});

describe("namespace: CRC", () => {
  it("a flipped byte in an inode record is ECORRUPT", async () => {
    const { fs, store } = await setup();
    const f = await fs.create("/f");
    const pfsId = (
      await (await import("../../core/namespace/index.ts")).createNamespace({ store }).listPfs()
    )[0]!.id;
    const page = await store.query(`ino#${pfsId}#${f.ino}`, { sk: { op: "beginsWith", value: "v#" } });
    const item = page.items[0]!;
    await store.put({ ...item, mode: 0o777 });
    expect(await codeOf(fs.stat("/f"))).toBe("ECORRUPT");
  });

  it("a flipped byte in a directory entry is ECORRUPT", async () => {
    const { fs, store } = await setup();
    await fs.create("/f");
    const pfsId = (
      await (await import("../../core/namespace/index.ts")).createNamespace({ store }).listPfs()
    )[0]!;
    const entry = (await store.get({ pk: `dir#${pfsId.id}#${pfsId.rootIno}`, sk: "f" }))!;
    await store.put({ ...entry, type: "dir" });
    expect(await codeOf(fs.stat("/f"))).toBe("ECORRUPT");
    expect(await codeOf(fs.readdir("/"))).toBe("ECORRUPT");
  });
});
