/** The sweeper's walk: name order (as readdir), resumable after any path, and a sweep in slices. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { LocalSweepRunner } from "../../adapters/workflows/local.ts";
import type { FileSystem } from "../../core/namespace/api.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { openPlacement, type PlacementServices } from "../../runtime/services.ts";

describe("placement sweep", () => {
  let dir: string;
  let store: SqliteMetadataStore;
  let fs: FileSystem;
  let p: PlacementServices;
  const FILES = ["/a-b", "/a/x", "/a/y/q", "/z", "/é"];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-placement-sweep-"));
    store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
    const ns = createNamespace({ store });
    await ns.createPfs("main");
    fs = ns.pfs("main");
    p = openPlacement({
      store,
      namespace: ns,
      defaultVolume: "home",
      graceMs: 0,
      retryIntervalMs: 2,
      volumesTtlMs: 0,
      data: { chunkSize: 64 * 1024, sha256: nodeSha256 },
    });
    await p.volumes.add({ name: "home", kind: "local", config: { root: join(dir, "home") } });
    await p.volumes.add({ name: "eu", kind: "local", config: { root: join(dir, "eu") }, site: "eu" });
    await fs.mkdir("/a/y", { recursive: true });
    // Distinct bytes per file: identical files would share chunks (placing one places the other).
    for (const [i, f] of FILES.entries()) await p.data.writeFile(fs, f, new Uint8Array(70_000).fill(i + 1));
  });

  afterEach(async () => {
    await p.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function walk(after?: string): Promise<string[]> {
    const out: string[] = [];
    for await (const f of p.placement.files("main", "/", after ? { after } : {})) out.push(f);
    return out;
  }

  it("walks depth first in name order and resumes after any path, even a removed one", async () => {
    expect(await walk()).toEqual(["/a/x", "/a/y/q", "/a-b", "/z", "/é"]);
    expect(await walk("/a/x")).toEqual(["/a/y/q", "/a-b", "/z", "/é"]);
    expect(await walk("/a/y")).toEqual(["/a/y/q", "/a-b", "/z", "/é"]);
    expect(await walk("/a/y/q")).toEqual(["/a-b", "/z", "/é"]);
    expect(await walk("/b-gone")).toEqual(["/z", "/é"]);
    expect(await walk("/é")).toEqual([]);
  });

  it("sweeps in slices from a stored cursor until every file is placed, then wraps around", async () => {
    await p.placement.setObjectives("main", "/", "place 1 on site:eu");
    const slices: Array<{ enqueued: number; done: boolean }> = [];
    for (let i = 0; i < 6; i++) {
      const r = await p.orchestrator.sweep("main", { limit: 2 });
      await p.orchestrator.idle();
      slices.push(r);
      if (r.done) break;
    }
    expect(slices).toEqual([
      { enqueued: 2, done: false },
      { enqueued: 2, done: false },
      { enqueued: 1, done: true },
    ]);
    expect((await p.placement.status("main", "/")).placed).toBe(true);
    expect(await p.orchestrator.sweep("main", { limit: 2 })).toEqual({ enqueued: 0, done: true });
  });

  it("the sweeper workflow (ASL, Map over pages) places every file; one that cannot be placed does not stop it", async () => {
    await p.placement.setObjectives("main", "/", "place 1 on site:eu");
    await p.placement.setObjectives("main", "/z", "override\nplace 1 on site:mars"); // unsatisfiable: stays where it is
    const runner = new LocalSweepRunner({ placement: p.placement, retryIntervalMs: 2 });
    // One execution per page of 2: the chain of executions ends with the walk done.
    const runs = await runner.runChain({ limit: 2 });
    expect(runs.map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    const run = runs.at(-1)!;
    expect(run.status).toBe("succeeded");
    expect(run.output).toMatchObject({ done: true });
    const st = await p.placement.status("main", "/");
    expect(st.files.map((f) => [f.path, f.status])).toEqual([
      ["/a/x", "placed"],
      ["/a/y/q", "placed"],
      ["/a-b", "placed"],
      ["/z", "unsatisfied"],
      ["/é", "placed"],
    ]);
  });
});
