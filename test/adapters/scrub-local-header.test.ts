/**
 * Scrub on local-directory volumes whose object file was damaged OUTSIDE strata (its "STRATA01"
 * header overwritten): the damaged instance is recorded corrupt and repaired from the other
 * volume's copy — the run neither stops nor skips the rest. Before the fix, the `head` scrub makes
 * of an instance on another volume threw ECORRUPT and aborted the whole run.
 */
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalVolumeDriver } from "../../adapters/volumes/local.ts";
import { chunkObjectKey, instanceKey } from "../../core/data/chunk-items.ts";
import { scrub } from "../../core/maintenance/scrub.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { bytesOf, CHUNK, type MaintenanceWorld, maintenanceWorld } from "../support/maintenance.ts";

describe("scrub: a local object whose header was overwritten outside strata", () => {
  let dir: string;
  let drivers: { a: LocalVolumeDriver; b: LocalVolumeDriver };
  let w: MaintenanceWorld;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-scrub-header-"));
    drivers = {
      a: new LocalVolumeDriver({ name: "a", root: join(dir, "a") }),
      b: new LocalVolumeDriver({ name: "b", root: join(dir, "b") }),
    };
    w = maintenanceWorld(new MemoryMetadataStore(), drivers, { copies: 2 });
    await w.ns.createPfs("p");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const smash = async (volume: "a" | "b", key: string) => {
    const file = await open(drivers[volume].pathOf(key), "r+");
    await file.write(Buffer.from("garbage!"), 0, 8, 0); // the magic "STRATA01" is gone
    await file.close();
  };

  for (const damaged of ["a", "b"] as const) {
    it(`on volume ${damaged}: recorded corrupt, repaired from the other copy, the run completes`, async () => {
      const fs = w.ns.pfs("p");
      const st = await w.data.writeFile(fs, "/f", bytesOf(3, 2 * CHUNK));
      const [x] = st.content!.extents!.map((e) => e.chunk) as [string, string];
      await smash(damaged, chunkObjectKey(x));

      const report = await scrub({
        store: w.store,
        volumes: w.registry,
        clock: () => w.clock.now,
        sleep: async () => {},
      });
      expect(report.aborted).toBeUndefined();
      expect(report.complete).toBe(true);
      expect(report.findings.map((f) => `${f.volume}:${f.found}:${f.repaired}`)).toEqual([
        `${damaged}:corrupt:true`,
      ]);
      expect((await w.store.get(instanceKey(x, damaged)))?.state).toBe("present");
      expect((await w.volumes[damaged]!.getBytes(chunkObjectKey(x))).byteLength).toBe(CHUNK);
      expect(await w.data.readFile(fs, "/f")).toEqual(bytesOf(3, 2 * CHUNK));
    });
  }
});
