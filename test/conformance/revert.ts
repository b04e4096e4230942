/**
 * Revert by identity (core/namespace/revert.ts) on a real MetadataStore: a revert follows the
 * object across renames of itself and of its directories, refuses an object that did not exist
 * at the point (nothing written), and a dry run lists the changes without writing anything.
 * Each backend's file in test/adapters/ is a few lines; the memory store runs it in test/unit.
 */
import { describe, expect, it } from "vitest";
import type { MetadataStore } from "../../core/metadata/port.ts";
import { createNamespace, type FileSystem } from "../../core/namespace/index.ts";

export type RevertStoreFactory = () => Promise<{ store: MetadataStore; dispose: () => Promise<void> }>;

const bytes = (text: string) => ({ size: text.length, inline: new TextEncoder().encode(text) });
const text = (st: { content?: { inline?: Uint8Array } }) => new TextDecoder().decode(st.content?.inline);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return "ok";
}

/** Every path below `/` with its object id, version TID and content: any write changes it. */
export async function dumpTree(fs: FileSystem, path = "/"): Promise<string[]> {
  const st = await fs.lstat(path);
  const out = [`${path} ${st.ino} ${st.tid} ${st.type} ${st.mode} ${text(st)}`];
  if (st.type !== "dir") return out;
  for (const e of (await fs.readdir(path)).entries)
    out.push(...(await dumpTree(fs, path === "/" ? `/${e.name}` : `${path}/${e.name}`)));
  return out;
}

/**
 * Writes other than the reader's TID lease (one PutItem, then its DeleteItem): every namespace
 * change is a TransactWriteItems (closing a TID is one too, so callers close before measuring).
 */
function writesOf(store: MetadataStore): number {
  const c = store.requestCounts();
  return c.TransactWriteItems + c.UpdateItem + Math.abs(c.PutItem - c.DeleteItem);
}

