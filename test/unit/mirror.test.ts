/**
 * Mirroring on the memory store: the stream's contract (final, paged, any reader from any TID),
 * EROFS on mirrors, crash-resume at every store call, full-state resync after pruning, promotion
 * and switchover. The random-workload property runs on every backend in test/conformance/mirror.ts.
 */
import { describe, expect, it } from "vitest";
import { vacuum } from "../../core/maintenance/vacuum.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import {
  createMirror,
  fenceMaster,
  mirrorStatus,
  promoteMirror,
  readFull,
  readStream,
  runMirror,
  type StreamRecord,
} from "../../core/mirror/index.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { mulberry32 } from "../../core/random.ts";
import { setRetention } from "../../core/retention/store.ts";
import { codeOf } from "../support/errors.ts";
import { CrashError, faultyStore } from "../support/faulty-store.ts";
import {
  bytesOf,
  deployment,
  type MirrorDeployment,
  mainSource,
  snapshotTree,
  sourceOf,
  streamKeys,
} from "../support/mirror.ts";

/** A source with some history: directories, chunked and inline files, a rename, a batch, tags. */
async function sourceWithHistory() {
  const { src, fs, source } = await mainSource();
  await fs.mkdir("/d");
  await src.data.writeFile(fs, "/d/big", bytesOf(70_000, 1));
  await src.data.writeFile(fs, "/d/small", bytesOf(10, 2));
  await fs.setTag("/d/big", "site", "gcs");
  await fs.batch(Array.from({ length: 20 }, (_, i) => ({ op: "mkdir" as const, path: `/m${i}` })));
  await fs.rename("/d/small", "/d/renamed");
  await src.data.writeFile(fs, "/d/big", bytesOf(70_000, 9));
  await fs.unlink("/d/renamed");
  return { src, fs, source };
}

/** An applied vacuum of `dep` on `clock`, without the readers' grace wait. */
function vacuumNow(dep: MirrorDeployment, clock: () => number) {
  return vacuum({
    store: dep.store,
    namespace: dep.ns,
    volumes: dep.volumes,
    apply: true,
    clock,
    sleep: async () => {},
    readerGraceMs: 0,
  });
}

describe("the stream", () => {
  it("is final up to its upto, pages concatenate to the one-page read, and any reader reads from any TID", async () => {
    const { src, fs } = await sourceWithHistory();
    const upto = await fs.currentTid();
    const whole = await readStream(src.ns, "main", { upto });
    expect(whole.next).toBeUndefined();
    expect(whole.records.every((r) => r.tid <= upto)).toBe(true);
    // Paged: the same records in the same order.
    const paged: StreamRecord[] = [];
    let page = await readStream(src.ns, "main", { upto, limit: 1 });
    let pages = 1;
    paged.push(...page.records);
    while (page.next) {
      page = await readStream(src.ns, "main", { token: page.next, limit: 1 });
      paged.push(...page.records);
      pages++;
    }
    expect(pages).toBeGreaterThan(3);
    expect(paged).toEqual(whole.records);
    // Later commits do not change a closed range; a reader from the middle gets the tail.
    await src.data.writeFile(fs, "/later", bytesOf(5, 5));
    expect((await readStream(src.ns, "main", { upto })).records).toEqual(whole.records);
    const mid = whole.records[Math.floor(whole.records.length / 2)]!.tid;
    const tail = await readStream(src.ns, "main", { since: mid, upto });
    expect(tail.records).toEqual(whole.records.filter((r) => r.tid > mid));
    // TIDs in order, every record with its CRC.
    for (let i = 1; i < whole.records.length; i++)
      expect(whole.records[i]!.tid >= whole.records[i - 1]!.tid).toBe(true);
  });

  it("rejects bad requests with EINVAL before reading anything", async () => {
    const { src } = await sourceWithHistory();
    expect(await codeOf(readStream(src.ns, "main", { since: "nope" }))).toBe("EINVAL");
    expect(await codeOf(readStream(src.ns, "main", { token: "s1.zz.zz" }))).toBe("EINVAL");
    expect(await codeOf(readStream(src.ns, "main", { limit: 0 }))).toBe("EINVAL");
  });
});

