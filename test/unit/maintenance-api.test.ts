/**
 * The maintenance operations through the operation registry (`invoke`, as the HTTP API and
 * `client.admin.call` run them): retention.set/get, vacuum.run (dry run, apply), scrub.run, fsck.run.
 */
import { describe, expect, it } from "vitest";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { invoke } from "../../functions/api/handle.ts";
import { failureOf } from "../support/errors.ts";
import { bytesOf, CHUNK, maintenanceServices, maintenanceWorld } from "../support/maintenance.ts";
import { testPrincipal } from "../support/principals.ts";

const ADMIN = testPrincipal();
const READER = testPrincipal({ tokenId: "r", pfs: "p", rights: ["read"] });

describe("maintenance operations", () => {
  it("retention.set/get per PFS, vacuum.run dry and applied, scrub.run, fsck.run", async () => {
    const w = maintenanceWorld(new MemoryMetadataStore(), { a: new MemoryVolumeDriver("a") });
    await w.ns.createPfs("p");
    const services = maintenanceServices(w);
    const call = (op: string, input: unknown, principal = ADMIN, pfs?: string) =>
      invoke(services, principal, op, input, pfs ? { pfs } : {});
    const fs = w.ns.pfs("p");
    await w.data.writeFile(fs, "/f", bytesOf(1, CHUNK));
    w.clock.advance(1000);
    await w.data.writeFile(fs, "/f", bytesOf(2, CHUNK));

    expect((await failureOf(call("retention.set", { policy: "all 1x" }, ADMIN, "p"))).code).toBe("EINVAL");
    expect(await call("retention.set", { policy: "all 1h;daily 7d" }, ADMIN, "p")).toEqual({
      pfs: "p",
      policy: "all 1h; daily 7d",
    });
    expect(await call("retention.get", {}, READER, "p")).toEqual({ pfs: "p", policy: "all 1h; daily 7d" });
    expect((await failureOf(call("vacuum.run", {}, READER))).code).toBe("EACCES");

    w.clock.advance(3 * 3600_000);
    const dry = (await call("vacuum.run", {})) as { apply: boolean; records: { count: number } };
    expect(dry).toMatchObject({ apply: false, records: { count: 1 }, chunks: { count: 1 } });
    const applied = await call("vacuum.run", { apply: true, timeBudgetSeconds: 60 });
    expect(applied).toMatchObject({
      apply: true,
      complete: true,
      records: { count: 1 },
      chunks: { count: 1 },
    });
    const info = (await call("retention.get", {}, ADMIN, "p")) as { watermark?: { oldest: string } };
    expect(info.watermark?.oldest).toMatch(/^[0-9a-f]{16}$/);

    expect(await call("scrub.run", {})).toMatchObject({ complete: true, objects: 1, findings: [] });
    expect(await call("fsck.run", {})).toMatchObject({ ok: true, problems: [] });
  });
});
