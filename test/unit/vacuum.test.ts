import { describe, expect, it } from "vitest";
import { chunkObjectKey } from "../../core/data/records.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { setRetention } from "../../core/retention/store.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { codeOf } from "../conformance/data.ts";
import { bytesOf, CHUNK, maintenanceWorld } from "../support/maintenance.ts";

const HOUR = 3600_000;

describe("vacuum (memory store, memory volumes)", () => {
  it("a dry run reports, apply prunes an overwritten version and frees its chunks", async () => {
    const a = new MemoryVolumeDriver("a");
    const w = maintenanceWorld(new MemoryMetadataStore(), { a });
    await w.ns.createPfs("p");
    const fs = w.ns.pfs("p");
    const v1 = await w.data.writeFile(fs, "/f", bytesOf(1, 2 * CHUNK));
    w.clock.advance(1000);
    await w.data.writeFile(fs, "/f", bytesOf(2, CHUNK));
    await setRetention(w.store, "p", "all 1h", () => w.clock.now);
    w.clock.advance(2 * HOUR);

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
});
