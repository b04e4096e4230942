import { describe, expect, it } from "vitest";
import { codeOf, setup } from "./namespace-helpers.ts";

describe("namespace: mkdir, create, stat, readdir", () => {
  it("creates directories and files that stat and readdir show", async () => {
    const { fs } = await setup();
    const d = await fs.mkdir("/a");
    expect(d.type).toBe("dir");
    const f = await fs.create("/a/f", { mode: 0o600, uid: 5, gid: 6 });
    expect(f).toMatchObject({ type: "file", mode: 0o600, uid: 5, gid: 6, nlink: 1, size: 0 });
    expect(await fs.stat("/a/f")).toEqual(f);
    expect(await fs.readdir("/a")).toEqual({ entries: [{ name: "f", type: "file", ino: f.ino }] });
    expect((await fs.readdir("/")).entries.map((e) => e.name)).toEqual(["a"]);
    expect((await fs.stat("/")).type).toBe("dir");
  });

  it("reports EEXIST, ENOENT and ENOTDIR like POSIX", async () => {
    const { fs } = await setup();
    await fs.mkdir("/a");
    await fs.create("/a/f");
    expect(await codeOf(fs.mkdir("/a"))).toBe("EEXIST");
    expect(await codeOf(fs.create("/a/f"))).toBe("EEXIST");
    expect(await codeOf(fs.create("/nope/f"))).toBe("ENOENT");
    expect(await codeOf(fs.create("/a/f/g"))).toBe("ENOTDIR");
    expect(await codeOf(fs.stat("/a/missing"))).toBe("ENOENT");
    expect(await codeOf(fs.readdir("/a/f"))).toBe("ENOTDIR");
    expect(await codeOf(fs.mkdir("/"))).toBe("EEXIST");
  });

  it("mkdir recursive creates every missing component and accepts existing ones", async () => {
    const { fs } = await setup();
    await fs.mkdir("/x");
    const st = await fs.mkdir("/x/y/z", { recursive: true });
    expect(st.type).toBe("dir");
    expect((await fs.readdir("/x/y")).entries.map((e) => e.name)).toEqual(["z"]);
    expect((await fs.mkdir("/x/y/z", { recursive: true })).ino).toBe(st.ino);
    await fs.create("/x/file");
    expect(await codeOf(fs.mkdir("/x/file/q", { recursive: true }))).toBe("ENOTDIR");
  });
});
