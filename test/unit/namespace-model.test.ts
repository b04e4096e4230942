import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isStrataError, strataError } from "../../core/errors.ts";
import type {
  AsOf,
  BatchOp,
  CreateOptions,
  FileContent,
  FileSystem,
  ReadableFileSystem,
  ReaddirPage,
  ReadOptions,
  SetAttrs,
  Snapshot,
  Stat,
  Version,
} from "../../core/namespace/api.ts";
import { ModelMismatch, ModelRun, runSteps, type Step, stepArb } from "../conformance/namespace-model.ts";
import { type ModelStat, NamespaceModel } from "../support/namespace-model.ts";

/** The error code the model throws for `fn`, or "ok". */
function code(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (err) {
    if (isStrataError(err)) return err.code;
    throw err;
  }
}

function names(m: NamespaceModel, path: string, at?: string): string[] {
  return m.readdir(path, at).map((e) => e.name);
}

describe("namespace reference model: paths and names", () => {
  it("rejects relative paths, NUL and names over 255 UTF-8 bytes before looking anything up", () => {
    const m = new NamespaceModel();
    expect(code(() => m.mkdir("a"))).toBe("EINVAL");
    expect(code(() => m.mkdir("/missing/a\0b"))).toBe("EINVAL");
    expect(code(() => m.create(`/${"x".repeat(256)}`))).toBe("ENAMETOOLONG");
    expect(code(() => m.create(`/${"é".repeat(128)}`))).toBe("ENAMETOOLONG"); // 256 bytes, 128 chars
    expect(code(() => m.create(`/${"x".repeat(255)}`))).toBe("ok");
    expect(code(() => m.create(`/${"é".repeat(127)}`))).toBe("ok");
  });

  it("resolves empty components, . and .. physically; .. of the root is the root", () => {
    const m = new NamespaceModel();
    m.mkdir("/a");
    m.mkdir("/a/b");
    m.create("/a/b/f");
    expect(m.stat("//a/./b/../b//f").ino).toBe(m.stat("/a/b/f").ino);
    expect(m.stat("/../../a").ino).toBe(m.stat("/a").ino);
    expect(code(() => m.mkdir("/a/."))).toBe("EEXIST");
    expect(code(() => m.mkdir("/"))).toBe("EEXIST");
    expect(code(() => m.rmdir("/a/."))).toBe("EINVAL");
  });

  it("keeps NFC and NFD spellings as two distinct names, sorted by UTF-8 bytes", () => {
    const m = new NamespaceModel();
    m.create("/\u00e9"); // é precomposed: C3 A9
    m.create("/e\u0301"); // e + combining acute: 65 CC 81
    m.create("/z");
    m.create("/\u{1F600}"); // F0 …, after U+FFFF in UTF-8 but before it in UTF-16
    m.create("/\uffff");
    expect(names(m, "/")).toEqual(["e\u0301", "z", "\u00e9", "\uffff", "\u{1F600}"]);
  });
});

describe("namespace reference model: create, mkdir, unlink, rmdir", () => {
  it("creates files and directories once (EEXIST after, also over a dangling symlink)", () => {
    const m = new NamespaceModel();
    expect(m.mkdir("/d").type).toBe("dir");
    expect(m.create("/d/f", { mode: 0o600, uid: 7 })).toMatchObject({
      type: "file",
      mode: 0o600,
      uid: 7,
      nlink: 1,
      size: 0,
    });
    expect(code(() => m.create("/d/f"))).toBe("EEXIST");
    expect(code(() => m.mkdir("/d/f"))).toBe("EEXIST");
    m.symlink("/nowhere", "/d/s");
    expect(code(() => m.create("/d/s"))).toBe("EEXIST");
    expect(code(() => m.create("/nope/f"))).toBe("ENOENT");
    expect(code(() => m.create("/d/f/g"))).toBe("ENOTDIR");
  });

  it("unlinks files and symlinks but not directories (EISDIR); rmdir only empty directories", () => {
    const m = new NamespaceModel();
    m.mkdir("/d");
    m.create("/d/f");
    expect(code(() => m.unlink("/d"))).toBe("EISDIR");
    expect(code(() => m.rmdir("/d"))).toBe("ENOTEMPTY");
    expect(code(() => m.rmdir("/d/f"))).toBe("ENOTDIR");
    expect(code(() => m.unlink("/d/g"))).toBe("ENOENT");
    m.unlink("/d/f");
    m.rmdir("/d");
    expect(names(m, "/")).toEqual([]);
  });

  it("counts directory nlink as 2 + subdirectories (POSIX) and files by their links", () => {
    const m = new NamespaceModel();
    m.mkdir("/d");
    m.mkdir("/d/x");
    m.mkdir("/d/y");
    m.create("/d/f");
    expect(m.stat("/d").nlink).toBe(4);
    expect(m.stat("/").nlink).toBe(3);
    expect(new NamespaceModel({ dirNlink: "unknown" }).stat("/").nlink).toBeUndefined();
  });

  it("mkdir recursive creates missing directories and accepts existing ones", () => {
    const m = new NamespaceModel();
    m.mkdir("/a/b/c", { recursive: true });
    expect(m.stat("/a/b/c").type).toBe("dir");
    m.mkdir("/a/b", { recursive: true });
    m.create("/a/f");
    expect(code(() => m.mkdir("/a/f/g", { recursive: true }))).toBe("EEXIST");
  });
});

