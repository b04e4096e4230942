/**
 * Closing placement while a workflow waits out its Trim grace period: `close()` aborts the
 * execution and returns at once (before, the grace timer kept the process alive for the whole
 * grace — 60 s by default — and the Trim then ran against closed stores), no new workflow starts
 * after it, and the work cut short is redone by a later run (every step is idempotent).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import type { FileSystem, Namespace } from "../../core/namespace/api.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { openPlacement, type PlacementServices } from "../../runtime/services.ts";

describe("placement shutdown", () => {
  let dir: string;
  let store: SqliteMetadataStore;
  let ns: Namespace;
  let fs: FileSystem;
  const open = (graceMs: number) =>
    openPlacement({
      store,
      namespace: ns,
      defaultVolume: "home",
      graceMs,
      retryIntervalMs: 2,
      volumesTtlMs: 0,
      data: { chunkSize: 64 * 1024, sha256: nodeSha256 },
    });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-placement-shutdown-"));
    store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
    ns = createNamespace({ store });
    await ns.createPfs("main");
    fs = ns.pfs("main");
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("close() aborts a workflow waiting in its Trim grace, returns promptly, and a later run finishes the trim", async () => {
    let p: PlacementServices = open(10 * 60_000); // a 10-minute grace: only an abort ends it soon
    await p.volumes.add({ name: "home", kind: "local", config: { root: join(dir, "home") } });
    await p.volumes.add({ name: "eu", kind: "local", config: { root: join(dir, "eu") }, site: "eu" });
    await p.data.writeFile(fs, "/f", new Uint8Array(70_000).fill(7));
    await p.placement.setObjectives("main", "/", "place 1 on site:eu"); // move: copy to eu, trim home

    const run = p.runner.run({ pfs: "main", path: "/f" });
    // Wait until the copy is committed: the workflow then sits in Trim's grace wait.
    for (let i = 0; i < 500; i++) {
      const placed = await p.placement.status("main", "/f");
      if ((placed.files[0]?.actual.eu ?? 0) > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const started = Date.now();
    await p.close();
    const result = await run;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result.status).toBe("failed"); // aborted, not succeeded: the trim did not happen
    expect(p.runner.abortAll()).toBe(0); // nothing left running

    p = open(0);
    const again = await p.runner.run({ pfs: "main", path: "/f" });
    expect(again.status).toBe("succeeded");
    const status = await p.placement.status("main", "/f");
    expect(status.placed).toBe(true);
    await p.close();
  });
});
