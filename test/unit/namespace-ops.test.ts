import { describe, expect, it } from "vitest";
import { codeOf, setup } from "./namespace-helpers.ts";

const names = async (fs: Awaited<ReturnType<typeof setup>>["fs"], path: string) =>
  (await fs.readdir(path)).entries.map((e) => e.name);

describe("namespace: rename follows rename(2)", () => {
  it("moves a file and a directory with its subtree atomically", async () => {
    const { fs } = await setup();
    await fs.mkdir("/a/b/c", { recursive: true });
    const f = await fs.create("/a/b/c/f");
    await fs.rename("/a/b", "/b2");
    expect(await names(fs, "/a")).toEqual([]);
    expect((await fs.stat("/b2/c/f")).ino).toBe(f.ino);
    await fs.rename("/b2/c/f", "/g");
    expect(await names(fs, "/")).toEqual(["a", "b2", "g"]);
  });

  it("replaces a file, and an empty directory by a directory", async () => {
    const { fs } = await setup();
    const x = await fs.create("/x");
    await fs.create("/y");
    await fs.rename("/x", "/y");
    expect((await fs.stat("/y")).ino).toBe(x.ino);
    expect(await codeOf(fs.stat("/x"))).toBe("ENOENT");
    const d = await fs.mkdir("/d");
    await fs.mkdir("/e");
    await fs.rename("/d", "/e");
    expect((await fs.stat("/e")).ino).toBe(d.ino);
  });

  it("refuses mismatched or non-empty targets and moves under itself", async () => {
    const { fs } = await setup();
    await fs.mkdir("/d/sub", { recursive: true });
    await fs.mkdir("/full");
    await fs.create("/full/x");
    await fs.create("/f");
    expect(await codeOf(fs.rename("/d", "/f"))).toBe("ENOTDIR");
    expect(await codeOf(fs.rename("/f", "/d"))).toBe("EISDIR");
    expect(await codeOf(fs.rename("/d", "/full"))).toBe("ENOTEMPTY");
    expect(await codeOf(fs.rename("/d", "/d/sub/in"))).toBe("EINVAL");
    expect(await codeOf(fs.rename("/d", "/d/in"))).toBe("EINVAL");
    expect(await codeOf(fs.rename("/missing", "/z"))).toBe("ENOENT");
    expect(await codeOf(fs.rename("/f", "/full/x", { noReplace: true }))).toBe("EEXIST");
    expect(await codeOf(fs.rename("/", "/z"))).toBe("EINVAL");
    expect(await names(fs, "/d")).toEqual(["sub"]);
  });

  it("is a no-op when source and target are the same object", async () => {
    const { fs, store } = await setup();
    await fs.create("/f");
    await fs.link("/f", "/g");
    store.resetRequestCounts();
    await fs.rename("/f", "/g");
    expect(store.requestCounts().TransactWriteItems).toBe(0);
    expect(await names(fs, "/")).toEqual(["f", "g"]);
  });

  it("detects a directory moved under its descendant through a symlinked path", async () => {
    const { fs } = await setup();
    await fs.mkdir("/a/b", { recursive: true });
    await fs.symlink("/a/b", "/lnk");
    expect(await codeOf(fs.rename("/a", "/lnk/x"))).toBe("EINVAL");
  });

  it("two clients racing opposite directory moves never make a cycle", async () => {
    const { fs, store, clock } = await setup();
    const { createNamespace } = await import("../../core/namespace/index.ts");
    const other = createNamespace({ store, clock: clock.now, options: { sleep: async () => {} } }).pfs(
      "main",
    );
    await fs.mkdir("/a");
    await fs.mkdir("/b");
    const results = await Promise.allSettled([fs.rename("/a", "/b/a"), other.rename("/b", "/a/b")]);
    const ok = results.filter((r) => r.status === "fulfilled").length;
    expect(ok).toBe(1);
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(["EINVAL", "ENOENT"]).toContain((failed.reason as { code: string }).code);
    const top = await names(fs, "/");
    expect(top.length).toBe(1);
  });
});

