/**
 * The namespace engine's own suite on a real MetadataStore (SQLite, DynamoDB Local): the cost
 * targets through `store.requestCounts()`, the TID rules with two engines on skewed clocks, CRC
 * checking, and the race-sensitive operations (rmdir vs create, opposite directory moves).
 * The unit tests (test/unit/namespace-*.test.ts) cover every operation and error on the memory
 * store; this suite proves the store-dependent parts hold on each backend.
 */
import { describe, expect, it } from "vitest";
import type { MetadataStore, RequestCounts } from "../../core/metadata/port.ts";
import {
  type BatchOp,
  createNamespace,
  type FileSystem,
  type Namespace,
} from "../../core/namespace/index.ts";

export type EngineStoreFactory = () => Promise<{ store: MetadataStore; dispose: () => Promise<void> }>;

export interface EngineSuiteOptions {
  /** History depths for the as-of cost test (default [1, 100, 1000]). */
  depths?: number[];
}

function used(counts: RequestCounts): Partial<RequestCounts> {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return "ok";
}

export function testNamespaceEngine(
  name: string,
  factory: EngineStoreFactory,
  options: EngineSuiteOptions = {},
) {
  const depths = options.depths ?? [1, 100, 1000];

  /** A fresh store, a namespace with a manual clock and PFS "main". */
  async function withFs(
    body: (ctx: {
      store: MetadataStore;
      ns: Namespace;
      fs: FileSystem;
      clock: { now: () => number; tick: (ms: number) => void };
    }) => Promise<void>,
  ) {
    const { store, dispose } = await factory();
    let now = Date.UTC(2026, 0, 1);
    const clock = {
      now: () => now,
      tick: (ms: number) => {
        now += ms;
      },
    };
    try {
      const ns = createNamespace({ store, clock: clock.now, options: { sleep: async () => {} } });
      await ns.createPfs("main");
      await body({ store, ns, fs: ns.pfs("main"), clock });
    } finally {
      await dispose();
    }
  }

  const bulkCreate = async (fs: FileSystem, paths: string[]) => {
    const ops: BatchOp[] = paths.map((path) => ({ op: "create", path }));
    for (let i = 0; i < ops.length; i += 30) await fs.batch(ops.slice(i, i + 30));
  };

  describe(`namespace engine on ${name}`, () => {
    it("creates, stats, reads directories and renames through the store", async () => {
      await withFs(async ({ fs }) => {
        await fs.mkdir("/a/b", { recursive: true });
        const f = await fs.create("/a/b/f", { content: { size: 2, inline: new Uint8Array([1, 2]) } });
        expect(await fs.stat("/a/b/f")).toEqual(f);
        await fs.rename("/a/b", "/c");
        expect((await fs.readdir("/")).entries.map((e) => e.name)).toEqual(["a", "c"]);
        expect((await fs.stat("/c/f")).content?.inline).toEqual(new Uint8Array([1, 2]));
        await fs.setXattr("/c/f", "user.x", new Uint8Array([9]));
        expect(await fs.getXattr("/c/f", "user.x")).toEqual(new Uint8Array([9]));
      });
    });

    it("create = one TransactWriteItems in a resolved parent", async () => {
      await withFs(async ({ fs, store }) => {
        await fs.create("/warm");
        store.resetRequestCounts();
        await fs.create("/f");
        expect(used(store.requestCounts())).toEqual({ TransactWriteItems: 1 });
      });
    });

    for (const depth of depths)
      it(`as-of stat = one Query at history depth ${depth}`, async () => {
        await withFs(async ({ fs, store, clock }) => {
          await fs.create("/f");
          const ops: BatchOp[] = [];
          for (let i = 1; i < depth; i++) ops.push({ op: "setattr", path: "/f", attrs: { mtimeMs: i } });
          // One version per transaction: each op its own batch.
          for (const op of ops) {
            clock.tick(1);
            await fs.batch([op]);
          }
          const t = await fs.currentTid();
          await fs.stat("/f", { asOf: t });
          store.resetRequestCounts();
          const st = await fs.stat("/f", { asOf: t });
          expect(used(store.requestCounts())).toEqual({ Query: 1 });
          expect(st.mtimeMs).toBe(depth === 1 ? st.mtimeMs : depth - 1);
        });
      });

    it("rename = one TransactWriteItems whatever the size of the moved subtree", async () => {
      await withFs(async ({ fs, store }) => {
        await fs.mkdir("/src");
        await bulkCreate(
          fs,
          Array.from({ length: 120 }, (_, i) => `/src/f${i}`),
        );
        store.resetRequestCounts();
        await fs.rename("/src", "/dst");
        expect(store.requestCounts().TransactWriteItems).toBe(1);
        expect((await fs.readdir("/dst")).entries.length).toBe(120);
      });
    });

    it("readdir of 1,000 small entries = one Query", async () => {
      await withFs(async ({ fs, store }) => {
        await fs.mkdir("/d");
        await bulkCreate(
          fs,
          Array.from({ length: 1000 }, (_, i) => `/d/${String(i).padStart(4, "0")}`),
        );
        store.resetRequestCounts();
        const page = await fs.readdir("/d");
        expect(page.entries.length).toBe(1000);
        expect(page.cursor).toBeUndefined();
        expect(used(store.requestCounts())).toEqual({ GetItem: 1, Query: 1 });
      });
    });

    it("as-of reads are stable; a commit overtaken by a close lands above it (skewed clocks)", async () => {
      await withFs(async ({ fs, store, clock }) => {
        await fs.create("/f");
        const ahead = createNamespace({ store, clock: () => clock.now() + 60_000 }).pfs("main");
        const behind = createNamespace({ store, clock: () => clock.now() - 60_000 }).pfs("main");
        const t = await ahead.currentTid();
        const before = await fs.stat("/f", { asOf: t });
        const g = await behind.create("/g");
        await fs.setattr("/f", { mode: 0o600 });
        expect(g.tid > t).toBe(true);
        expect(await fs.stat("/f", { asOf: t })).toEqual(before);
        expect(await behind.stat("/f", { asOf: t })).toEqual(before);
        expect(await codeOf(fs.stat("/g", { asOf: t }))).toBe("ENOENT");
      });
    });

    it("a record changed behind the engine's back is ECORRUPT", async () => {
      await withFs(async ({ fs, store, ns }) => {
        await fs.create("/f");
        const pfs = (await ns.listPfs())[0]!;
        const entry = (await store.get({ pk: `dir#${pfs.id}#${pfs.rootIno}`, sk: "f" }))!;
        await store.put({ ...entry, ino: "0000000000000000" });
        expect(await codeOf(fs.stat("/f"))).toBe("ECORRUPT");
      });
    });

    it("a batch commits all or nothing", async () => {
      await withFs(async ({ fs }) => {
        await fs.create("/x");
        expect(
          await codeOf(
            fs.batch([
              { op: "mkdir", path: "/d" },
              { op: "create", path: "/d/f" },
              { op: "create", path: "/x" },
            ]),
          ),
        ).toBe("EEXIST");
        expect((await fs.readdir("/")).entries.map((e) => e.name)).toEqual(["x"]);
        await fs.batch([
          { op: "mkdir", path: "/d" },
          { op: "create", path: "/d/f" },
          { op: "rename", from: "/x", to: "/d/x" },
        ]);
        expect((await fs.readdir("/d")).entries.map((e) => e.name)).toEqual(["f", "x"]);
      });
    });

    it("racing rmdir and create, and racing opposite moves, leave a consistent tree", async () => {
      await withFs(async ({ fs, store, clock }) => {
        const other = createNamespace({ store, clock: clock.now, options: { sleep: async () => {} } }).pfs(
          "main",
        );
        for (let round = 0; round < 5; round++) {
          await fs.mkdir(`/r${round}`);
          const [rm, cr] = await Promise.allSettled([fs.rmdir(`/r${round}`), other.create(`/r${round}/f`)]);
          expect(rm.status === "fulfilled").toBe(cr.status === "rejected");
          if (cr.status === "fulfilled") expect((await fs.readdir(`/r${round}`)).entries.length).toBe(1);
          await fs.mkdir(`/a${round}`);
          await fs.mkdir(`/b${round}`);
          const moves = await Promise.allSettled([
            fs.rename(`/a${round}`, `/b${round}/a`),
            other.rename(`/b${round}`, `/a${round}/b`),
          ]);
          expect(moves.filter((m) => m.status === "fulfilled").length).toBe(1);
        }
        // Every directory reachable from the root, none twice: no cycle, no orphan.
        const seen = new Set<string>();
        const walk = async (path: string) => {
          for (const e of (await fs.readdir(path)).entries) {
            expect(seen.has(e.ino)).toBe(false);
            seen.add(e.ino);
            if (e.type === "dir") await walk(`${path === "/" ? "" : path}/${e.name}`);
          }
        };
        await walk("/");
      });
    });
  });
}
