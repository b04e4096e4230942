/**
 * Scrub's shared suite: `testScrub(name, fixture)` runs against one MetadataStore + two real
 * volumes ("a", "b"): an instance corrupted at rest (bytes flipped, recorded CRC kept) or deleted
 * is found by a full read and repaired from the other volume; a chunk bad everywhere is reported
 * unrepaired; the rate limit paces reads; a time-boxed run resumes from its cursor; a chunk whose
 * objects were deleted from every volume behind strata's back (listed nowhere) is found by pass 2,
 * recorded missing and reported with the versions that lost it (counter-check: not without pass 2).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chunkObjectKey, instanceKey } from "../../core/data/chunk-items.ts";
import { webCryptoSha256 } from "../../core/data/plane.ts";
import { scrub } from "../../core/maintenance/scrub.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import type { VolumeDriver } from "../../core/volume/port.ts";
import { bytesOf, CHUNK, type MaintenanceWorld, maintenanceWorld } from "../support/maintenance.ts";

export interface ScrubFixture {
  store: MetadataStore;
  drivers: { a: VolumeDriver; b: VolumeDriver };
  /** Flip stored bytes of `key` on a volume, keeping its recorded CRC32C. */
  corruptAtRest(volume: "a" | "b", key: string): Promise<void>;
  dispose(): Promise<void>;
}

export function testScrub(name: string, make: () => Promise<ScrubFixture>): void {
  describe(`scrub (${name})`, () => {
    let f: ScrubFixture;
    let w: MaintenanceWorld;
    beforeEach(async () => {
      f = await make();
      w = maintenanceWorld(f.store, { a: f.drivers.a, b: f.drivers.b }, { copies: 2 });
      await w.ns.createPfs("p");
    });
    afterEach(async () => {
      await f.dispose();
    });

    const run = (o: Partial<Parameters<typeof scrub>[0]> = {}) =>
      scrub({ store: w.store, volumes: w.registry, clock: () => w.clock.now, sleep: async () => {}, ...o });

    it("repairs a corrupt instance and a missing one from the good copy, and records their states", async () => {
      const fs = w.ns.pfs("p");
      const st = await w.data.writeFile(fs, "/f", bytesOf(1, 2 * CHUNK));
      const [x, y] = st.content!.extents!.map((e) => e.chunk) as [string, string];
      await f.corruptAtRest("a", chunkObjectKey(x));
      await w.volumes.b!.delete(chunkObjectKey(y));

      const report = await run({ sha256: webCryptoSha256 });
      expect(report.aborted).toBeUndefined();
      expect(report.complete).toBe(true);
      const found = report.findings
        .map((r) => `${r.chunk === x ? "x" : "y"}@${r.volume}:${r.found}:${r.repaired}`)
        .sort();
      expect(found).toEqual(["x@a:corrupt:true", "y@b:missing:true"]);
      for (const v of ["a", "b"] as const)
        for (const c of [x, y]) {
          expect((await w.store.get(instanceKey(c, v)))?.state).toBe("present");
          expect((await w.volumes[v]!.getBytes(chunkObjectKey(c))).byteLength).toBe(CHUNK);
        }
      const again = await run();
      expect(again.findings).toEqual([]);
      expect(await w.data.readFile(fs, "/f")).toEqual(bytesOf(1, 2 * CHUNK));
    });

    it("reports a chunk it cannot repair (bad everywhere) and records it corrupt", async () => {
      const st = await w.data.writeFile(w.ns.pfs("p"), "/f", bytesOf(2, CHUNK));
      const x = st.content!.extents![0]!.chunk;
      await f.corruptAtRest("a", chunkObjectKey(x));
      await f.corruptAtRest("b", chunkObjectKey(x));
      const report = await run();
      expect(
        report.findings
          .filter((r) => !r.repaired)
          .map((r) => r.volume)
          .sort(),
      ).toEqual(["a", "b"]);
      expect(report.findings.every((r) => r.found === "corrupt" && r.reason !== undefined)).toBe(true);
      expect((await w.store.get(instanceKey(x, "a")))?.state).toBe("corrupt");
      expect((await w.store.get(instanceKey(x, "b")))?.state).toBe("corrupt");
    });

    it("finds a chunk gone from every volume (listed nowhere), records it missing, names the live and old versions that lost it; not without pass 2", async () => {
      const fs = w.ns.pfs("p");
      const old = await w.data.writeFile(fs, "/f", bytesOf(5, CHUNK));
      const x = old.content!.extents![0]!.chunk;
      await w.data.writeFile(fs, "/f", bytesOf(6, CHUNK)); // /f's live version no longer has x
      const g = await w.data.writeFile(fs, "/g", bytesOf(5, CHUNK)); // a live file with x
      for (const v of ["a", "b"] as const) await w.volumes[v]!.delete(chunkObjectKey(x));

      // Counter-check: the listings alone never meet x.
      const blind = await run({ references: false });
      expect(blind.complete).toBe(true);
      expect(blind.findings).toEqual([]);
      expect((await w.store.get(instanceKey(x, "a")))?.state).toBe("present");

      const report = await run();
      expect(report.complete).toBe(true);
      expect(report.findings.map((r) => `${r.volume}:${r.found}:${r.repaired}`).sort()).toEqual([
        "a:missing:false",
        "b:missing:false",
      ]);
      for (const finding of report.findings)
        expect(finding.files?.map((r) => `${r.path}@${r.version}:${r.live}`).sort()).toEqual(
          [`/f@${old.tid}:false`, `/g@${g.tid}:true`].sort(),
        );
      expect(report.heads).toBeGreaterThanOrEqual(2);
      for (const v of ["a", "b"]) expect((await w.store.get(instanceKey(x, v)))?.state).toBe("missing");
    });

    it("paces reads to bytesPerSecond and resumes a time-boxed run from its cursor", async () => {
      const fs = w.ns.pfs("p");
      for (let i = 0; i < 3; i++) await w.data.writeFile(fs, `/f${i}`, bytesOf(10 + i, CHUNK));
      const slept: number[] = [];
      const paced = await run({
        bytesPerSecond: CHUNK,
        sleep: async (ms) => {
          slept.push(ms);
          w.clock.advance(ms);
        },
      });
      expect(paced.complete).toBe(true);
      // 6 objects (3 chunks × 2 volumes) at one chunk per second: the run spans ~6 s.
      expect(paced.objects).toBe(6);
      expect(slept.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(5000);

      // A zero budget after each page: every call does one page and saves its cursor.
      let runs = 0;
      let objects = 0;
      for (;;) {
        runs++;
        const r = await run({
          timeBudgetMs: 1,
          restart: runs === 1,
          sleep: async (ms) => w.clock.advance(ms + 1),
        });
        objects += r.objects;
        if (r.complete) break;
        w.clock.advance(10);
        expect(runs).toBeLessThan(20);
      }
      expect(objects).toBeGreaterThanOrEqual(6);
    });
  });
}
