/**
 * The data plane on the embedded deployment's backends: SQLite metadata + local-directory volumes.
 * The shared suite, then what needs a real disk: a 200 MiB file streamed in and out (compared by
 * SHA-256, never held whole) with memory growth sampled, and the volume registry.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openVolumes } from "../../adapters/data/volumes.ts";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { createDataPlane } from "../../core/data/plane.ts";
import { isStrataError } from "../../core/errors.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { keysOn, testDataPlane } from "../conformance/data.ts";
import { lazyStream } from "../conformance/volume.ts";
import { testOnTwoVolumes } from "../support/volumes.ts";

const MiB = 1024 * 1024;

testOnTwoVolumes(testDataPlane, "local", { title: "data plane", tag: "data" });

/** A full garbage collection, so that samples measure live memory, not garbage not yet collected. */
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

/**
 * Peak growth of live JS heap + array buffers over the baseline while `work` runs (a full GC
 * before each sample, every 50 ms).
 */
async function peakGrowth<T>(
  work: () => Promise<T>,
): Promise<{ result: T; growth: number; samples: number }> {
  const used = () => {
    collectGarbage();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const baseline = used();
  let peak = baseline;
  let samples = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, used());
    samples++;
  }, 50);
  try {
    const result = await work();
    return { result, growth: peak - baseline, samples };
  } finally {
    clearInterval(timer);
  }
}

describe("data plane on sqlite + local: a 200 MiB file", () => {
  let dir: string;
  let store: SqliteMetadataStore;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-data-200-"));
    store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
  });
  afterAll(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("streams 200 MiB in and out byte-exact (by SHA-256) with memory growth far below the size", async () => {
    const size = 200 * MiB;
    const registry = openVolumes({ local: { kind: "local", root: join(dir, "vol") } });
    const data = createDataPlane({ store, volumes: {}, registry, defaultVolume: "local" });
    const ns = createNamespace({ store });
    await ns.createPfs("big");
    const fs = ns.pfs("big");

    const expected = createHash("sha256");
    for await (const piece of lazyStream(size, MiB + 13, 99)) expected.update(piece);

    const write = await peakGrowth(() => data.writeFile(fs, "/200MiB", lazyStream(size, MiB + 13, 99)));
    expect(write.result.size).toBe(size);
    expect(write.result.content?.extents).toHaveLength(25);
    // Live: parallelism 4 × 8 MiB in flight + the chunk being filled + the source's piece and the
    // driver's write buffers (measured 45–67 MiB; V8 frees backing stores lazily, hence the slack).
    // Holding the file would be 200 MiB.
    expect(write.samples, "memory samples taken during the write").toBeGreaterThan(3);
    expect(write.growth).toBeLessThan(96 * MiB);

    const read = await peakGrowth(async () => {
      const actual = createHash("sha256");
      const { body } = await data.read(fs, "/200MiB");
      let n = 0;
      for await (const piece of body) {
        actual.update(piece);
        n += piece.byteLength;
      }
      return { n, digest: actual.digest("hex") };
    });
    expect(read.result.n).toBe(size);
    expect(read.result.digest).toBe(expected.digest("hex"));
    expect(read.samples, "memory samples taken during the read").toBeGreaterThan(3);
    expect(read.growth).toBeLessThan(96 * MiB);
    console.info(
      `[data-local] 200 MiB: write growth ${(write.growth / MiB).toFixed(1)} MiB (${write.samples} samples), read growth ${(read.growth / MiB).toFixed(1)} MiB (${read.samples} samples)`,
    );
    await registry.close();
  }, 300_000);
});

describe("volume registry", () => {
  it("builds local and caller-given drivers with site and cost, and refuses unknown kinds", async () => {
    const dir = await mkdtemp(join(tmpdir(), "strata-data-registry-"));
    try {
      const registry = openVolumes({
        disk: { kind: "local", root: join(dir, "disk"), site: "home", cost: 0 },
        mem: { kind: "driver", driver: new MemoryVolumeDriver("mem"), site: "away" },
      });
      const volumes = await registry.handles();
      expect(Object.keys(volumes)).toEqual(["disk", "mem"]);
      expect(volumes.disk).toMatchObject({ site: "home", cost: 0 });
      expect(volumes.mem).toMatchObject({ site: "away" });
      await volumes.disk!.volume.put("chunks/x", Uint8Array.of(1));
      expect(await keysOn(volumes.disk!.volume)).toEqual(["chunks/x"]);
      await registry.close();
      let code: string | undefined;
      try {
        openVolumes({ bad: { kind: "ftp" } as never });
      } catch (err) {
        code = isStrataError(err) ? err.code : undefined;
      }
      expect(code).toBe("EINVAL");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