describe("namespace reference model: rename(2)", () => {
  function tree() {
    const m = new NamespaceModel();
    m.mkdir("/a");
    m.mkdir("/a/b");
    m.mkdir("/e");
    m.create("/f");
    m.create("/a/g");
    return m;
  }

  it("moves a file, replacing an existing file and freeing its inode", () => {
    const m = tree();
    const f = m.stat("/f").ino;
    m.rename("/f", "/a/g");
    expect(m.stat("/a/g").ino).toBe(f);
    expect(code(() => m.stat("/f"))).toBe("ENOENT");
    expect(m.dump().map((e) => e.path)).toEqual(["/", "/a", "/a/b", "/a/g", "/e"]);
  });

  it("replaces an empty directory by a directory, refuses a non-empty one (ENOTEMPTY)", () => {
    const m = tree();
    expect(code(() => m.rename("/e", "/a"))).toBe("ENOTEMPTY");
    m.rename("/a", "/e");
    expect(names(m, "/e")).toEqual(["b", "g"]);
  });

  it("refuses to mix types: dir onto file ENOTDIR, file onto dir EISDIR", () => {
    const m = tree();
    expect(code(() => m.rename("/a", "/f"))).toBe("ENOTDIR");
    expect(code(() => m.rename("/f", "/e"))).toBe("EISDIR");
  });

  it("refuses to move a directory into itself or its own subtree (EINVAL)", () => {
    const m = tree();
    expect(code(() => m.rename("/a", "/a/b/c"))).toBe("EINVAL");
    expect(code(() => m.rename("/a", "/a/x"))).toBe("EINVAL");
    expect(code(() => m.rename("/a/b", "/a/b/x"))).toBe("EINVAL");
  });

  it("refuses to replace an ancestor of the source (ENOTEMPTY, as Linux)", () => {
    const m = tree();
    expect(code(() => m.rename("/a/g", "/a"))).toBe("ENOTEMPTY");
    expect(code(() => m.rename("/a/b", "/a"))).toBe("ENOTEMPTY");
  });

  it("does nothing when source and target are the same object, also two hard links", () => {
    const m = tree();
    m.rename("/a", "/a");
    m.link("/f", "/h");
    m.rename("/f", "/h");
    expect(names(m, "/")).toEqual(["a", "e", "f", "h"]);
    expect(m.stat("/f").nlink).toBe(2);
  });

  it("noReplace refuses any existing target with EEXIST", () => {
    const m = tree();
    expect(code(() => m.rename("/f", "/a/g", { noReplace: true }))).toBe("EEXIST");
    m.rename("/f", "/a/new", { noReplace: true });
  });

  it("moves a symlink itself, not its target", () => {
    const m = tree();
    m.symlink("a", "/s");
    m.rename("/s", "/e/s");
    expect(m.readlink("/e/s")).toBe("a");
    expect(m.stat("/a").type).toBe("dir");
  });
});