describe("mirrors", () => {
  it("refuse every write with EROFS and read as of their sync TID", async () => {
    const { src, fs, source } = await sourceWithHistory();
    const dst = deployment(new MemoryMetadataStore(), 2, "gcs", 2);
    const target = { ns: dst.ns, volumes: dst.volumes };
    await createMirror(target, { name: "copy", source, volumes: ["gcs"] });
    const first = await runMirror(target, "copy", source);
    await src.data.writeFile(fs, "/d/new", bytesOf(3, 3));
    const m = dst.ns.pfs("copy");
    // Not synced yet: the new file is not there, live or as of a later point.
    expect(await codeOf(m.stat("/d/new"))).toBe("ENOENT");
    expect(await codeOf(m.stat("/d/new", { asOf: await fs.currentTid() }))).toBe("ENOENT");
    expect(await m.currentTid()).toBe(first.to);
    const writes: Array<() => Promise<unknown>> = [
      () => m.mkdir("/x"),
      () => m.create("/x"),
      () => m.writeContent("/d/big", { size: 1, inline: new Uint8Array(1) }),
      () => m.rename("/d/big", "/d/b2"),
      () => m.unlink("/d/big"),
      () => m.rmdir("/m1"),
      () => m.symlink("/d", "/l"),
      () => m.link("/d/big", "/l"),
      () => m.setattr("/d/big", { mode: 0o600 }),
      () => m.setXattr("/d/big", "user.a", new Uint8Array(1)),
      () => m.removeXattr("/d/big", "user.a"),
      () => m.setTag("/d/big", "k", "v"),
      () => m.removeTag("/d/big", "site"),
      () => m.revert("/d", first.to),
      () => m.batch([{ op: "mkdir", path: "/y" }]),
      () => dst.ns.deletePfs("copy"),
      () => dst.data.writeFile(m, "/d/w", bytesOf(3, 1)),
    ];
    for (const w of writes) expect(await codeOf(w())).toBe("EROFS");
    await runMirror(target, "copy", source);
    expect((await m.stat("/d/new")).size).toBe(3);
  });

  it("resumes after a crash at any store call without duplicates or gaps (commits applied in parts too)", async () => {
    const { src, fs, source } = await sourceWithHistory();
    const upto = await fs.currentTid();
    const want = streamKeys((await readFull(src.ns, "main", upto)).records);
    const wantTree = await snapshotTree(fs.asOf(upto), src.data);
    // Calls of one clean run (small pages and transactions: many crash points).
    const probe = faultyStore(new MemoryMetadataStore());
    const mk = (store: MemoryMetadataStore | ReturnType<typeof faultyStore>, seed: number) =>
      createNamespace({ store, site: 2, random: mulberry32(seed), options: { sleep: async () => {} } });
    const dst0 = deployment(probe.inner, 2, "gcs", 2);
    await createMirror(
      { ns: mk(probe, 3), volumes: dst0.volumes },
      { name: "copy", source, volumes: ["gcs"] },
    );
    const before = probe.callCount;
    await runMirror({ ns: mk(probe, 3), volumes: dst0.volumes }, "copy", source, {
      upto,
      limit: 2,
      maxItems: 7,
    });
    const calls = probe.callCount - before;
    expect(calls).toBeGreaterThan(10);
    for (let k = 0; k < calls; k++)
      for (const when of ["before", "after"] as const) {
        const inner = new MemoryMetadataStore();
        const dst = deployment(inner, 2, "gcs", 2);
        await createMirror(
          { ns: mk(inner, 4), volumes: dst.volumes },
          { name: "copy", source, volumes: ["gcs"] },
        );
        const dying = faultyStore(inner, { crashAt: { call: k, when } });
        const crashed = await runMirror({ ns: mk(dying, 5), volumes: dst.volumes }, "copy", source, {
          upto,
          limit: 2,
          maxItems: 7,
        }).then(
          () => false,
          (err) => {
            if (!(err instanceof CrashError)) throw err;
            return true;
          },
        );
        expect(crashed).toBe(true);
        // A fresh process on the same store: resumes from the stored sync TID.
        const fresh = mk(inner, 6);
        const report = await runMirror({ ns: fresh, volumes: dst.volumes }, "copy", source, { upto });
        expect(report.mode).toBe("incremental");
        expect(report.to).toBe(upto);
        expect(streamKeys((await readFull(fresh, "copy", upto)).records)).toEqual(want);
        expect(await snapshotTree(fresh.pfs("copy"), dst.data)).toEqual(wantTree);
      }
  }, 120_000);

  it("falls back to a full-state comparison when the source pruned past its sync TID", async () => {
    const { src, fs, source } = await sourceWithHistory();
    const dst = deployment(new MemoryMetadataStore(), 2, "gcs", 2);
    const target = { ns: dst.ns, volumes: dst.volumes };
    await createMirror(target, { name: "copy", source, volumes: ["gcs"] });
    await runMirror(target, "copy", source);
    // New history, then "retention" removes an ended record of it (what vacuum does).
    await src.data.writeFile(fs, "/d/gone", bytesOf(4, 4));
    await fs.unlink("/d/gone");
    await src.data.writeFile(fs, "/d/kept", bytesOf(80_000, 4));
    const ended = (await readFull(src.ns, "main")).records.find(
      (r) =>
        r.pk.startsWith("ino#") &&
        r.item.dtid !== undefined &&
        r.item.change === "create" &&
        r.item.size === 4,
    )!;
    const ctx = await (src.ns as unknown as { context(n: string): Promise<{ id: string }> }).context("main");
    await src.store.delete({ pk: `ino#${ctx.id}#${ended.pk.slice(4)}`, sk: ended.sk });
    const report = await runMirror(target, "copy", source);
    expect(report.mode).toBe("full");
    expect(report.differing).toBeGreaterThan(0);
    expect(await snapshotTree(dst.ns.pfs("copy"), dst.data)).toEqual(
      await snapshotTree(fs.asOf(report.to), src.data),
    );
    // Back to incremental afterwards.
    await fs.setTag("/d/kept", "k", "v");
    expect((await runMirror(target, "copy", source)).mode).toBe("incremental");
    expect(await dst.ns.pfs("copy").getTags("/d/kept")).toEqual({ k: "v" });
  });

  it("answers EPRUNED below the retention watermark, and the mirror then compares full states", async () => {
    let now = Date.UTC(2026, 0, 5, 12);
    const clock = () => now;
    const { src, fs, source } = await mainSource(clock);
    await src.data.writeFile(fs, "/a", bytesOf(70_000, 1));
    const dst = deployment(new MemoryMetadataStore(), 2, "gcs", 2, clock);
    const target = { ns: dst.ns, volumes: dst.volumes, clock };
    await createMirror(target, { name: "copy", source, volumes: ["gcs"] });
    const first = await runMirror(target, "copy", source);
    now += 60_000;
    await src.data.writeFile(fs, "/a", bytesOf(70_000, 2));
    await src.data.writeFile(fs, "/b", bytesOf(20, 3));
    await fs.unlink("/b");
    now += 3 * 3600_000;
    await setRetention(src.store, "main", "all 1h", clock);
    const vac = await vacuumNow(src, clock);
    expect(vac.records.count).toBeGreaterThan(0);
    expect(await codeOf(readStream(src.ns, "main", { since: first.to }))).toBe("EPRUNED");
    const report = await runMirror(target, "copy", source);
    expect(report.mode).toBe("full");
    expect(await snapshotTree(dst.ns.pfs("copy"), dst.data)).toEqual(
      await snapshotTree(fs.asOf(report.to), src.data),
    );
    // The mirror keeps the history the source pruned: its own retention decides.
    expect(await dst.data.readFile(dst.ns.pfs("copy").asOf(first.to), "/a")).toEqual(bytesOf(70_000, 1));
  });

  it("has its own retention: vacuum prunes the mirror's history, the source keeps its own, the mirror goes on", async () => {
    let now = Date.UTC(2026, 0, 5, 12);
    const clock = () => now;
    const { src, fs, source } = await mainSource(clock);
    const dst = deployment(new MemoryMetadataStore(), 2, "gcs", 2, clock);
    const target = { ns: dst.ns, volumes: dst.volumes, clock };
    await createMirror(target, { name: "copy", source, volumes: ["gcs"] });
    await src.data.writeFile(fs, "/a", bytesOf(70_000, 1));
    const old = await runMirror(target, "copy", source);
    now += 60_000;
    await src.data.writeFile(fs, "/a", bytesOf(70_000, 2));
    await runMirror(target, "copy", source);
    now += 3 * 3600_000;
    await setRetention(dst.store, "copy", "all 1h", clock);
    const vac = await vacuumNow(dst, clock);
    expect(vac.records.count).toBeGreaterThan(0);
    expect(vac.chunks.count).toBeGreaterThan(0); // the first version's chunks, on the mirror's volume
    expect(await codeOf(dst.data.readFile(dst.ns.pfs("copy").asOf(old.to), "/a"))).toBe("EPRUNED");
    expect(await src.data.readFile(fs.asOf(old.to), "/a")).toEqual(bytesOf(70_000, 1));
    await src.data.writeFile(fs, "/b", bytesOf(5, 5));
    const next = await runMirror(target, "copy", source);
    expect(next.mode).toBe("incremental");
    expect(await snapshotTree(dst.ns.pfs("copy"), dst.data)).toEqual(
      await snapshotTree(fs.asOf(next.to), src.data),
    );
  });

  it("keeps every apply transaction and stream page under ~4 MB (large xattrs)", async () => {
    const { src, fs, source } = await mainSource();
    for (let i = 0; i < 12; i++) {
      await fs.create(`/x${i}`);
      for (const name of ["user.a", "user.b", "user.c", "user.a"])
        await fs.setXattr(`/x${i}`, name, bytesOf(65_000, i + name.length));
    }
    const dst = deployment(new MemoryMetadataStore(), 2, "gcs", 2);
    const target = { ns: dst.ns, volumes: dst.volumes };
    await createMirror(target, { name: "copy", source, volumes: ["gcs"] });
    const report = await runMirror(target, "copy", source);
    expect(report.transactions).toBeGreaterThanOrEqual(2); // ~6.5 MB of versions
    expect(report.pages).toBeGreaterThan(1); // a page stops after ~4 MB of records, between TIDs
    const first = await readStream(src.ns, "main", {});
    expect(first.next).toBeDefined();
    expect(first.records.length).toBeGreaterThan(0);
    expect(await snapshotTree(dst.ns.pfs("copy"), dst.data)).toEqual(
      await snapshotTree(fs.asOf(report.to), src.data),
    );
  });

  it("copies chunks to the mirror's own volume, once", async () => {
    const { source } = await sourceWithHistory();
    const dst = deployment(new MemoryMetadataStore(), 2, "gcs", 2);
    const target = { ns: dst.ns, volumes: dst.volumes };
    await createMirror(target, { name: "copy", source, volumes: ["gcs"] });
    const report = await runMirror(target, "copy", source);
    expect(report.chunksCopied).toBe(4); // two versions of /d/big, two 64 KiB chunks each
    expect(report.bytesCopied).toBe(140_000);
    expect(await dst.data.readFile(dst.ns.pfs("copy"), "/d/big")).toEqual(bytesOf(70_000, 9));
    expect(
      (await dst.data.placement(dst.ns.pfs("copy"), "/d/big"))[0]!.instances.map((i) => i.volume),
    ).toEqual(["gcs"]);
    expect((await runMirror(target, "copy", source)).chunksCopied).toBe(0);
  });
});

