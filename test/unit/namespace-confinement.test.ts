/**
 * Confined views (`ns.pfs(name, { beneath })`, docs/namespace.md "Confinement"): what resolution
 * decides, and the revert fence with its counter-check. The random property over every API
 * operation is test/unit/confinement-property.test.ts.
 */
import { describe, expect, it } from "vitest";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { Engine } from "../../core/namespace/engine.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { planRevert } from "../../core/namespace/ops.ts";
import { AsOfReader, TxReader } from "../../core/namespace/resolve.ts";
import { failureOf } from "../support/errors.ts";

const bytes = (text: string) => ({ size: text.length, inline: new TextEncoder().encode(text) });

async function world() {
  const ns = createNamespace({ store: new MemoryMetadataStore() });
  await ns.createPfs("p");
  const fs = ns.pfs("p");
  await fs.mkdir("/a/b", { recursive: true });
  await fs.mkdir("/x");
  await fs.create("/x/secret", { content: bytes("s") });
  await fs.create("/a/f", { content: bytes("f") });
  return { ns, fs, a: ns.pfs("p", { beneath: "/a" }) };
}

const code = async (p: Promise<unknown>) => (await failureOf(p)).code;

describe("confined resolution", () => {
  it("follows symlinks that stay beneath the prefix and refuses the ones that leave it", async () => {
    const { fs, a } = await world();
    await fs.symlink("/a/b", "/a/abs-in");
    await fs.symlink("/x", "/a/abs-out");
    await fs.symlink("../x", "/a/rel-out");
    await fs.symlink("b/../../a/f", "/a/rel-in"); // leaves lexically, lands inside: cleaned first
    await fs.symlink("/a/hop2", "/a/hop1");
    await fs.symlink("../x", "/a/hop2"); // a chain whose second hop leaves
    await fs.symlink("/a/loop", "/a/loop");
    expect((await a.stat("/a/abs-in")).type).toBe("dir");
    expect((await a.stat("/a/rel-in")).size).toBe(1);
    for (const p of ["/a/abs-out/secret", "/a/rel-out/secret", "/a/hop1/secret", "/x/secret", "/"])
      expect([p, await code(a.stat(p))]).toEqual([p, "EACCES"]);
    expect(await code(a.stat("/a/loop"))).toBe("ELOOP");
    // lstat and readlink of a link that points outside are fine: the link itself is inside.
    expect((await a.lstat("/a/abs-out")).type).toBe("symlink");
    expect(await a.readlink("/a/rel-out")).toBe("../x");
    // Writes through the escaping link are refused and change nothing.
    expect(await code(a.writeContent("/a/rel-out/secret", bytes("owned")))).toBe("EACCES");
    expect(await code(a.mkdir("/a/abs-out/new"))).toBe("EACCES");
    expect((await fs.stat("/x/secret")).size).toBe(1);
    expect((await fs.readdir("/x")).entries.map((e) => e.name)).toEqual(["secret"]);
  });

  it("a symlink on the path to the scope is refused; as-of reads see the tree of their TID", async () => {
    const { ns, fs, a } = await world();
    await fs.symlink("../x", "/a/l");
    const then = await fs.currentTid();
    await fs.unlink("/a/l");
    await fs.mkdir("/a/l");
    expect(await code(a.stat("/a/l/secret", { asOf: then }))).toBe("EACCES");
    expect((await a.stat("/a/l")).type).toBe("dir");
    await fs.rename("/a", "/z");
    await fs.symlink("/z", "/a");
    expect(await code(a.readdir("/a"))).toBe("EACCES");
    expect(await code(ns.pfs("p", { beneath: "/a/b" }).stat("/a/b"))).toBe("EACCES");
  });

  it("rename and link across the edge are EXDEV; mkdir -p starts at the prefix; snapshots are refused", async () => {
    const { fs, a } = await world();
    await fs.symlink("..", "/a/up");
    expect(await code(a.rename("/a/b", "/a/up/b"))).toBe("EXDEV");
    expect(await code(a.link("/a/up/x/secret", "/a/s"))).toBe("EXDEV");
    expect(await code(a.rename("/x/secret", "/y"))).toBe("EACCES"); // both ends outside
    expect((await fs.stat("/x/secret")).nlink).toBe(1);
    expect((await a.mkdir("/a/c/d", { recursive: true })).type).toBe("dir");
    expect(await code(a.createSnapshot("s"))).toBe("EACCES");
    expect(await code(a.batch([{ op: "rename", from: "/a/b", to: "/a/up/b" }]))).toBe("EACCES");
    expect((await fs.stat("/a/b")).type).toBe("dir");
  });
});