describe("namespace reference model: symlinks and hard links", () => {
  it("follows relative symlinks from the link's directory and absolute ones from the root", () => {
    const m = new NamespaceModel();
    m.mkdir("/d");
    m.create("/d/f");
    m.symlink("f", "/d/rel");
    m.symlink("/d", "/abs");
    expect(m.stat("/d/rel").ino).toBe(m.stat("/d/f").ino);
    expect(m.stat("/abs/rel").ino).toBe(m.stat("/d/f").ino);
    expect(m.lstat("/d/rel")).toMatchObject({ type: "symlink", target: "f", size: 1 });
    expect(m.readdir("/abs").map((e) => e.name)).toEqual(["f", "rel"]);
    expect(code(() => m.readlink("/d/f"))).toBe("EINVAL");
  });

  it("gives ELOOP for a loop and after 40 hops, not at 40", () => {
    const m = new NamespaceModel();
    m.symlink("/loop", "/loop");
    expect(code(() => m.stat("/loop"))).toBe("ELOOP");
    expect(m.lstat("/loop").type).toBe("symlink");
    m.create("/s0");
    for (let i = 1; i <= 41; i++) m.symlink(`/s${i - 1}`, `/s${i}`);
    expect(m.stat("/s40").type).toBe("file");
    expect(code(() => m.stat("/s41"))).toBe("ELOOP");
    expect(code(() => m.create("/loop/x"))).toBe("ELOOP");
  });

  it("counts hard links in nlink and frees the inode with the last one", () => {
    const m = new NamespaceModel();
    m.create("/f", { content: { size: 3, inline: new Uint8Array([1, 2, 3]) } });
    m.link("/f", "/g");
    expect(m.stat("/g")).toMatchObject({ nlink: 2, size: 3 });
    m.unlink("/f");
    expect(m.stat("/g").nlink).toBe(1);
    expect(code(() => m.link("/g", "/g"))).toBe("EEXIST");
    m.mkdir("/d");
    expect(code(() => m.link("/d", "/d2"))).toBe("EISDIR");
    expect(code(() => m.link("/missing", "/x"))).toBe("ENOENT");
  });

  it("links a symlink itself (link(2) does not follow the final symlink)", () => {
    const m = new NamespaceModel();
    m.symlink("/x", "/s");
    m.link("/s", "/t");
    expect(m.lstat("/t")).toMatchObject({ type: "symlink", nlink: 2 });
  });
});

describe("namespace reference model: attributes, xattrs, tags", () => {
  it("keeps explicitly set times until the inode changes again", () => {
    const m = new NamespaceModel();
    m.create("/f");
    expect(m.stat("/f").mtimeMs).toBeUndefined();
    m.setattr("/f", { mode: 0o640, uid: 1, gid: 2, atimeMs: 1000, mtimeMs: 2000 });
    expect(m.stat("/f")).toMatchObject({ mode: 0o640, uid: 1, gid: 2, atimeMs: 1000, mtimeMs: 2000 });
    m.setattr("/f", { mode: 0o600 });
    expect(m.stat("/f").mtimeMs).toBe(2000);
    m.writeContent("/f", { size: 1, inline: new Uint8Array([9]) });
    expect(m.stat("/f").mtimeMs).toBeUndefined();
    expect(code(() => m.setattr("/f", { mode: 0o10000 }))).toBe("EINVAL");
  });

  it("sets, lists and removes xattrs with create/replace flags", () => {
    const m = new NamespaceModel();
    m.create("/f");
    m.setXattr("/f", "user.b", new Uint8Array([1]));
    m.setXattr("/f", "user.a", new Uint8Array([2]), { create: true });
    expect(code(() => m.setXattr("/f", "user.a", new Uint8Array([3]), { create: true }))).toBe("EEXIST");
    expect(code(() => m.setXattr("/f", "user.c", new Uint8Array([3]), { replace: true }))).toBe("ENOENT");
    expect(m.listXattrs("/f")).toEqual(["user.a", "user.b"]);
    m.removeXattr("/f", "user.a");
    expect(code(() => m.getXattr("/f", "user.a"))).toBe("ENOENT");
    expect(code(() => m.removeXattr("/f", "user.a"))).toBe("ENOENT");
  });

  it("sets and removes tags; writeContent on a directory is EISDIR", () => {
    const m = new NamespaceModel();
    m.mkdir("/d");
    m.setTag("/d", "site", "eu");
    expect(m.getTags("/d")).toEqual({ site: "eu" });
    m.removeTag("/d", "site");
    expect(code(() => m.removeTag("/d", "site"))).toBe("ENOENT");
    expect(code(() => m.writeContent("/d", { size: 0 }))).toBe("EISDIR");
  });
});