describe("namespace: unlink, rmdir, links, symlinks", () => {
  it("unlink decrements nlink and ends the inode at zero", async () => {
    const { fs } = await setup();
    const f = await fs.create("/f");
    const l = await fs.link("/f", "/g");
    expect(l.nlink).toBe(2);
    expect(l.ino).toBe(f.ino);
    await fs.unlink("/f");
    expect((await fs.stat("/g")).nlink).toBe(1);
    await fs.unlink("/g");
    expect(await names(fs, "/")).toEqual([]);
    expect(await codeOf(fs.unlink("/g"))).toBe("ENOENT");
  });

  it("unlink refuses directories; link refuses directories and taken names", async () => {
    const { fs } = await setup();
    await fs.mkdir("/d");
    await fs.create("/f");
    expect(await codeOf(fs.unlink("/d"))).toBe("EISDIR");
    expect(await codeOf(fs.link("/d", "/d2"))).toBe("EISDIR");
    expect(await codeOf(fs.link("/f", "/d"))).toBe("EEXIST");
  });

  it("rmdir removes only empty directories", async () => {
    const { fs } = await setup();
    await fs.mkdir("/d/e", { recursive: true });
    expect(await codeOf(fs.rmdir("/d"))).toBe("ENOTEMPTY");
    await fs.rmdir("/d/e");
    await fs.rmdir("/d");
    expect(await names(fs, "/")).toEqual([]);
    await fs.create("/f");
    expect(await codeOf(fs.rmdir("/f"))).toBe("ENOTDIR");
    expect(await codeOf(fs.rmdir("/"))).toBe("EINVAL");
    // A failed rmdir released its lease: creating inside works at once.
    await fs.mkdir("/k");
    await fs.create("/k/x");
    expect(await codeOf(fs.rmdir("/k"))).toBe("ENOTEMPTY");
    await fs.create("/k/y");
  });

  it("a create racing an rmdir never leaves an orphan entry", async () => {
    for (let round = 0; round < 20; round++) {
      const { fs, store, clock } = await setup();
      const { createNamespace } = await import("../../core/namespace/index.ts");
      const other = createNamespace({ store, clock: clock.now, options: { sleep: async () => {} } }).pfs(
        "main",
      );
      await fs.mkdir("/d");
      const [rm, cr] = await Promise.allSettled([fs.rmdir("/d"), other.create("/d/f")]);
      if (rm.status === "fulfilled") {
        expect(cr.status).toBe("rejected");
        expect(await names(fs, "/")).toEqual([]);
      } else {
        expect(cr.status).toBe("fulfilled");
        expect(await names(fs, "/d")).toEqual(["f"]);
      }
    }
  });

  it("symlinks resolve (relative, absolute, chained) and loop with ELOOP", async () => {
    const { fs } = await setup();
    await fs.mkdir("/a/b", { recursive: true });
    const f = await fs.create("/a/b/f");
    await fs.symlink("b/f", "/a/rel");
    await fs.symlink("/a/b", "/abs");
    await fs.symlink("../rel", "/a/b/up");
    expect((await fs.stat("/a/rel")).ino).toBe(f.ino);
    expect((await fs.stat("/abs/f")).ino).toBe(f.ino);
    expect((await fs.stat("/a/b/up")).ino).toBe(f.ino);
    expect((await fs.lstat("/a/rel")).type).toBe("symlink");
    expect(await fs.readlink("/a/rel")).toBe("b/f");
    expect(await codeOf(fs.readlink("/a/b/f"))).toBe("EINVAL");
    await fs.symlink("/loop2", "/loop1");
    await fs.symlink("/loop1", "/loop2");
    expect(await codeOf(fs.stat("/loop1"))).toBe("ELOOP");
    await fs.symlink("/nowhere", "/dangling");
    expect(await codeOf(fs.stat("/dangling"))).toBe("ENOENT");
    expect((await fs.lstat("/dangling")).target).toBe("/nowhere");
  });
});

describe("namespace: attributes, content, xattrs, tags", () => {
  it("setattr and writeContent make new versions with the changes", async () => {
    const { fs, clock } = await setup();
    await fs.create("/f");
    clock.tick(10);
    const s = await fs.setattr("/f", { mode: 0o640, uid: 1, gid: 2, atimeMs: 5, mtimeMs: 6 });
    expect(s).toMatchObject({ mode: 0o640, uid: 1, gid: 2, atimeMs: 5, mtimeMs: 6 });
    const content = { size: 3, inline: new Uint8Array([1, 2, 3]) };
    const w = await fs.writeContent("/f", content);
    expect(w.size).toBe(3);
    expect((await fs.stat("/f")).content).toEqual(content);
    expect(await codeOf(fs.setattr("/f", { mode: 0o10000 }))).toBe("EINVAL");
    expect(await codeOf(fs.writeContent("/f", { size: 2, inline: new Uint8Array(3) }))).toBe("EINVAL");
    await fs.mkdir("/d");
    expect(await codeOf(fs.writeContent("/d", { size: 0 }))).toBe("EISDIR");
  });

  it("xattrs honour create / replace and size bounds", async () => {
    const { fs } = await setup();
    await fs.create("/f");
    await fs.setXattr("/f", "user.a", new Uint8Array([1]));
    expect(await codeOf(fs.setXattr("/f", "user.a", new Uint8Array([2]), { create: true }))).toBe("EEXIST");
    expect(await codeOf(fs.setXattr("/f", "user.b", new Uint8Array([2]), { replace: true }))).toBe("ENOENT");
    await fs.setXattr("/f", "user.a", new Uint8Array([9]), { replace: true });
    expect(await fs.getXattr("/f", "user.a")).toEqual(new Uint8Array([9]));
    expect(await fs.listXattrs("/f")).toEqual(["user.a"]);
    await fs.removeXattr("/f", "user.a");
    expect(await codeOf(fs.getXattr("/f", "user.a"))).toBe("ENOENT");
    expect(await codeOf(fs.removeXattr("/f", "user.a"))).toBe("ENOENT");
    expect(await codeOf(fs.setXattr("/f", "x".repeat(256), new Uint8Array()))).toBe("ENAMETOOLONG");
    expect(await codeOf(fs.setXattr("/f", "big", new Uint8Array(64 * 1024 + 1)))).toBe("E2BIG");
  });

  it("tags set, list and remove, with bounds", async () => {
    const { fs } = await setup();
    await fs.create("/f");
    await fs.setTag("/f", "render-site", "gcs-eu");
    await fs.setTag("/f", "k", "v");
    expect(await fs.getTags("/f")).toEqual({ "render-site": "gcs-eu", k: "v" });
    await fs.removeTag("/f", "k");
    expect(await fs.getTags("/f")).toEqual({ "render-site": "gcs-eu" });
    expect(await codeOf(fs.removeTag("/f", "k"))).toBe("ENOENT");
    expect(await codeOf(fs.setTag("/f", "k".repeat(129), "v"))).toBe("E2BIG");
    expect(await codeOf(fs.setTag("/f", "k", "v".repeat(1025)))).toBe("E2BIG");
    for (let i = 1; i < 64; i++) await fs.setTag("/f", `t${i}`, "x");
    expect(await codeOf(fs.setTag("/f", "one-too-many", "x"))).toBe("E2BIG");
  });
});

