import { describe, expect, it } from "vitest";
import { crc32c } from "../../core/crc32c.ts";
import { chunkObjectKey, instanceKey, intentItem } from "../../core/data/chunk-items.ts";
import { sessionItem, stagingKey } from "../../core/data/uploads.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import { setRetention } from "../../core/retention/store.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { codeOf } from "../conformance/data.ts";
import { faultyStore, type StoreCall } from "../support/faulty-store.ts";
import { bytesOf, CHUNK, maintenanceWorld } from "../support/maintenance.ts";

/** A store that runs `action` (once) just before the first call matching `match` reaches it. */
function hooked(inner: MetadataStore, match: (call: StoreCall) => boolean, action: () => Promise<void>) {
  let fire = false;
  let done = false;
  return faultyStore(inner, {
    log: false,
    get: hook(),
    put: hook(),
    update: hook(),
    delete: hook(),
    query: hook(),
    batchGet: hook(),
    transact: hook(),
    sleep: async () => {
      if (fire && !done) {
        done = true;
        await action();
      }
    },
  });
  function hook() {
    return {
      fault: "latency" as const,
      ms: 0,
      when: (call: StoreCall) => {
        if (done || !match(call)) return false;
        fire = true;
        return true;
      },
    };
  }
}

/** Vacuum marking chunk instances `deleting` (one UpdateItem, or a transaction of them). */
const marking = (call: StoreCall) => {
  const marks = (u: { set?: Record<string, unknown> } | undefined) => u?.set?.state === "deleting";
  if (call.op === "update") return marks(call.update);
  return call.op === "transact" && call.ops.some((op) => op.kind === "update" && marks(op.update));
};

/** A PFS whose first version of /f (chunks of seed 1, two of them) is garbage two hours later. */
async function withGarbage() {
  const a = new MemoryVolumeDriver("a");
  const w = maintenanceWorld(new MemoryMetadataStore(), { a });
  await w.ns.createPfs("p");
  const fs = w.ns.pfs("p");
  const v1 = await w.data.writeFile(fs, "/f", bytesOf(1, 2 * CHUNK));
  w.clock.advance(1000);
  await w.data.writeFile(fs, "/f", bytesOf(2, CHUNK));
  await setRetention(w.store, "p", "all 1h", () => w.clock.now);
  w.clock.advance(2 * HOUR);
  const garbage = v1.content!.extents!.map((e) => e.chunk);
  return { a, w, fs, v1, garbage };
}

const HOUR = 3600_000;