describe("chains", () => {
  it("a mirror is a source in turn: its own change index covers what it applied", async () => {
    const { src, fs, source } = await sourceWithHistory();
    const mid = deployment(new MemoryMetadataStore(), 2, "gcs", 2);
    const end = deployment(new MemoryMetadataStore(), 3, "azure", 3);
    await createMirror({ ns: mid.ns, volumes: mid.volumes }, { name: "mid", source, volumes: ["gcs"] });
    const midSource = sourceOf(mid, "mid");
    await createMirror(
      { ns: end.ns, volumes: end.volumes },
      { name: "end", source: midSource, volumes: ["azure"] },
    );
    for (let round = 0; round < 2; round++) {
      const first = await runMirror({ ns: mid.ns, volumes: mid.volumes }, "mid", source, { limit: 3 });
      const second = await runMirror({ ns: end.ns, volumes: end.volumes }, "end", midSource, { limit: 3 });
      expect(second.to).toBe(first.to); // a mirror's stream ends at its sync TID
      expect(streamKeys((await readFull(end.ns, "end", second.to)).records)).toEqual(
        streamKeys((await readFull(src.ns, "main", second.to)).records),
      );
      expect(await snapshotTree(end.ns.pfs("end"), end.data)).toEqual(
        await snapshotTree(fs.asOf(second.to), src.data),
      );
      await src.data.writeFile(fs, "/d/round", bytesOf(70_000, round));
      await fs.rename(`/m${3 + round}`, `/d/m${3 + round}`);
    }
  });
});

