/**
 * Multi-master, first step: two masters of one PFS (a mirror promoted while its source kept
 * writing) exchange streams. Changes made on one side only reach the other; conflicting ones keep
 * both versions (`name#S!=<site>`); after exchanges in both directions both sides hold the same
 * names and contents.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DataPlane } from "../../core/data/api.ts";
import { isStrataError } from "../../core/errors.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import {
  createMirror,
  exchange,
  type MasterRef,
  promoteMirror,
  runMirror,
  startExchange,
} from "../../core/mirror/index.ts";
import type { FileSystem, ReadableFileSystem } from "../../core/namespace/index.ts";
import { bytesOf, deployment, sourceOf } from "../support/mirror.ts";

/** Names, types, bytes, tags and modes — what two masters must agree on (not ids or TIDs). */
async function view(fs: ReadableFileSystem, data: DataPlane): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const visit = async (p: string): Promise<void> => {
    const st = await fs.lstat(p);
    out[p] = {
      type: st.type,
      mode: st.mode,
      tags: await fs.getTags(p),
      ...(st.type === "file" ? { bytes: Buffer.from(await data.readFile(fs, p)).toString("hex") } : {}),
    };
    if (st.type === "dir")
      for (const e of (await fs.readdir(p)).entries) await visit(p === "/" ? `/${e.name}` : `${p}/${e.name}`);
  };
  await visit("/");
  return out;
}

async function twoMasters() {
  const a = deployment(new MemoryMetadataStore(), 1, "va", 1);
  await a.ns.createPfs("main");
  const fsA = a.ns.pfs("main");
  await fsA.mkdir("/d");
  await a.data.writeFile(fsA, "/d/f", bytesOf(10, 1));
  await a.data.writeFile(fsA, "/d/g", bytesOf(70_000, 2));
  const b = deployment(new MemoryMetadataStore(), 2, "vb", 2);
  const fromA = sourceOf(a, "main");
  await createMirror({ ns: b.ns, volumes: b.volumes }, { name: "main", source: fromA, volumes: ["vb"] });
  const run = await runMirror({ ns: b.ns, volumes: b.volumes }, "main", fromA);
  await promoteMirror({ ns: b.ns, volumes: b.volumes }, "main"); // A keeps writing: two masters
  const fromB = sourceOf(b, "main");
  const A: MasterRef = { ns: a.ns, pfs: "main", site: "a", volumes: a.volumes, place: ["va"] };
  const B: MasterRef = { ns: b.ns, pfs: "main", site: "b", volumes: b.volumes, place: ["vb"] };
  await startExchange(A, "b", run.to);
  await startExchange(B, "a", run.to);
  const fsB = b.ns.pfs("main");
  const conflicts: string[] = [];
  const sync = async () => {
    for (let i = 0; i < 2; i++) {
      for (const r of [await exchange(A, fromB, "b"), await exchange(B, fromA, "a")])
        conflicts.push(...r.conflicts.map((c) => `${c.kind} ${c.kept}`));
    }
  };
  const views = async () => [await view(fsA, a.data), await view(fsB, b.data)] as const;
  return { a, b, fsA, fsB, sync, views, conflicts };
}

