import { describe, expect, it } from "vitest";
import { dateToTid, tidToDate } from "../../core/namespace/index.ts";
import { codeOf, setup } from "./namespace-helpers.ts";

describe("namespace: as-of reads, history, snapshots", () => {
  it("reads stat, readdir, readlink, xattrs and tags as of a remembered TID", async () => {
    const { fs, clock } = await setup();
    await fs.mkdir("/d");
    await fs.create("/d/f", { mode: 0o600 });
    await fs.setTag("/d/f", "k", "1");
    await fs.setXattr("/d/f", "user.x", new Uint8Array([1]));
    await fs.symlink("/d/f", "/s");
    const t1 = await fs.currentTid();
    clock.tick(5);
    await fs.setattr("/d/f", { mode: 0o644 });
    await fs.setTag("/d/f", "k", "2");
    await fs.removeXattr("/d/f", "user.x");
    await fs.rename("/d/f", "/d/g");
    await fs.unlink("/s");
    await fs.create("/d/h");
    const at = { asOf: t1 };
    expect((await fs.stat("/d/f", at)).mode).toBe(0o600);
    expect(await codeOf(fs.stat("/d/g", at))).toBe("ENOENT");
    expect((await fs.readdir("/d", at)).entries.map((e) => e.name)).toEqual(["f"]);
    expect(await fs.readlink("/s", at)).toBe("/d/f");
    expect((await fs.stat("/s", at)).mode).toBe(0o600);
    expect(await fs.getTags("/d/f", at)).toEqual({ k: "1" });
    expect(await fs.getXattr("/d/f", "user.x", at)).toEqual(new Uint8Array([1]));
    expect((await fs.readdir("/d")).entries.map((e) => e.name)).toEqual(["g", "h"]);
    const view = fs.asOf(t1);
    expect((await view.lstat("/s")).type).toBe("symlink");
    expect(await codeOf((view as unknown as { mkdir(p: string): Promise<unknown> }).mkdir("/x"))).toBe(
      "EROFS",
    );
  });

  it("an as-of read gives the same answer after later commits, also from another engine", async () => {
    const { fs, store, clock } = await setup();
    await fs.create("/f");
    const t = await fs.currentTid();
    const before = await fs.stat("/f", { asOf: t });
    const { createNamespace } = await import("../../core/namespace/index.ts");
    // A second client whose clock runs behind: its commits must still land above the closed TID.
    const behind = createNamespace({ store, clock: () => clock.now() - 60_000 }).pfs("main");
    await behind.setattr("/f", { mode: 0o700 });
    await behind.create("/g");
    expect(await fs.stat("/f", { asOf: t })).toEqual(before);
    expect(await codeOf(fs.stat("/g", { asOf: t }))).toBe("ENOENT");
    expect((await fs.stat("/f")).tid > t).toBe(true);
    expect((await fs.readdir("/", { asOf: t })).entries.map((e) => e.name)).toEqual(["f"]);
  });

  it("a commit whose TID the closed TID overtook is retried above it", async () => {
    const { fs, store, clock } = await setup();
    const { createNamespace } = await import("../../core/namespace/index.ts");
    await fs.create("/f");
    // Another client closes a TID one minute ahead of this engine's clock.
    const ahead = createNamespace({ store, clock: () => clock.now() + 60_000 }).pfs("main");
    const closed = await ahead.currentTid();
    store.resetRequestCounts();
    const st = await fs.create("/g");
    expect(st.tid > closed).toBe(true);
    expect(store.requestCounts().TransactWriteItems).toBe(2);
    expect(await codeOf(fs.stat("/g", { asOf: closed }))).toBe("ENOENT");
  });

  it("a name re-created by a client with a slower clock gets a TID above the name's deletion", async () => {
    const { fs, store, clock } = await setup();
    const { createNamespace } = await import("../../core/namespace/index.ts");
    const ahead = createNamespace({ store, clock: () => clock.now() + 60_000 }).pfs("main");
    await fs.create("/f");
    const removed = await ahead.batch([{ op: "unlink", path: "/f" }]);
    const again = await fs.create("/f");
    expect(again.tid > removed).toBe(true);
    // So the entry history never overlaps: as of the deletion the name is free.
    expect(await codeOf(fs.stat("/f", { asOf: removed }))).toBe("ENOENT");
  });

  it("a future as-of point is clamped to now and reads the current state", async () => {
    const { fs, clock } = await setup();
    await fs.create("/f");
    const future = new Date(clock.now() + 3_600_000);
    expect((await fs.stat("/f", { asOf: future })).ino).toBe((await fs.stat("/f")).ino);
    // The clamp did not close the future: writes still work at the present clock.
    await fs.create("/g");
  });

  it("Date and TID conversions agree and order with commits", async () => {
    const { fs, clock } = await setup();
    const f = await fs.create("/f");
    expect(tidToDate(f.tid).getTime()).toBe(clock.now());
    expect(dateToTid(new Date(clock.now())) >= f.tid).toBe(true);
    clock.tick(1000);
    const d = new Date(clock.now());
    clock.tick(1000);
    await fs.setattr("/f", { mode: 0o600 });
    expect((await fs.stat("/f", { asOf: d })).mode).toBe(0o644);
  });

  it("history lists versions newest first with change kinds, and deletions", async () => {
    const { fs } = await setup();
    await fs.create("/f");
    await fs.setattr("/f", { mode: 0o600 });
    await fs.writeContent("/f", { size: 1, inline: new Uint8Array([7]) });
    const h = await fs.history("/f");
    expect(h.map((v) => v.change)).toEqual(["write", "setattr", "create"]);
    expect(h[0]!.tid > h[1]!.tid && h[1]!.tid > h[2]!.tid).toBe(true);
    expect(h[1]!.stat!.mode).toBe(0o600);
    expect((await fs.history("/f", { limit: 1 })).length).toBe(1);
    await fs.link("/f", "/g");
    await fs.unlink("/f");
    expect((await fs.history("/g")).map((v) => v.change).slice(0, 2)).toEqual(["unlink", "link"]);
  });

  it("snapshots pin a TID, list, resolve as-of, and delete", async () => {
    const { fs } = await setup();
    await fs.create("/f");
    const snap = await fs.createSnapshot("s1");
    await fs.unlink("/f");
    expect(await codeOf(fs.createSnapshot("s1"))).toBe("EEXIST");
    expect((await fs.listSnapshots()).map((s) => [s.name, s.tid])).toEqual([["s1", snap.tid]]);
    expect((await fs.stat("/f", { asOf: { snapshot: "s1" } })).type).toBe("file");
    expect((await fs.asOf({ snapshot: "s1" }).readdir("/")).entries.map((e) => e.name)).toEqual(["f"]);
    await fs.deleteSnapshot("s1");
    expect(await codeOf(fs.deleteSnapshot("s1"))).toBe("ENOENT");
    expect(await codeOf(fs.stat("/f", { asOf: { snapshot: "s1" } }))).toBe("ENOENT");
  });
});