describe("namespace reference model: batches and history", () => {
  it("applies a batch all or nothing, and checks every op's input first", () => {
    const m = new NamespaceModel();
    m.batch([
      { op: "mkdir", path: "/d" },
      { op: "create", path: "/d/f" },
      { op: "rename", from: "/d/f", to: "/g" },
    ]);
    expect(names(m, "/")).toEqual(["d", "g"]);
    expect(
      code(() =>
        m.batch([
          { op: "create", path: "/x" },
          { op: "create", path: "/g" },
        ]),
      ),
    ).toBe("EEXIST");
    expect(names(m, "/")).toEqual(["d", "g"]);
    expect(
      code(() =>
        m.batch([
          { op: "unlink", path: "/missing" },
          { op: "create", path: "/a\0" },
        ]),
      ),
    ).toBe("EINVAL");
  });

  it("answers as-of reads from the state recorded at or before the TID, and by snapshot", () => {
    const m = new NamespaceModel();
    m.record("0000000000000001");
    m.create("/f");
    m.record("0000000000000005");
    m.rename("/f", "/g");
    m.record("0000000000000009");
    expect(names(m, "/", "0000000000000001")).toEqual([]);
    expect(names(m, "/", "0000000000000007")).toEqual(["f"]);
    expect(names(m, "/", "0000000000000009")).toEqual(["g"]);
    expect(code(() => m.stat("/", "0000000000000000"))).toBe("EINVAL");
    m.createSnapshot("s", "0000000000000006");
    expect(m.readdir("/", { snapshot: "s" } as never).map((e) => e.name)).toEqual(["f"]);
    expect(code(() => m.createSnapshot("s", "0000000000000009"))).toBe("EEXIST");
    m.deleteSnapshot("s");
    expect(code(() => m.stat("/", { snapshot: "s" } as never))).toBe("ENOENT");
  });

  it("never lets a later change alter a recorded state (the copies are frozen)", () => {
    const m = new NamespaceModel();
    m.create("/f");
    m.record("0000000000000001");
    const before = m.dump("0000000000000001");
    m.setTag("/f", "k", "v");
    m.writeContent("/f", { size: 1, inline: new Uint8Array([1]) });
    m.record("0000000000000002");
    expect(m.dump("0000000000000001")).toEqual(before);
    expect(m.treeAt("0000000000000001").inodes.get(2)?.tags.size).toBe(0);
  });

  it("reverts a file's content and a deleted file with its old identity", () => {
    const m = new NamespaceModel();
    m.create("/f", { content: { size: 1, inline: new Uint8Array([1]) } });
    m.setTag("/f", "k", "v");
    m.record("0000000000000001");
    const ino = m.stat("/f").ino;
    m.writeContent("/f", { size: 2, inline: new Uint8Array([2, 2]) });
    m.revert("/f", "0000000000000001");
    expect(m.stat("/f")).toMatchObject({ ino, size: 1 });
    m.unlink("/f");
    expect(code(() => m.revert("/f", "0000000000000001"))).toBe("ENOENT"); // by identity: nothing there now
    m.revert("/f", "0000000000000001", { byPath: true });
    expect(m.stat("/f").ino).toBe(ino);
    expect(m.getTags("/f")).toEqual({ k: "v" });
  });

  it("reverts a subtree recursively, moving a renamed directory back", () => {
    const m = new NamespaceModel();
    m.mkdir("/d");
    m.mkdir("/d/x");
    m.create("/d/x/f");
    m.record("0000000000000001");
    const then = m.dump();
    m.rename("/d/x", "/y");
    m.create("/d/new");
    expect(code(() => m.revert("/d", "0000000000000001"))).toBe("ok"); // non-recursive: entries stay
    expect(names(m, "/d")).toEqual(["new"]);
    m.revert("/", "0000000000000001", { recursive: true });
    expect(m.dump()).toEqual(then);
  });
});

/**
 * A FileSystem backed by a second model, to check the property-test harness itself: it must
 * agree with an identical implementation and catch a planted bug.
 */
class ModelBackedFs implements FileSystem {
  readonly pfs = "p";
  private tid = 1;
  readonly m = new NamespaceModel();

  constructor(private readonly bug?: "unlinkMissingSucceeds" | "renameIntoSelf") {
    this.m.record(this.hex(this.tid));
  }

