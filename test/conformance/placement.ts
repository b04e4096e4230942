/**
 * Placement's shared suite: `testPlacement(name, fixture)` runs every case on one MetadataStore
 * and four volumes registered as records — `local` (site home), `s3` (aws-eu), `azure`
 * (azure-eu), `gcs` (gcs-eu) — so the all-local run and the stand-in run (local + s3rver +
 * azurite + our GCS server) prove the same things: the ShotGrid pre-staging case, reads at the
 * reader's site, a tag flipped back and forth, a drain under concurrent reads, and faults in
 * copies (throttle, corrupt bytes, crash between copy and commit).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { registerVolumes } from "../../adapters/data/volumes.ts";
import { type FaultyVolumeDriver, faultyVolume } from "../../adapters/volumes/faulty.ts";
import { createDataPlane } from "../../core/data/plane.ts";
import { isStrataError } from "../../core/errors.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import type { FileSystem, Namespace } from "../../core/namespace/api.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import type { VolumeSpec } from "../../core/placement/volumes.ts";
import { openPlacement, openVolumeRegistry, type PlacementServices } from "../../runtime/services.ts";

export interface PlacementFixture {
  store: MetadataStore;
  /** Specs of four empty volumes named local, s3, azure and gcs (the suite adds site/cloud/class/cost). */
  volumes: Record<"local" | "s3" | "azure" | "gcs", Pick<VolumeSpec, "kind" | "config">>;
  dispose(): Promise<void>;
}

const KiB = 1024;
const CHUNK = 64 * KiB;
const ATTRS = {
  local: { site: "home", cloud: "onprem", class: "fast", cost: 0 },
  s3: { site: "aws-eu", cloud: "aws", class: "durable", cost: 2 },
  azure: { site: "azure-eu", cloud: "azure", class: "durable", cost: 3 },
  gcs: { site: "gcs-eu", cloud: "gcp", class: "archive", cost: 1 },
} as const;
const SHOT_OBJECTIVE = "when tag:render-site place 1 on site:$tag:render-site";

function bytesOf(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}

/** Which volumes hold a present instance of every chunk of the file. */
async function holders(p: PlacementServices, fs: FileSystem, path: string): Promise<string[]> {
  const chunks = await p.data.placement(fs, path);
  const names = new Set(
    chunks.flatMap((c) => c.instances.filter((i) => i.state === "present").map((i) => i.volume)),
  );
  return [...names]
    .filter((v) => chunks.every((c) => c.instances.some((i) => i.volume === v && i.state === "present")))
    .sort();
}