describe("namespace: change index", () => {
  it("every commit up to a closed TID is in the change index with the keys it wrote", async () => {
    const { fs, store, ns } = await setup();
    await fs.mkdir("/d");
    await fs.create("/d/f");
    await fs.setattr("/d/f", { mode: 0o600 });
    await fs.rename("/d/f", "/g");
    await fs.batch([
      { op: "create", path: "/h" },
      { op: "setTag", path: "/h", key: "k", value: "v" },
    ]);
    const t = await fs.currentTid();
    const pfs = (await ns.listPfs())[0]!;
    const changes = new Map<string, string[]>();
    for (let shard = 0; shard < 8; shard++) {
      const page = await store.query(`chg#${pfs.id}#${shard}`);
      for (const item of page.items) {
        const keys = (item.keys as string[][]).map(([pk, sk]) => `${pk} ${sk}`);
        changes.set(String(item.tid), [...(changes.get(String(item.tid)) ?? []), ...keys]);
      }
    }
    for (const path of ["/g", "/h"]) {
      for (const v of await fs.history(path)) {
        expect(v.tid <= t).toBe(true);
        const keys = changes.get(v.tid);
        expect(keys).toBeDefined();
        expect(keys!.some((k) => k.startsWith(`ino#${pfs.id}#${v.stat!.ino} v#`))).toBe(true);
      }
    }
    // createPfs, mkdir, create, setattr, rename, batch: six commits.
    expect(changes.size).toBe(6);
  });
});