  private hex(n: number) {
    return n.toString(16).padStart(16, "0");
  }
  private async commit<T>(fn: () => T): Promise<T> {
    const value = fn();
    this.tid++;
    this.m.record(this.hex(this.tid));
    return value;
  }
  private at(o?: ReadOptions): string | { snapshot: string } | undefined {
    const a = o?.asOf;
    if (a === undefined || typeof a === "string") return a;
    if (a instanceof Date) throw new Error("not in this shim");
    return a;
  }
  private s(x: ModelStat): Stat {
    return {
      pfs: "p",
      ino: this.hex(x.ino),
      type: x.type,
      mode: x.mode,
      uid: x.uid,
      gid: x.gid,
      size: x.size ?? 0,
      nlink: x.nlink ?? 1,
      atimeMs: x.atimeMs ?? 0,
      mtimeMs: x.mtimeMs ?? 0,
      ctimeMs: 0,
      birthtimeMs: 0,
      tid: this.hex(this.tid),
      ...(x.target === undefined ? {} : { target: x.target }),
      ...(x.content === undefined ? {} : { content: x.content }),
    };
  }
  async stat(p: string, o?: ReadOptions) {
    return this.s(this.m.stat(p, this.at(o)));
  }
  async lstat(p: string, o?: ReadOptions) {
    return this.s(this.m.lstat(p, this.at(o)));
  }
  async readdir(p: string, o?: ReadOptions & { cursor?: string; limit?: number }): Promise<ReaddirPage> {
    const all = this.m
      .readdir(p, this.at(o))
      .map((e) => ({ name: e.name, type: e.type, ino: this.hex(e.ino) }));
    const from = Number(o?.cursor ?? 0);
    const to = from + (o?.limit ?? 1000);
    return { entries: all.slice(from, to), ...(to < all.length ? { cursor: String(to) } : {}) };
  }
  async readlink(p: string, o?: ReadOptions) {
    return this.m.readlink(p, this.at(o));
  }
  async getXattr(p: string, n: string, o?: ReadOptions) {
    return this.m.getXattr(p, n, this.at(o));
  }
  async listXattrs(p: string, o?: ReadOptions) {
    return this.m.listXattrs(p, this.at(o));
  }
  async getTags(p: string, o?: ReadOptions) {
    return this.m.getTags(p, this.at(o));
  }
  mkdir(p: string, o?: { mode?: number }) {
    return this.commit(() => this.s(this.m.mkdir(p, o)));
  }
  create(p: string, o?: CreateOptions) {
    return this.commit(() => this.s(this.m.create(p, o)));
  }
  writeContent(p: string, c: FileContent) {
    return this.commit(() => this.s(this.m.writeContent(p, c)));
  }
  rename(a: string, b: string, o?: { noReplace?: boolean }) {
    if (this.bug === "renameIntoSelf" && b.startsWith(`${a}/`))
      return this.commit(() => {
        try {
          this.m.rename(a, b, o);
        } catch {
          // the planted bug: the engine "succeeds" without doing anything
        }
      });
    return this.commit(() => this.m.rename(a, b, o));
  }
  unlink(p: string) {
    if (this.bug === "unlinkMissingSucceeds")
      return this.commit(() => {
        try {
          this.m.unlink(p);
        } catch {
          // the planted bug
        }
      });
    return this.commit(() => this.m.unlink(p));
  }
  rmdir(p: string) {
    return this.commit(() => this.m.rmdir(p));
  }
  symlink(t: string, p: string) {
    return this.commit(() => this.s(this.m.symlink(t, p)));
  }
  link(e: string, p: string) {
    return this.commit(() => this.s(this.m.link(e, p)));
  }
  setattr(p: string, a: SetAttrs) {
    return this.commit(() => this.s(this.m.setattr(p, a)));
  }
  setXattr(p: string, n: string, v: Uint8Array, o?: { create?: boolean; replace?: boolean }) {
    return this.commit(() => this.m.setXattr(p, n, v, o));
  }
  removeXattr(p: string, n: string) {
    return this.commit(() => this.m.removeXattr(p, n));
  }
  setTag(p: string, k: string, v: string) {
    return this.commit(() => this.m.setTag(p, k, v));
  }
  removeTag(p: string, k: string) {
    return this.commit(() => this.m.removeTag(p, k));
  }
  /** No versions kept by this shim; it only fails where the model's lstat fails. */
  async history(p: string): Promise<Version[]> {
    this.m.lstat(p);
    return [];
  }
  /** Dry runs are not modelled by this shim: ENOTSUP (the harness then skips its dry-run check). */
  // biome-ignore lint/suspicious/noExplicitAny: the FileSystem overloads (Tid | RevertPlan)
  revert(p: string, a: AsOf, o?: { recursive?: boolean; byPath?: boolean; dryRun?: boolean }): any {
    if (o?.dryRun) return Promise.reject(strataError("ENOTSUP", "the model shim has no dry run"));
    return this.commit(() => {
      this.m.revert(p, this.at({ asOf: a })!, o);
      return this.hex(this.tid + 1);
    });
  }
  batch(ops: BatchOp[]) {
    return this.commit(() => {
      this.m.batch(ops);
      return this.hex(this.tid + 1);
    });
  }
  asOf(point: AsOf): ReadableFileSystem {
    const o = { asOf: point };
    return {
      pfs: "p",
      stat: (p) => this.stat(p, o),
      lstat: (p) => this.lstat(p, o),
      readdir: (p, x) => this.readdir(p, { ...x, ...o }),
      readlink: (p) => this.readlink(p, o),
      getXattr: (p, n) => this.getXattr(p, n, o),
      listXattrs: (p) => this.listXattrs(p, o),
      getTags: (p) => this.getTags(p, o),
    };
  }
  async createSnapshot(name: string): Promise<Snapshot> {
    this.m.createSnapshot(name, this.hex(this.tid));
    return { name, tid: this.hex(this.tid), createdAt: new Date(0) };
  }
  async listSnapshots(): Promise<Snapshot[]> {
    return this.m.listSnapshots().map((s) => ({ ...s, createdAt: new Date(0) }));
  }
  async deleteSnapshot(name: string) {
    this.m.deleteSnapshot(name);
  }
  async currentTid() {
    return this.hex(this.tid);
  }
}

