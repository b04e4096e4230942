/**
 * `fs.reportBadInstance` (what a remote reader calls when a chunk source fails) accepts chunks of
 * old versions: a reader of an as-of view reports with its point, the server re-checks the object
 * and records the instance `missing`, and fsck then reports the version's chunk unavailable.
 * Counter-check: reported without the point (what the SDK sent before), the old version's chunk is
 * refused (EINVAL: not part of the live file) and nothing is recorded.
 */
import { describe, expect, it } from "vitest";
import { chunkObjectKey, instanceKey } from "../../core/data/chunk-items.ts";
import { fsck } from "../../core/maintenance/fsck.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { invoke } from "../../functions/api/handle.ts";
import { failureOf } from "../support/errors.ts";
import { bytesOf, CHUNK, maintenanceServices, maintenanceWorld } from "../support/maintenance.ts";
import { testPrincipal } from "../support/principals.ts";

const READER = testPrincipal({ tokenId: "r", pfs: "p", rights: ["read"] });

async function world() {
  const w = maintenanceWorld(new MemoryMetadataStore(), { a: new MemoryVolumeDriver("a") });
  await w.ns.createPfs("p");
  const services = maintenanceServices(w);
  const fs = w.ns.pfs("p");
  const old = await w.data.writeFile(fs, "/f", bytesOf(1, CHUNK));
  w.clock.advance(1000);
  await w.data.writeFile(fs, "/f", bytesOf(2, CHUNK));
  const x = old.content!.extents![0]!.chunk;
  await w.volumes.a!.delete(chunkObjectKey(x));
  const report = (input: Record<string, unknown>) =>
    invoke(
      services,
      READER,
      "fs.reportBadInstance",
      { path: "/f", chunk: x, volume: "a", ...input },
      { pfs: "p" },
    );
  return { w, x, at: old.tid, report };
}

describe("fs.reportBadInstance on an old version", () => {
  it("records the old version's missing chunk when reported with the reader's as-of point; fsck then reports it", async () => {
    const { w, x, at, report } = await world();
    expect(await report({ asOf: at })).toEqual({ state: "missing" });
    expect((await w.store.get(instanceKey(x, "a")))?.state).toBe("missing");
    const checked = await fsck({ store: w.store });
    expect(checked.problems.map((p) => `${p.kind}:${p.chunk}`)).toEqual([`chunk-unavailable:${x}`]);
  });

  it("counter-check: reported without the point, the old version's chunk is refused and nothing is recorded", async () => {
    const { w, x, report } = await world();
    expect((await failureOf(report({}))).code).toBe("EINVAL");
    expect((await w.store.get(instanceKey(x, "a")))?.state).toBe("present");
    expect((await fsck({ store: w.store })).ok).toBe(true);
  });
});