describe("namespace: revert", () => {
  it("reverts a file's attributes and content as a new version", async () => {
    const { fs } = await setup();
    await fs.create("/f", { content: { size: 1, inline: new Uint8Array([1]) } });
    const t = await fs.currentTid();
    await fs.writeContent("/f", { size: 2, inline: new Uint8Array([2, 2]) });
    await fs.setattr("/f", { mode: 0o600 });
    const tid = await fs.revert("/f", t);
    const st = await fs.stat("/f");
    expect(st.content).toEqual({ size: 1, inline: new Uint8Array([1]) });
    expect(st.mode).toBe(0o644);
    expect(st.tid).toBe(tid);
    expect((await fs.history("/f")).map((v) => v.change)).toEqual(["revert", "setattr", "write", "create"]);
  });

  it("by path: brings back a deleted file and removes a file created later", async () => {
    const { fs } = await setup();
    const f = await fs.create("/f");
    const t = await fs.currentTid();
    await fs.unlink("/f");
    await fs.create("/g");
    await fs.revert("/f", t, { byPath: true });
    expect((await fs.stat("/f")).ino).toBe(f.ino);
    await fs.revert("/g", t, { byPath: true });
    expect((await fs.readdir("/")).entries.map((e) => e.name)).toEqual(["f"]);
  });

  it("reverts a subtree recursively: renames, deletions and new entries", async () => {
    const { fs } = await setup();
    await fs.mkdir("/p/q", { recursive: true });
    const a = await fs.create("/p/q/a");
    await fs.create("/p/b");
    const t = await fs.currentTid();
    await fs.rename("/p/q", "/p/r");
    await fs.unlink("/p/b");
    await fs.create("/p/new");
    await fs.mkdir("/p/newdir/deep", { recursive: true });
    await fs.create("/p/newdir/deep/x");
    await fs.revert("/p", t, { recursive: true });
    expect((await fs.readdir("/p")).entries.map((e) => e.name)).toEqual(["b", "q"]);
    expect((await fs.stat("/p/q/a")).ino).toBe(a.ino);
    expect(await codeOf(fs.revert("/nope", t))).toBe("ENOENT"); // by identity: no object there
    expect(await codeOf(fs.revert("/nope", t, { byPath: true }))).toBe("ok"); // nothing then, nothing now
  });

  it("a recursive revert that fits in one transaction commits as one", async () => {
    const { fs, store } = await setup();
    await fs.mkdir("/p");
    await fs.create("/p/a");
    const t = await fs.currentTid();
    await fs.unlink("/p/a");
    await fs.mkdir("/p/n");
    await fs.create("/p/n/x");
    store.resetRequestCounts();
    const tid = await fs.revert("/p", t, { recursive: true });
    expect(store.requestCounts().TransactWriteItems).toBe(1);
    expect((await fs.readdir("/p")).entries.map((e) => e.name)).toEqual(["a"]);
    expect((await fs.stat("/p/a")).tid).toBe(tid);
  });

  it("a recursive revert too big for one transaction falls back to one per path", async () => {
    const { fs, store } = await setup();
    await fs.mkdir("/p");
    const t = await fs.currentTid();
    const ops = Array.from({ length: 60 }, (_, i) => ({ op: "create" as const, path: `/p/f${i}` }));
    for (let i = 0; i < ops.length; i += 30) await fs.batch(ops.slice(i, i + 30));
    store.resetRequestCounts();
    await fs.revert("/p", t, { recursive: true });
    expect(store.requestCounts().TransactWriteItems).toBeGreaterThan(1);
    expect((await fs.readdir("/p")).entries).toEqual([]);
  });

  it("by path: refuses a non-recursive revert that would drop a non-empty directory", async () => {
    const { fs } = await setup();
    const t = await fs.currentTid();
    await fs.mkdir("/d");
    await fs.create("/d/x");
    expect(await codeOf(fs.revert("/d", t, { byPath: true }))).toBe("ENOTEMPTY");
  });
});