describe("vacuum (memory store, memory volumes)", () => {
  it("a dry run reports, apply prunes an overwritten version and frees its chunks", async () => {
    const { a, w, fs, v1 } = await withGarbage();

    const dry = await w.vacuum();
    expect(dry.aborted).toBeUndefined();
    expect(dry.records.byKind.version).toBe(1);
    expect(dry.chunks).toMatchObject({ count: 2, instances: 2, bytes: 2 * CHUNK });
    expect(a.objects.size).toBe(3); // nothing deleted
    expect(await w.data.readFile(fs.asOf(v1.tid), "/f")).toEqual(bytesOf(1, 2 * CHUNK));

    const done = await w.vacuum({ apply: true });
    expect(done).toMatchObject({
      complete: true,
      records: { count: 1 },
      chunks: { count: 2, bytes: 2 * CHUNK },
    });
    expect(a.objects.size).toBe(1);
    expect(a.objects.has(chunkObjectKey(v1.content!.extents![0]!.chunk))).toBe(false);
    expect(await codeOf(fs.stat("/f", { asOf: v1.tid }))).toBe("EPRUNED");
    expect(await w.data.readFile(fs, "/f")).toEqual(bytesOf(2, CHUNK));

    const again = await w.vacuum({ apply: true });
    expect(again).toMatchObject({ complete: true, records: { count: 0 }, chunks: { count: 0 } });
  });

  it("a read error aborts the run before anything more is deleted; the next run finishes", async () => {
    const { a, w, garbage } = await withGarbage();
    const failing = faultyStore(w.store, {
      log: false,
      query: [{ fault: "error", code: "EIO", when: (c) => c.op === "query" && c.pk.startsWith("cref#") }],
    });
    const deleted: string[] = [];
    const report = await w.vacuum({
      apply: true,
      store: failing,
      log: (e) => e.action === "chunk" && deleted.push(e.chunk),
    });
    expect(report.aborted).toMatchObject({ code: "EIO" });
    expect(report.complete).toBe(false);
    expect(deleted).toEqual([]);
    for (const sha of garbage) expect(a.objects.has(chunkObjectKey(sha))).toBe(true);
    const next = await w.vacuum({ apply: true });
    expect(next).toMatchObject({ complete: true, chunks: { count: 2 } });
    for (const sha of garbage) expect(a.objects.has(chunkObjectKey(sha))).toBe(false);
  });

  it("a commit after the cutoff that reuses a candidate chunk keeps it (re-check of recent commits)", async () => {
    const { a, w, fs, garbage } = await withGarbage();
    // Between the cutoff and the marking, a writer stores the old bytes again (dedup reuses the
    // chunks), commits and deletes its intent: only the change index after the cursor shows it.
    const store = hooked(w.store, marking, async () => {
      await w.data.writeFile(fs, "/g", bytesOf(1, 2 * CHUNK));
    });
    const report = await w.vacuum({ apply: true, store });
    expect(report.aborted).toBeUndefined();
    expect(report.rechecked.kept).toBe(2);
    expect(report.chunks.count).toBe(0);
    for (const sha of garbage) {
      expect(a.objects.has(chunkObjectKey(sha))).toBe(true);
      expect((await w.store.get(instanceKey(sha, "a")))?.state).toBe("present");
    }
    expect(await w.data.readFile(fs, "/g")).toEqual(bytesOf(1, 2 * CHUNK));
    // Still referenced at the next run (indexed now): nothing goes.
    expect((await w.vacuum({ apply: true })).chunks.count).toBe(0);
  });

  it("an intent written after the run started protects its chunks (re-check of intents after marking)", async () => {
    const { a, w, garbage } = await withGarbage();
    const store = hooked(w.store, marking, async () => {
      await w.store.put(
        intentItem({
          pfs: "p",
          id: "late",
          path: "/h",
          volumes: ["a"],
          chunks: garbage,
          created: w.clock.now,
          expiresAt: w.clock.now + HOUR,
        }),
      );
    });
    const report = await w.vacuum({ apply: true, store });
    expect(report).toMatchObject({ chunks: { count: 0 }, rechecked: { kept: 2 } });
    for (const sha of garbage) expect(a.objects.has(chunkObjectKey(sha))).toBe(true);
  });

  it("live intents protect their chunks; once expired, their chunks (even unrecorded objects) and the intent go", async () => {
    const { a, w, garbage } = await withGarbage();
    // An upload that died after its put and before its instance record: an object nobody recorded.
    const orphan = bytesOf(9, 1000);
    const sha = "ab".repeat(32);
    await w.volumes.a!.put(chunkObjectKey(sha), orphan, { size: orphan.length, crc32c: crc32c(orphan) });
    await w.store.put(
      intentItem({
        pfs: "p",
        id: "i1",
        path: "/x",
        volumes: ["a"],
        chunks: [...garbage, sha],
        created: w.clock.now,
        expiresAt: w.clock.now + HOUR,
      }),
    );
    const first = await w.vacuum({ apply: true });
    expect(first).toMatchObject({ complete: true, chunks: { count: 0 }, intents: 0 });
    for (const c of [...garbage, sha]) expect(a.objects.has(chunkObjectKey(c))).toBe(true);

    w.clock.advance(3 * HOUR); // past expiresAt + the skew allowance
    const dry = await w.vacuum();
    expect(dry).toMatchObject({ chunks: { count: 3, instances: 3 }, intents: 1 });
    const done = await w.vacuum({ apply: true });
    expect(done).toMatchObject({
      complete: true,
      chunks: { count: 3, instances: 3, bytes: 2 * CHUNK + 1000 },
      intents: 1,
    });
    for (const c of [...garbage, sha]) expect(a.objects.has(chunkObjectKey(c))).toBe(false);
    expect(await w.store.get(instanceKey(sha, "a"))).toBeUndefined();
    expect(await w.store.get({ pk: "intent#p", sk: "i1" })).toBeUndefined();
  });

  it("deletes each object before its instance record", async () => {
    const { w, garbage } = await withGarbage();
    const recordAtDelete: boolean[] = [];
    const a = w.volumes.a!;
    const original = a.delete.bind(a);
    a.delete = async (key, options) => {
      const sha = key.split("/").at(-1)!;
      recordAtDelete.push((await w.store.get(instanceKey(sha, "a"))) !== undefined);
      return original(key, options);
    };
    const report = await w.vacuum({ apply: true });
    expect(report.chunks.count).toBe(2);
    expect(recordAtDelete).toEqual([true, true]);
    for (const sha of garbage) expect(await w.store.get(instanceKey(sha, "a"))).toBeUndefined();
  });

  it("a writer meeting a chunk marked 'deleting' waits for the deletion, then uploads it again", async () => {
    const { a, w, fs, garbage } = await withGarbage();
    for (const sha of garbage)
      await w.store.update(instanceKey(sha, "a"), {
        set: { state: "deleting", until: w.clock.now + HOUR, token: "t" },
      });
    let settled = false;
    const writing = w.data.writeFile(fs, "/g", bytesOf(1, 2 * CHUNK)).finally(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false); // waiting on the lease, not reusing a chunk about to vanish
    for (const sha of garbage) {
      await w.volumes.a!.delete(chunkObjectKey(sha));
      await w.store.delete(instanceKey(sha, "a"));
    }
    await writing;
    expect(await w.data.readFile(fs, "/g")).toEqual(bytesOf(1, 2 * CHUNK));
    for (const sha of garbage) expect(a.objects.has(chunkObjectKey(sha))).toBe(true);
  });

  it("the cutoff is taken first: a change committed during the run is not pruned by it", async () => {
    const { w, fs } = await withGarbage();
    let during = "";
    const store = hooked(
      w.store,
      (c) => c.op === "query" && c.pk.startsWith("intent#"),
      async () => {
        w.clock.advance(1000);
        during = (await w.data.writeFile(fs, "/f", bytesOf(3, CHUNK))).tid;
      },
    );
    const report = await w.vacuum({ apply: true, store });
    expect(report.cutoff.tids.p! < during).toBe(true);
    // The version the new commit ended is newer than the cutoff: not even indexed by this run.
    expect(report.records.count).toBe(1);
    expect(await w.data.readFile(fs.asOf(during), "/f")).toEqual(bytesOf(3, CHUNK));
  });

  it("time-boxed runs stop between steps and the next run resumes until everything is done", async () => {
    const a = new MemoryVolumeDriver("a");
    const w = maintenanceWorld(new MemoryMetadataStore(), { a });
    await w.ns.createPfs("p");
    const fs = w.ns.pfs("p");
    for (let i = 0; i < 40; i++) await w.data.writeFile(fs, `/f${i}`, bytesOf(100 + i, CHUNK));
    for (let i = 0; i < 40; i++) await w.data.writeFile(fs, `/f${i}`, bytesOf(200 + i, CHUNK));
    await setRetention(w.store, "p", "all 1h", () => w.clock.now);
    w.clock.advance(2 * HOUR);
    // Every clock read moves time by 1 ms: a 3 ms budget runs out part-way through.
    const ticking = () => ++w.clock.now;
    let runs = 0;
    let records = 0;
    let chunks = 0;
    for (;;) {
      runs++;
      const r = await w.vacuum({ apply: true, clock: ticking, timeBudgetMs: 3 });
      expect(r.aborted).toBeUndefined();
      records += r.records.count;
      chunks += r.chunks.count;
      if (r.complete) break;
      expect(runs).toBeLessThan(200);
    }
    expect(runs).toBeGreaterThan(1); // at least one run stopped early and the next one resumed
    expect(records).toBe(40);
    expect(chunks).toBe(40);
    expect(a.objects.size).toBe(40);
    for (let i = 0; i < 40; i++) expect(await w.data.readFile(fs, `/f${i}`)).toEqual(bytesOf(200 + i, CHUNK));
  });

  it("a read error during the re-check stops the run and gives the marks back", async () => {
    const { a, w, garbage } = await withGarbage();
    let intentReads = 0;
    const failing = faultyStore(w.store, {
      log: false,
      // The second read of the intents is the re-check after marking.
      query: [
        {
          fault: "unavailable",
          when: (c) => c.op === "query" && c.pk.startsWith("intent#") && ++intentReads === 2,
        },
      ],
    });
    const report = await w.vacuum({ apply: true, store: failing });
    expect(report.aborted).toMatchObject({ code: "EUNAVAIL" });
    for (const sha of garbage) {
      expect(a.objects.has(chunkObjectKey(sha))).toBe(true);
      expect((await w.store.get(instanceKey(sha, "a")))?.state).toBe("present");
    }
    expect((await w.vacuum({ apply: true })).chunks.count).toBe(2);
  });

  it("deletes the staging objects of an expired HTTP upload session, then its intent", async () => {
    const a = new MemoryVolumeDriver("a");
    const w = maintenanceWorld(new MemoryMetadataStore(), { a });
    await w.ns.createPfs("p");
    const sha = "cd".repeat(32);
    const bytes = bytesOf(5, 100);
    await w.volumes.a!.put(stagingKey("u1", sha), bytes, { size: bytes.length, crc32c: crc32c(bytes) });
    const session = {
      pfs: "p",
      id: "u1",
      path: "/up",
      volumes: ["a"],
      chunks: [],
      created: w.clock.now,
      expiresAt: w.clock.now + HOUR,
      tokenId: "t",
      volume: "a",
      staged: [sha],
      urlsExpireAt: w.clock.now + 2 * HOUR,
      committed: true,
    };
    await w.store.put(sessionItem(session));
    w.clock.advance(90 * 60_000); // past expiresAt but a URL is still valid: the session stays
    expect(await w.vacuum({ apply: true })).toMatchObject({ staged: 0, intents: 0 });
    expect(a.objects.has(stagingKey("u1", sha))).toBe(true);
    w.clock.advance(2 * HOUR);
    expect(await w.vacuum()).toMatchObject({ staged: 1, intents: 1 });
    expect(await w.vacuum({ apply: true })).toMatchObject({ staged: 1, intents: 1 });
    expect(a.objects.has(stagingKey("u1", sha))).toBe(false);
    expect(await w.store.get({ pk: "intent#p", sk: "u1" })).toBeUndefined();
  });
});