export function testRevertByIdentity(
  name: string,
  factory: RevertStoreFactory,
  /** `big: false` leaves out the 60-file fallback case (slow per request on DynamoDB Local). */
  options: { big?: boolean } = {},
) {
  async function withFs(body: (ctx: { store: MetadataStore; fs: FileSystem }) => Promise<void>) {
    const { store, dispose } = await factory();
    try {
      const ns = createNamespace({ store, options: { sleep: async () => {} } });
      await ns.createPfs("main");
      await body({ store, fs: ns.pfs("main") });
    } finally {
      await dispose();
    }
  }

  describe(`revert by identity on ${name}`, () => {
    it("a file moved with its parent gets its content of then back at its current path", async () => {
      await withFs(async ({ fs }) => {
        // The case: revert used to resolve /demo/final/a.txt as of T (absent) and delete it.
        await fs.mkdir("/demo/shots", { recursive: true });
        const a = await fs.create("/demo/shots/a.txt", { content: bytes("take 1") });
        const t = await fs.currentTid();
        await fs.writeContent("/demo/shots/a.txt", bytes("take 2"));
        await fs.rename("/demo/shots", "/demo/final");
        const tid = await fs.revert("/demo/final/a.txt", t);
        const st = await fs.stat("/demo/final/a.txt");
        expect(st.ino).toBe(a.ino);
        expect(text(st)).toBe("take 1");
        expect(st.tid).toBe(tid);
        expect((await fs.readdir("/demo")).entries.map((e) => e.name)).toEqual(["final"]);
        // The path-as-of behaviour is still there when asked for: at T that path named nothing.
        await fs.revert("/demo/final/a.txt", t, { byPath: true });
        expect(await codeOf(fs.stat("/demo/final/a.txt"))).toBe("ENOENT");
      });
    });

    it("a directory reverted after renames inside it (and of itself) gets its names and contents of then", async () => {
      await withFs(async ({ fs }) => {
        await fs.mkdir("/d/sub", { recursive: true });
        const a = await fs.create("/d/a.txt", { content: bytes("a1") });
        const b = await fs.create("/d/sub/b.txt", { content: bytes("b1") });
        const t = await fs.currentTid();
        await fs.rename("/d/a.txt", "/d/a2.txt");
        await fs.writeContent("/d/a2.txt", bytes("a2"));
        await fs.rename("/d/sub", "/d/sub2");
        await fs.writeContent("/d/sub2/b.txt", bytes("b2"));
        await fs.create("/d/new.txt", { content: bytes("n") });
        await fs.rename("/d", "/e");
        const plan = await fs.revert("/e", t, { recursive: true, dryRun: true });
        expect(plan).toEqual({
          created: ["/e/a.txt", "/e/sub"],
          changed: ["/e/sub/b.txt"],
          removed: ["/e/a2.txt", "/e/new.txt", "/e/sub2"],
        });
        await fs.revert("/e", t, { recursive: true });
        expect((await fs.readdir("/e")).entries.map((e) => e.name)).toEqual(["a.txt", "sub"]);
        const a2 = await fs.stat("/e/a.txt");
        expect([a2.ino, text(a2)]).toEqual([a.ino, "a1"]);
        const b2 = await fs.stat("/e/sub/b.txt");
        expect([b2.ino, text(b2)]).toEqual([b.ino, "b1"]);
        expect(await codeOf(fs.stat("/d"))).toBe("ENOENT"); // the directory stays where it is now
        // Nothing left to do: a second dry run lists nothing.
        expect(await fs.revert("/e", t, { recursive: true, dryRun: true })).toEqual({
          created: [],
          changed: [],
          removed: [],
        });
      });
    });

    it("an object that did not exist at the point is refused with ENOENT naming it, and nothing is written", async () => {
      await withFs(async ({ store, fs }) => {
        await fs.mkdir("/d");
        await fs.create("/d/f", { content: bytes("old") });
        const t = await fs.currentTid();
        await fs.unlink("/d/f");
        await fs.create("/d/f", { content: bytes("new") }); // same path, another object
        await fs.mkdir("/d/later");
        await fs.currentTid(); // closes past T: reading at T writes nothing
        const before = await dumpTree(fs);
        store.resetRequestCounts();
        for (const [path, options] of [
          ["/d/f", {}],
          ["/d/later", { recursive: true }],
          ["/d/f", { dryRun: true }],
        ] as const) {
          const err = await fs.revert(path, t, options).then(
            () => undefined,
            (e: { code: string; message: string }) => e,
          );
          expect(err?.code).toBe("ENOENT");
          expect(err?.message).toContain(t);
        }
        expect(writesOf(store)).toBe(0);
        expect(await dumpTree(fs)).toEqual(before);
        // By path, the old object comes back under that name.
        await fs.revert("/d/f", t, { byPath: true });
        expect(text(await fs.stat("/d/f"))).toBe("old");
      });
    });

    it("a dry run lists what a revert would change and writes nothing", async () => {
      await withFs(async ({ store, fs }) => {
        await fs.mkdir("/p/q", { recursive: true });
        await fs.create("/p/q/x", { content: bytes("x1") });
        await fs.create("/p/keep", { content: bytes("k") });
        const t = await fs.currentTid();
        await fs.writeContent("/p/q/x", bytes("x2"));
        await fs.unlink("/p/keep");
        await fs.mkdir("/p/n/deep", { recursive: true });
        await fs.currentTid();
        const before = await dumpTree(fs);
        store.resetRequestCounts();
        const plan = await fs.revert("/p", t, { recursive: true, dryRun: true });
        expect(writesOf(store)).toBe(0);
        expect(await dumpTree(fs)).toEqual(before);
        expect(plan).toEqual({ created: ["/p/keep"], changed: ["/p/q/x"], removed: ["/p/n"] });
        // Not recursive: only the directory object itself (unchanged here).
        expect(await fs.revert("/p", t, { dryRun: true })).toEqual({ created: [], changed: [], removed: [] });
        // The revert then does what the plan said.
        await fs.revert("/p", t, { recursive: true });
        expect((await fs.readdir("/p")).entries.map((e) => e.name)).toEqual(["keep", "q"]);
        expect(text(await fs.stat("/p/q/x"))).toBe("x1");
      });
    });

    it.skipIf(options.big === false)(
      "a recursive revert too big for one transaction gives the same result step by step",
      async () => {
        await withFs(async ({ store, fs }) => {
          await fs.mkdir("/big/in", { recursive: true });
          for (let i = 0; i < 60; i += 20)
            await fs.batch(
              Array.from({ length: 20 }, (_, j) => ({
                op: "create" as const,
                path: `/big/in/f${i + j}`,
                options: { content: bytes(`v1-${i + j}`) },
              })),
            );
          const t = await fs.currentTid();
          for (let i = 0; i < 60; i += 20)
            await fs.batch(
              Array.from({ length: 20 }, (_, j) => ({
                op: "writeContent" as const,
                path: `/big/in/f${i + j}`,
                content: bytes(`v2-${i + j}`),
              })),
            );
          await fs.rename("/big/in", "/big/out");
          store.resetRequestCounts();
          await fs.revert("/big", t, { recursive: true });
          expect(store.requestCounts().TransactWriteItems).toBeGreaterThan(1);
          expect((await fs.readdir("/big")).entries.map((e) => e.name)).toEqual(["in"]);
          for (let i = 0; i < 60; i++) expect(text(await fs.stat(`/big/in/f${i}`))).toBe(`v1-${i}`);
        });
      },
    );
  });
}