export function testPlacement(name: string, makeFixture: () => Promise<PlacementFixture>): void {
  describe(`placement: ${name}`, () => {
    let fx: PlacementFixture;
    let ns: Namespace;
    let p: PlacementServices;
    let fs: FileSystem;
    /** Faults armed by a case: by volume name. */
    const arm: { throttlePut?: string; corruptGet?: string; failPut?: string } = {};
    const drivers: Record<string, FaultyVolumeDriver> = {};

    beforeEach(async () => {
      fx = await makeFixture();
      ns = createNamespace({ store: fx.store });
      await ns.createPfs("main");
      fs = ns.pfs("main");
      for (const k of Object.keys(arm)) delete arm[k as keyof typeof arm];
      p = openPlacement({
        store: fx.store,
        namespace: ns,
        defaultVolume: "local",
        graceMs: 0,
        retryIntervalMs: 2,
        volumesTtlMs: 0,
        retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
        data: { chunkSize: CHUNK, sha256: nodeSha256 },
        wrapDriver: (volume, driver) => {
          const faulty = faultyVolume(driver, {
            put: [
              { fault: "throttle", times: 3, when: () => arm.throttlePut === volume },
              { fault: "throttle", when: () => arm.failPut === volume },
            ],
            get: { fault: "corrupt", times: 1, at: 100, when: () => arm.corruptGet === volume },
          });
          drivers[volume] = faulty;
          return faulty;
        },
      });
      const specs = Object.fromEntries(
        Object.entries(fx.volumes).map(([n, v]) => [
          n,
          { kind: v.kind, ...v.config, ...ATTRS[n as keyof typeof ATTRS] },
        ]),
      );
      const registered = await registerVolumes(p.volumes, specs as never);
      expect(registered.added.sort()).toEqual(["azure", "gcs", "local", "s3"]);
    });

    afterEach(async () => {
      await p.close();
      await fx.dispose();
    });

    it("registering the volumes again is a no-op; other settings under a taken name are a conflict", async () => {
      const specs = Object.fromEntries(
        Object.entries(fx.volumes).map(([n, v]) => [
          n,
          { kind: v.kind, ...v.config, ...ATTRS[n as keyof typeof ATTRS] },
        ]),
      );
      expect(await registerVolumes(p.volumes, specs as never)).toEqual({
        added: [],
        existing: ["local", "s3", "azure", "gcs"],
        conflicts: [],
      });
      const moved = { ...specs, gcs: { ...specs.gcs, cost: 9 } };
      expect((await registerVolumes(p.volumes, moved as never)).conflicts).toEqual(["gcs"]);
      expect((await p.volumes.list()).map((v) => [v.name, v.site, v.state]).sort()).toEqual([
        ["azure", "azure-eu", "active"],
        ["gcs", "gcs-eu", "active"],
        ["local", "home", "active"],
        ["s3", "aws-eu", "active"],
      ]);
    });

    it("ShotGrid: tagging /show/shot42 render-site=gcs-eu places exactly its files on gcs; gcs-site readers read there", async () => {
      await fs.mkdir("/show/shot42", { recursive: true });
      await fs.mkdir("/show/shot43", { recursive: true });
      const files = {
        "/show/shot42/a.exr": bytesOf(1, 3 * CHUNK + 100),
        "/show/shot42/b.exr": bytesOf(2, 2 * CHUNK),
        "/show/shot43/c.exr": bytesOf(3, 2 * CHUNK + 5),
      };
      for (const [path, bytes] of Object.entries(files)) await p.data.writeFile(fs, path, bytes);
      for (const path of Object.keys(files)) expect(await holders(p, fs, path)).toEqual(["local"]);

      // The root keeps one copy at home; /show maps the render-site tag to a site.
      await p.placement.setObjectives("main", "/", "place 1 on volume:local");
      await p.placement.setObjectives("main", "/show", SHOT_OBJECTIVE);
      await fs.setTag("/show/shot42", "render-site", "gcs-eu");
      expect((await p.placement.explain("main", "/show/shot42/a.exr")).desired).toEqual(["gcs", "local"]);

      await p.orchestrator.pollChanges();
      const placed = await p.placement.waitPlaced("main", "/show/shot42", { timeoutMs: 30_000, pollMs: 20 });
      expect(placed.placed).toBe(true);
      expect(placed.files.map((f) => f.path)).toEqual(["/show/shot42/a.exr", "/show/shot42/b.exr"]);
      await p.orchestrator.idle();
      expect(await holders(p, fs, "/show/shot42/a.exr")).toEqual(["gcs", "local"]);
      expect(await holders(p, fs, "/show/shot42/b.exr")).toEqual(["gcs", "local"]);
      expect(await holders(p, fs, "/show/shot43/c.exr")).toEqual(["local"]);

      // A reader at site gcs-eu reads the gcs instances, not the local ones.
      const counted: Record<string, FaultyVolumeDriver> = {};
      const readerRecords = openVolumeRegistry({
        store: fx.store,
        wrapDriver: (volume, driver) => (counted[volume] = faultyVolume(driver, {})),
      });
      const reader = createDataPlane({
        store: fx.store,
        volumes: {},
        defaultVolume: "local",
        registry: readerRecords,
        site: "gcs-eu",
        sha256: nodeSha256,
      });
      try {
        expect(same(await reader.readFile(fs, "/show/shot42/a.exr"), files["/show/shot42/a.exr"])).toBe(true);
        expect(counted.gcs?.calls.get).toBe(4);
        expect(counted.local?.calls.get ?? 0).toBe(0);
      } finally {
        await readerRecords.close();
      }
    });

    it("a tag flipped back and forth converges to the last value, surplus trimmed, bytes intact", async () => {
      await fs.mkdir("/show/shot7", { recursive: true });
      const bytes = bytesOf(7, 2 * CHUNK + 17);
      await p.data.writeFile(fs, "/show/shot7/f.exr", bytes);
      await p.placement.setObjectives("main", "/show", SHOT_OBJECTIVE);
      const sites = ["gcs-eu", "aws-eu", "gcs-eu", "azure-eu", "aws-eu"];
      for (const [i, site] of sites.entries()) {
        await fs.setTag("/show/shot7", "render-site", site);
        await p.orchestrator.pollChanges();
        if (i % 2 === 1) await p.orchestrator.idle(); // some flips land mid-run, some after
      }
      await p.orchestrator.idle();
      await p.orchestrator.sweep("main");
      await p.orchestrator.idle();
      expect(await holders(p, fs, "/show/shot7/f.exr")).toEqual(["s3"]);
      const st = await p.placement.status("main", "/show/shot7/f.exr");
      expect(st.files[0]).toMatchObject({ status: "placed", desired: ["s3"], surplus: [] });
      expect(same(await p.data.readFile(fs, "/show/shot7/f.exr"), bytes)).toBe(true);
    });

    it("drain: every instance leaves the volume while its files are read; remove is refused until then", async () => {
      await p.placement.setObjectives("main", "/", "place 1 on class:durable");
      await fs.mkdir("/d");
      const files = new Map<string, Uint8Array>();
      for (let i = 0; i < 4; i++) {
        const bytes = bytesOf(100 + i, CHUNK + 1000 * i + 1);
        files.set(`/d/f${i}`, bytes);
        await p.data.writeFile(fs, `/d/f${i}`, bytes);
      }
      // An old version on s3 too: the drain must move chunks only history references.
      await p.data.writeFile(fs, "/d/f0", bytesOf(999, CHUNK + 3));
      files.set("/d/f0", bytesOf(999, CHUNK + 3));
      for (const path of files.keys()) expect(await holders(p, fs, path)).toEqual(["s3"]);

      await expect(p.volumes.remove("s3")).rejects.toMatchObject({ code: "ECONFLICT" });
      let stop = false;
      let reads = 0;
      const readers = Array.from({ length: 2 }, async () => {
        while (!stop) {
          for (const [path, bytes] of files) {
            expect(same(await p.data.readFile(fs, path), bytes), path).toBe(true);
            reads++;
          }
        }
      });
      try {
        await p.volumes.drain("s3");
        await expect(p.volumes.remove("s3")).rejects.toMatchObject({ code: "ENOTEMPTY" });
        const { evacuated } = await p.orchestrator.drain("s3");
        expect(evacuated).toBeGreaterThanOrEqual(1); // the old version's chunk
      } finally {
        stop = true;
        await Promise.all(readers);
      }
      expect(reads).toBeGreaterThan(0);
      for (const path of files.keys()) expect(await holders(p, fs, path)).toEqual(["azure"]);
      await p.volumes.remove("s3");
      expect((await p.volumes.list()).map((v) => v.name).sort()).toEqual(["azure", "gcs", "local"]);
      for (const [path, bytes] of files) expect(same(await p.data.readFile(fs, path), bytes)).toBe(true);
    });

    it("a throttled target is retried by the workflow; a corrupt copy is caught by verify and copied again", async () => {
      await fs.mkdir("/x");
      const bytes = bytesOf(5, CHUNK - 100); // one chunk: its put sees all 3 throttles
      await p.data.writeFile(fs, "/x/f", bytes);
      await p.placement.setObjectives("main", "/x", "place 1 on site:gcs-eu");
      arm.throttlePut = "gcs"; // 3 throttles: the Volume's 2 attempts fail once, the workflow retries Copy
      arm.corruptGet = "gcs"; // the first read-back at gcs sees a flipped byte
      const run = await p.runner.run({ pfs: "main", path: "/x/f" });
      expect(run.status).toBe("succeeded");
      expect(drivers.gcs!.injected.byKind.throttle).toBe(3);
      expect(drivers.gcs!.injected.byKind.corrupt).toBe(1);
      // Copy, Copy (retry), Verify (corrupt), Copy, Verify, Commit, Trim.
      expect(run.transitions).toBe(7);
      expect(await holders(p, fs, "/x/f")).toEqual(["gcs"]);
      expect(same(await p.data.readFile(fs, "/x/f"), bytes)).toBe(true);
    });

    it("a crash between copy and commit, and between commit and trim: re-running converges, nothing lost", async () => {
      await fs.mkdir("/y");
      const bytes = bytesOf(9, 3 * CHUNK);
      await p.data.writeFile(fs, "/y/f", bytes);
      await p.placement.setObjectives("main", "/y", "place 1 on cloud:azure");
      // Crash after the copy: the object is at the target, no instance recorded, the file reads from local.
      const copied = await p.placement.copy({ pfs: "main", path: "/y/f" });
      expect(copied.copies?.length).toBe(3);
      expect(await holders(p, fs, "/y/f")).toEqual(["local"]);
      expect((await p.placement.status("main", "/y/f")).files[0]).toMatchObject({
        status: "pending",
        missing: 3,
      });
      expect(same(await p.data.readFile(fs, "/y/f"), bytes)).toBe(true);
      // Crash after the commit: both hold it, nothing trimmed.
      const again = await p.placement.copy({ pfs: "main", path: "/y/f" });
      await p.placement.commit(await p.placement.verify(again));
      expect(await holders(p, fs, "/y/f")).toEqual(["azure", "local"]);
      // The re-run finds nothing to copy and trims the surplus.
      const run = await p.runner.run({ pfs: "main", path: "/y/f" });
      expect(run).toMatchObject({ status: "succeeded", output: { copies: [], trimmed: 3 } });
      expect(await holders(p, fs, "/y/f")).toEqual(["azure"]);
      expect(same(await p.data.readFile(fs, "/y/f"), bytes)).toBe(true);
    });

    it("a run that keeps failing is recorded (placement status shows the error); the sweeper retries it later", async () => {
      await fs.mkdir("/z");
      const bytes = bytesOf(11, CHUNK + 1);
      await p.data.writeFile(fs, "/z/f", bytes);
      await p.placement.setObjectives("main", "/z", "place 1 on site:aws-eu");
      arm.failPut = "s3";
      const run = await p.runner.run({ pfs: "main", path: "/z/f" });
      expect(run.status).toBe("failed");
      const st = (await p.placement.status("main", "/z")).files[0]!;
      expect(st).toMatchObject({ status: "failed", missing: 2, lastRun: { status: "failed", failures: 1 } });
      expect(st.error?.code).toBe("ETHROTTLED");
      expect(same(await p.data.readFile(fs, "/z/f"), bytes)).toBe(true);
      delete arm.failPut;
      expect((await p.orchestrator.sweep("main")).enqueued).toBe(1);
      await p.orchestrator.idle();
      expect((await p.placement.status("main", "/z/f")).files[0]?.status).toBe("placed");
      expect(await holders(p, fs, "/z/f")).toEqual(["s3"]);
    });

    it("new files under an objective are written where it says; a draining volume is never chosen", async () => {
      await p.placement.setObjectives("main", "/", "place 1 on class:durable");
      await p.data.writeFile(fs, "/n1", bytesOf(21, CHUNK + 1));
      expect(await holders(p, fs, "/n1")).toEqual(["s3"]);
      await p.volumes.drain("s3");
      await p.data.writeFile(fs, "/n2", bytesOf(22, CHUNK + 1));
      expect(await holders(p, fs, "/n2")).toEqual(["azure"]);
      const err = await p.volumes
        .add({ name: "s3", kind: "local", config: { root: "/nowhere" } })
        .catch((e) => e);
      expect(isStrataError(err, "EEXIST")).toBe(true);
    });
  });
}