describe("confined revert", () => {
  it("restores what lived beneath the prefix", async () => {
    const { fs, a } = await world();
    const then = await fs.currentTid();
    await fs.unlink("/a/f");
    expect(await code(a.revert("/a/f", then))).toBe("ENOENT"); // by identity: no object there now
    await a.revert("/a/f", then, { byPath: true });
    expect((await fs.stat("/a/f")).size).toBe(1);
  });

  it("refuses (EXDEV) to pull back a directory or a file that lives outside the prefix now", async () => {
    const { fs, a } = await world();
    await fs.mkdir("/a/d");
    await fs.create("/a/d/g", { content: bytes("g") });
    const then = await fs.currentTid();
    await fs.rename("/a/d", "/x/d");
    await fs.link("/a/f", "/x/f2");
    await fs.unlink("/a/f");
    expect(await code(a.revert("/a/d", then, { byPath: true }))).toBe("EXDEV");
    expect(await code(a.revert("/a/f", then, { byPath: true }))).toBe("EXDEV");
    expect(await code(a.revert("/a", then, { recursive: true }))).toBe("EXDEV"); // by identity
    expect(await code(a.revert("/a", then, { recursive: true, byPath: true }))).toBe("EXDEV");
    expect((await fs.readdir("/x/d")).entries.map((e) => e.name)).toEqual(["g"]);
    expect((await fs.stat("/x/f2")).nlink).toBe(1);
  });

  it("counter-check: without the fence the same confined revert moves the directory back out of /x", async () => {
    const { ns, fs } = await world();
    await fs.mkdir("/a/d");
    const then = await fs.currentTid();
    await fs.rename("/a/d", "/x/d");
    const engine = ns as unknown as Engine;
    const ctx = { ...(await engine.context("p")), beneath: ["a"] };
    await engine.write(
      "p",
      (tx) => planRevert(engine, tx, ["a", "d"], "/a/d", new AsOfReader(engine, ctx, then), false),
      { beneath: ["a"] },
    );
    expect(await code(fs.stat("/x/d"))).toBe("ENOENT"); // changed outside: what the fence prevents
  });
});

describe("confined writes against a concurrent move", () => {
  /** /a/d moves to /x/d between the confined create's resolution and its commit. */
  async function race() {
    const store = new MemoryMetadataStore();
    const ns = createNamespace({ store });
    await ns.createPfs("p");
    const fs = ns.pfs("p");
    await fs.mkdir("/a/d", { recursive: true });
    await fs.mkdir("/x");
    let armed = true;
    const transact = store.transact.bind(store);
    store.transact = async (ops) => {
      if (armed) {
        armed = false;
        await fs.rename("/a/d", "/x/d");
      }
      return transact(ops);
    };
    const outcome = await ns
      .pfs("p", { beneath: "/a" })
      .create("/a/d/new")
      .then(
        () => "created",
        (err: { code: string }) => err.code,
      );
    return { outcome, landed: (await fs.readdir("/x/d")).entries.map((e) => e.name) };
  }

  it("the commit re-checks the resolved path: a directory moved out meanwhile receives nothing", async () => {
    expect(await race()).toEqual({ outcome: "ENOENT", landed: [] });
  });

  it("counter-check: without pinning the path the create lands in /x/d", async () => {
    const pin = TxReader.prototype.pin;
    (TxReader.prototype as { pin?: unknown }).pin = undefined;
    try {
      expect(await race()).toEqual({ outcome: "created", landed: ["new"] });
    } finally {
      TxReader.prototype.pin = pin;
    }
  });
});