describe("promotion", () => {
  it("makes a mirror a writable master above its sync TID, keeping the source's history", async () => {
    const { fs, source } = await sourceWithHistory();
    const dst = deployment(new MemoryMetadataStore(), 2, "gcs", 2);
    const target = { ns: dst.ns, volumes: dst.volumes };
    await createMirror(target, { name: "copy", source, volumes: ["gcs"] });
    const run = await runMirror(target, "copy", source);
    const { tid } = await promoteMirror(target, "copy");
    expect(tid).toBe(run.to);
    const m = dst.ns.pfs("copy");
    await dst.data.writeFile(m, "/d/after", bytesOf(100, 1));
    expect((await m.stat("/d/after")).tid > tid).toBe(true);
    expect(await dst.data.readFile(m, "/d/big")).toEqual(bytesOf(70_000, 9));
    const h = await m.history("/d/big");
    expect(h.map((v) => v.change)).toEqual((await fs.history("/d/big")).map((v) => v.change));
    expect((await mirrorStatus(target, "copy"))[0]!.role).toBe("promoted");
    expect(await codeOf(promoteMirror(target, "copy"))).toBe("EINVAL");
  });

  it("switchover: the former master is fenced, the mirror catches up to its last commit, then the former follows the new master", async () => {
    const { src, fs, source } = await sourceWithHistory();
    const dst = deployment(new MemoryMetadataStore(), 2, "gcs", 2);
    const target = { ns: dst.ns, volumes: dst.volumes };
    await createMirror(target, { name: "copy", source, volumes: ["gcs"] });
    await runMirror(target, "copy", source);
    await src.data.writeFile(fs, "/d/last-on-old", bytesOf(7, 7)); // not yet mirrored
    const { formerFinalTid } = await promoteMirror(target, "copy", {
      source,
      former: { ns: src.ns, pfs: "main", becomes: "demote", newSource: "remote:copy" },
    });
    expect(formerFinalTid).toBeDefined();
    const m = dst.ns.pfs("copy");
    expect((await m.stat("/d/last-on-old")).size).toBe(7); // nothing acknowledged was lost
    expect(await codeOf(fs.mkdir("/z"))).toBe("EROFS");
    expect(await codeOf(src.ns.pfs("main").mkdir("/z"))).toBe("EROFS");
    await dst.data.writeFile(m, "/on-new", bytesOf(9, 9));
    // The former master now mirrors the new one.
    const back = sourceOf(dst, "copy");
    const report = await runMirror({ ns: src.ns, volumes: src.volumes }, "main", back);
    expect(report.from).toBe(formerFinalTid);
    expect(await snapshotTree(src.ns.pfs("main"), src.data)).toEqual(
      await snapshotTree(m.asOf(report.to), dst.data),
    );
  });

  it("fencing a master also stops a writer that cached it as writable", async () => {
    const { src } = await sourceWithHistory();
    const other = createNamespace({ store: src.store, site: 9, options: { sleep: async () => {} } });
    await other.pfs("main").mkdir("/warm"); // caches the PFS as writable
    await fenceMaster(src.ns, "main", { role: "retired" });
    expect(await codeOf(other.pfs("main").mkdir("/late"))).toBe("EROFS");
    expect((await mirrorStatus({ ns: src.ns, volumes: src.volumes }, "main"))[0]!.role).toBe("retired");
  });
});
