import { writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, tempDir } from "./cli-helpers.ts";

// The --json shapes docs/cli.md documents, checked key by key on an embedded deployment.
describe("CLI --json shapes", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const run = async (...args: string[]) => {
    const r = await cli(["--local", `${dir}/deployment`, "--json", ...args], { cwd: dir });
    if (r.code !== 0) throw new Error(`strata ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    expect(r.stderr).toBe("");
    return JSON.parse(r.stdout);
  };
  const fail = async (...args: string[]) => {
    const r = await cli(["--local", `${dir}/deployment`, "--json", ...args], { cwd: dir });
    expect(r.stdout).toBe("");
    return { code: r.code, error: JSON.parse(r.stderr).error };
  };
  const STAT_KEYS = [
    "atime",
    "birthtime",
    "ctime",
    "gid",
    "ino",
    "mode",
    "mtime",
    "nlink",
    "path",
    "pfs",
    "size",
    "tid",
    "type",
    "uid",
  ];

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("strata-cli-json-"));
    await writeFile(`${dir}/hello.txt`, "hello\n");
  });
  afterAll(() => cleanup());

  it("mkdir, put, ls, stat, cat", async () => {
    expect(await run("mkdir", "-p", "/a/b")).toEqual({ created: ["/a/b"] });
    const put = await run("put", `${dir}/hello.txt`, "/a/");
    expect(put).toEqual({
      files: [{ from: `${dir}/hello.txt`, to: "/a/hello.txt", size: 6 }],
      dirs: [],
      links: [],
      bytes: 6,
    });
    const ls = await run("ls", "/a");
    expect(ls.entries.map((e: { name: string }) => e.name)).toEqual(["b", "hello.txt"]);
    expect(Object.keys(ls.entries[1]).sort()).toEqual([...STAT_KEYS, "name"].sort());
    expect(ls.entries[1]).toMatchObject({ path: "/a/hello.txt", type: "file", size: 6, mode: "0644" });
    const stat = await run("stat", "/a/hello.txt");
    expect(Object.keys(stat).sort()).toEqual(STAT_KEYS);
    expect(stat.mtime).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(await run("cat", "/a/hello.txt")).toEqual({
      files: [{ path: "/a/hello.txt", size: 6, encoding: "utf8", content: "hello\n" }],
    });
  });

  it("ln, mv, tag, history, tid, snapshot, revert, rm", async () => {
    expect(await run("ln", "-s", "/a/hello.txt", "/link")).toEqual({
      path: "/link",
      target: "/a/hello.txt",
      symbolic: true,
    });
    expect((await run("stat", "/link")).target).toBe("/a/hello.txt");
    expect(await run("mv", "/a/hello.txt", "/a/b")).toEqual({ from: "/a/hello.txt", to: "/a/b/hello.txt" });
    expect(await run("tag", "set", "/a/b/hello.txt", "site", "eu")).toEqual({
      path: "/a/b/hello.txt",
      key: "site",
      value: "eu",
    });
    expect(await run("tag", "ls", "/a/b/hello.txt")).toEqual({
      path: "/a/b/hello.txt",
      tags: { site: "eu" },
    });
    const { tid } = await run("tid");
    expect(tid).toMatch(/^[0-9a-f]{16}$/);
    const snap = await run("snapshot", "create", "s1");
    expect(Object.keys(snap.snapshot).sort()).toEqual(["createdAt", "name", "tid"]);
    expect((await run("snapshot", "ls")).snapshots.map((s: { name: string }) => s.name)).toEqual(["s1"]);
    expect(await run("tag", "rm", "/a/b/hello.txt", "site")).toEqual({ path: "/a/b/hello.txt", key: "site" });
    const history = await run("history", "/a/b/hello.txt");
    expect(history.path).toBe("/a/b/hello.txt");
    expect(history.versions.length).toBeGreaterThanOrEqual(3);
    expect(Object.keys(history.versions[0]).sort()).toEqual([
      "change",
      "mode",
      "mtime",
      "size",
      "tid",
      "time",
      "type",
    ]);
    expect(await run("tag", "ls", "/a/b/hello.txt", "--as-of", "@s1")).toEqual({
      path: "/a/b/hello.txt",
      tags: { site: "eu" },
    });
    const reverted = await run("revert", "/a/b/hello.txt", "--to", tid);
    expect(reverted).toMatchObject({ path: "/a/b/hello.txt", to: tid });
    expect(reverted.tid > tid).toBe(true);
    expect(await run("rm", "-r", "/a", "/link")).toEqual({ removed: ["/a", "/link"] });
    expect(await run("snapshot", "rm", "s1")).toEqual({ removed: "s1" });
  });

  it("pfs, status, placement, registry ops (in-process on --local)", async () => {
    expect((await run("pfs", "create", "other")).pfs.name).toBe("other");
    expect((await run("pfs", "ls")).pfs.map((p: { name: string }) => p.name).sort()).toEqual([
      "default",
      "other",
    ]);
    const status = await run("status");
    expect(status.target).toEqual({ kind: "local", dir: `${dir}/deployment`, pfs: "default" });
    expect(status.status).toMatchObject({ metadata: "sqlite" });
    await run("put", `${dir}/hello.txt`, "/p.txt");
    // Six bytes live inline in metadata: no chunks on any volume.
    expect(await run("placement", "/p.txt")).toEqual({ path: "/p.txt", extents: [] });
    const vacuum = await run("vacuum");
    expect(vacuum.op).toBe("vacuum.run");
    expect(vacuum.result).toMatchObject({ apply: false, complete: true });
    expect(await run("fsck")).toMatchObject({ op: "fsck.run", result: { ok: true, problems: [] } });
  });

  it("errors: JSON on stderr with the class's exit code", async () => {
    const missing = await fail("cat", "/nope");
    expect(missing.code).toBe(2);
    expect(missing.error).toMatchObject({ code: "ENOENT", details: { path: "/nope" } });
    expect(missing.error.message).toContain("/nope");
    await run("mkdir", "/exists");
    expect((await fail("mkdir", "/exists")).code).toBe(3);
    expect((await fail("ls", "--as-of", "yesterday")).code).toBe(1);
    const badOption = await fail("vacuum", "--time-budget", "0");
    expect(badOption.code).toBe(1);
    expect(badOption.error).toMatchObject({ code: "EINVAL", details: { option: "--time-budget" } });
  });
});