describe("two masters exchanging streams", () => {
  it("apply what only one side changed (creates, writes, tags, renames, deletes), both ways", async () => {
    const { a, b, fsA, fsB, sync, views, conflicts } = await twoMasters();
    await a.data.writeFile(fsA, "/d/from-a", bytesOf(70_000, 3));
    await fsA.setTag("/d/g", "site", "a");
    await b.data.writeFile(fsB, "/from-b", bytesOf(5, 4));
    await fsB.mkdir("/d/sub");
    await fsB.rename("/d/f", "/d/sub/f");
    await a.data.writeFile(fsA, "/d/f", bytesOf(10, 1)); // unchanged content: nothing to apply
    await sync();
    const [va, vb] = await views();
    expect(va).toEqual(vb);
    expect(Object.keys(va)).toEqual(expect.arrayContaining(["/d/from-a", "/from-b", "/d/sub/f"]));
    expect(conflicts).toEqual([]);
    await fsB.unlink("/from-b");
    await sync();
    const [va2, vb2] = await views();
    expect(va2).toEqual(vb2);
    expect(va2["/from-b"]).toBeUndefined();
  });

  it("create/create keeps both: the first site's version under the name, the other as name#S!=site", async () => {
    const { a, b, fsA, fsB, sync, views, conflicts } = await twoMasters();
    await a.data.writeFile(fsA, "/new", bytesOf(8, 10));
    await b.data.writeFile(fsB, "/new", bytesOf(9, 20));
    await sync();
    const [va, vb] = await views();
    expect(va).toEqual(vb);
    expect(va["/new"]).toMatchObject({ bytes: Buffer.from(bytesOf(8, 10)).toString("hex") });
    expect(va["/new#S!=b"]).toMatchObject({ bytes: Buffer.from(bytesOf(9, 20)).toString("hex") });
    expect(conflicts).toContain("create/create new#S!=b");
  });

  it("update/update keeps both versions of the object", async () => {
    const { a, b, fsA, fsB, sync, views, conflicts } = await twoMasters();
    await a.data.writeFile(fsA, "/d/g", bytesOf(100, 30));
    await b.data.writeFile(fsB, "/d/g", bytesOf(100, 40));
    await sync();
    const [va, vb] = await views();
    expect(va).toEqual(vb);
    expect(va["/d/g"]).toMatchObject({ bytes: Buffer.from(bytesOf(100, 30)).toString("hex") });
    expect(va["/d/g#S!=b"]).toMatchObject({ bytes: Buffer.from(bytesOf(100, 40)).toString("hex") });
    expect(conflicts.some((c) => c.startsWith("update/update"))).toBe(true);
  });

  it("delete/update: the update wins on both sides", async () => {
    const { b, fsA, fsB, sync, views } = await twoMasters();
    await fsA.unlink("/d/f");
    await b.data.writeFile(fsB, "/d/f", bytesOf(12, 50));
    await sync();
    const [va, vb] = await views();
    expect(va).toEqual(vb);
    expect(va["/d/f"]).toMatchObject({ bytes: Buffer.from(bytesOf(12, 50)).toString("hex") });
  });

  it("moves against deletes and against new names converge (cases a randomized run found)", async () => {
    // B deletes what A moves: the move wins, the object comes back on B.
    {
      const { fsA, fsB, sync, views } = await twoMasters();
      await fsB.unlink("/d/f");
      await fsA.rename("/d/f", "/d/moved");
      await sync();
      const [va, vb] = await views();
      expect(vb).toEqual(va);
      expect(va["/d/moved"]).toMatchObject({ bytes: Buffer.from(bytesOf(10, 1)).toString("hex") });
    }
    // A replaces a name and removes it again: B drops what it held there.
    {
      const { a, fsA, sync, views } = await twoMasters();
      await a.data.writeFile(fsA, "/n", bytesOf(4, 4));
      await sync();
      await fsA.rename("/d/f", "/n");
      await fsA.unlink("/n");
      await sync();
      const [va, vb] = await views();
      expect(vb).toEqual(va);
      expect(va["/n"]).toBeUndefined();
    }
    // Both move something onto one new name: create/create, both kept.
    {
      const { b, fsA, fsB, sync, views, conflicts } = await twoMasters();
      await b.data.writeFile(fsB, "/d/c", bytesOf(6, 6));
      await fsB.rename("/d/c", "/d/x");
      await fsA.rename("/d/f", "/d/x");
      await sync();
      const [va, vb] = await views();
      expect(vb).toEqual(va);
      expect(va["/d/x"]).toMatchObject({ bytes: Buffer.from(bytesOf(10, 1)).toString("hex") });
      expect(va["/d/x#S!=b"]).toMatchObject({ bytes: Buffer.from(bytesOf(6, 6)).toString("hex") });
      expect(conflicts.some((c) => c.startsWith("create/create"))).toBe(true);
    }
  });
});

type MasterOp =
  | { op: "write"; name: string; fill: number }
  | { op: "unlink"; name: string }
  | { op: "rename"; from: string; to: string };
const NAME = fc.constantFrom("a", "b", "c");
const masterOp: fc.Arbitrary<MasterOp> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant("write" as const),
      name: NAME,
      fill: fc.integer({ min: 0, max: 255 }),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ op: fc.constant("unlink" as const), name: NAME }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("rename" as const), from: NAME, to: NAME }), weight: 2 },
);
const round = fc.record({ a: fc.array(masterOp, { maxLength: 4 }), b: fc.array(masterOp, { maxLength: 4 }) });

/** Apply one op in /d; the errors a random op meets (ENOENT, …) are part of the workload. */
async function applyMasterOp(fs: FileSystem, data: DataPlane, op: MasterOp): Promise<void> {
  try {
    if (op.op === "write") await data.writeFile(fs, `/d/${op.name}`, bytesOf(4, op.fill));
    else if (op.op === "unlink") await fs.unlink(`/d/${op.name}`);
    else await fs.rename(`/d/${op.from}`, `/d/${op.to}`);
  } catch (err) {
    if (!isStrataError(err) || !["ENOENT", "EEXIST", "EINVAL"].includes(err.code)) throw err;
  }
}

/** Byte contents of the files a view holds. */
const contents = (v: Record<string, unknown>) =>
  new Set(
    Object.values(v).flatMap((e) =>
      (e as { bytes?: string }).bytes ? [(e as { bytes: string }).bytes] : [],
    ),
  );

describe("two masters converge (randomized)", () => {
  // Both sides write, unlink and rename in one directory between exchanges; after two exchanges
  // each way both hold the same tree, and every file a side wrote in a round and still had at
  // its end (a version of a possibly conflicting change) is on both sides.
  for (const seed of [1, 2, 3])
    it(`same trees and no lost version (seed ${seed}, 100 workloads)`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(round, { minLength: 1, maxLength: 4 }), async (rounds) => {
          const { a, b, fsA, fsB, sync, views } = await twoMasters();
          for (const r of rounds) {
            const before = await views();
            for (const op of r.a) await applyMasterOp(fsA, a.data, op);
            for (const op of r.b) await applyMasterOp(fsB, b.data, op);
            const [endA, endB] = await views();
            const written = (end: Record<string, unknown>, start: Record<string, unknown>, ops: MasterOp[]) =>
              [...contents(end)].filter((c) => !contents(start).has(c) && ops.some((o) => o.op === "write"));
            const mustKeep = [...written(endA, before[0], r.a), ...written(endB, before[1], r.b)];
            await sync();
            const [va, vb] = await views();
            expect(vb).toEqual(va);
            for (const c of mustKeep) expect(contents(va).has(c), `version ${c} kept`).toBe(true);
          }
        }),
        { seed, numRuns: 100 },
      );
    }, 300_000);
});