describe("namespace: paths and bad input", () => {
  it("canonicalises '.', '..' (lexically) and empty components", async () => {
    const { fs } = await setup();
    await fs.mkdir("/a/b", { recursive: true });
    const f = await fs.create("//a/./b/../b///f");
    expect((await fs.stat("/a/b/f")).ino).toBe(f.ino);
    expect((await fs.stat("/../a/b/f")).ino).toBe(f.ino);
  });

  it("rejects bad names and paths before writing anything", async () => {
    const { fs, store } = await setup();
    store.resetRequestCounts();
    expect(await codeOf(fs.create("relative"))).toBe("EINVAL");
    expect(await codeOf(fs.create("/a\u0000b"))).toBe("EINVAL");
    expect(await codeOf(fs.create("/" + "n".repeat(256)))).toBe("ENAMETOOLONG");
    expect(await codeOf(fs.create("/" + "é".repeat(128)))).toBe("ENAMETOOLONG");
    expect(await codeOf(fs.create("/f", { mode: -1 }))).toBe("EINVAL");
    expect(await codeOf(fs.symlink("", "/s"))).toBe("ENOENT");
    expect(await codeOf(fs.symlink("x".repeat(4096), "/s"))).toBe("ENAMETOOLONG");
    const counts = store.requestCounts();
    expect(counts.TransactWriteItems + counts.PutItem + counts.UpdateItem).toBe(0);
  });

  it("stores names as given: NFC and NFD forms are different names", async () => {
    const { fs } = await setup();
    const nfc = "\u00e9";
    const nfd = "e\u0301";
    await fs.create("/" + nfc);
    await fs.create("/" + nfd);
    expect(await names(fs, "/")).toEqual([nfd, nfc]);
  });

  it("readdir sorts by UTF-8 bytes and pages", async () => {
    const { fs } = await setup();
    for (const n of ["b", "a", "\u{1F600}", "\uE000", "Z"]) await fs.create("/" + n);
    expect(await names(fs, "/")).toEqual(["Z", "a", "b", "\uE000", "\u{1F600}"]);
    const p1 = await fs.readdir("/", { limit: 2 });
    expect(p1.entries.map((e) => e.name)).toEqual(["Z", "a"]);
    const p2 = await fs.readdir("/", { limit: 10, cursor: p1.cursor! });
    expect(p2.entries.map((e) => e.name)).toEqual(["b", "\uE000", "\u{1F600}"]);
    expect(p2.cursor).toBeUndefined();
  });
});

describe("namespace: PFSs", () => {
  it("creates, lists and deletes PFSs; deleting needs an empty root", async () => {
    const { ns, fs } = await setup();
    expect(await codeOf(ns.createPfs("main"))).toBe("EEXIST");
    await ns.createPfs("other");
    expect((await ns.listPfs()).map((p) => p.name)).toEqual(["main", "other"]);
    await fs.create("/f");
    expect(await codeOf(ns.deletePfs("main"))).toBe("ENOTEMPTY");
    await ns.deletePfs("other");
    expect((await ns.listPfs()).map((p) => p.name)).toEqual(["main"]);
    expect(await codeOf(ns.pfs("other").stat("/"))).toBe("ENOENT");
    expect(await codeOf(ns.pfs("never").readdir("/"))).toBe("ENOENT");
    expect(await codeOf(ns.deletePfs("never"))).toBe("ENOENT");
  });

  it("object ids are unique across PFSs and sites, leased in blocks", async () => {
    const { store, fs } = await setup({ site: 3 });
    const a = await fs.create("/a");
    expect(a.ino.startsWith("0003")).toBe(true);
    const { createNamespace } = await import("../../core/namespace/index.ts");
    const other = createNamespace({ store, site: 4 });
    const b = await other.pfs("main").create("/b");
    expect(b.ino.startsWith("0004")).toBe(true);
    expect(a.ino).not.toBe(b.ino);
  });
});