describe("the model-based property harness (test/conformance/namespace-model.ts)", () => {
  it("agrees with an identical implementation over 200 random sequences", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { maxLength: 50 }), async (steps) => {
        await runSteps(new ModelBackedFs(), steps);
      }),
      { numRuns: 200, seed: 1 },
    );
  });

  it("catches an engine that lets unlink of a missing name succeed", async () => {
    const steps: Step[] = [{ k: "unlink", p: "/a" }];
    await expect(runSteps(new ModelBackedFs("unlinkMissingSucceeds"), steps)).rejects.toThrow(ModelMismatch);
  });

  it("finds, by random search, an engine that accepts moving a directory into itself", async () => {
    const result = await fc.check(
      fc.asyncProperty(fc.array(stepArb, { maxLength: 50 }), async (steps) => {
        await runSteps(new ModelBackedFs("renameIntoSelf"), steps);
      }),
      { numRuns: 500, seed: 1 },
    );
    expect(result.failed).toBe(true);
    expect(String((result.errorInstance as Error).message)).toMatch(/rename/);
  });

  it("catches a change the model did not see (whole-tree comparison)", async () => {
    const fs = new ModelBackedFs();
    const run = new ModelRun(fs);
    await run.start();
    await run.step({ k: "create", p: "/a" });
    // Behind the harness's back: history of the engine now differs from the model's.
    fs.m.record(await fs.currentTid());
    await fs.create("/b");
    await expect(run.compareAll()).rejects.toThrow(ModelMismatch);
  });
});

describe("namespace reference model: lexical '..' (the engine's documented choice)", () => {
  it("cleans '..' on the path as written, and joins relative symlink targets to the link's directory", () => {
    const m = new NamespaceModel({ dotdot: "lexical" });
    m.mkdir("/a");
    m.mkdir("/a/b");
    m.mkdir("/x");
    m.create("/x/f");
    m.symlink("/x", "/a/b/l"); // /a/b/l → /x
    // POSIX: /a/b/l/.. is the parent of /x, the root. Lexically: /a/b.
    expect(m.stat("/a/b/l/..").ino).toBe(m.stat("/a/b").ino);
    expect(new NamespaceModel().stat("/").ino).toBe(1);
    m.symlink("../../x/f", "/a/b/rel"); // joined: /a/b/../../x/f = /x/f
    expect(m.stat("/a/b/rel").ino).toBe(m.stat("/x/f").ino);
    m.symlink("..", "/x/up");
    expect(m.stat("/x/up").ino).toBe(m.stat("/").ino);
    expect(code(() => m.create("/a/b/../../../nope/f"))).toBe("ENOENT");
  });

  it("differs from POSIX exactly where a symlink precedes '..'", () => {
    const posix = new NamespaceModel();
    for (const m of [posix]) {
      m.mkdir("/a");
      m.mkdir("/a/b");
      m.mkdir("/x");
      m.mkdir("/x/y");
      m.symlink("/x/y", "/a/b/l");
    }
    expect(posix.stat("/a/b/l/..").ino).toBe(posix.stat("/x").ino);
  });
});
