/**
 * The two mirror races of issue 14 (items 1 and 2), as regression tests: each failed on the code
 * before the chunk lifecycle module (core/data/chunks.ts) and must pass with it.
 *
 *   (a) a mirror run's chunk step deduplicates a chunk before its apply commit with no intent; an
 *       applying vacuum in that window deletes the chunk the mirror's file then references;
 *   (b) the chunk step met a `deleting` instance, found the still-present object (EEXIST) and wrote
 *       `present` unconditionally; vacuum then deleted the object (its conditional record delete
 *       failed silently); a later writeFile of the same bytes uploaded nothing and reads failed.
 */
import { describe, expect, it } from "vitest";
import { UNSAFE_LIFECYCLE_SWITCHES } from "../../core/data/chunks.ts";
import { createDataPlane } from "../../core/data/plane.ts";
import { vacuum } from "../../core/maintenance/vacuum.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import { createMirror, runMirror } from "../../core/mirror/index.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { mulberry32 } from "../../core/random.ts";
import { setRetention } from "../../core/retention/store.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { fixedRegistry } from "../../core/volume/registry.ts";
import { Volume } from "../../core/volume/volume.ts";
import { bytesOf, mainSource } from "../support/mirror.ts";

/** A target deployment whose store and volume calls can be intercepted (`hooks`). */
function hookedTarget(clock: () => number) {
  const hooks: {
    beforeTransact?: ((ops: Parameters<MetadataStore["transact"]>[0]) => Promise<void>) | undefined;
    beforeDelete?: ((key: string) => Promise<void>) | undefined;
  } = {};
  const raw = new MemoryMetadataStore();
  const store = new Proxy(raw, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === "transact")
        return async (ops: Parameters<MetadataStore["transact"]>[0]) => {
          const hook = hooks.beforeTransact;
          if (hook) await hook(ops);
          return raw.transact(ops);
        };
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as MetadataStore;
  const inner = new Volume(new MemoryVolumeDriver("gcs"));
  const volume = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === "delete")
        return async (key: string, ...rest: unknown[]) => {
          const hook = hooks.beforeDelete;
          if (hook && key.startsWith("chunks/")) await hook(key);
          return (inner.delete as (...a: unknown[]) => Promise<void>)(key, ...rest);
        };
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Volume;
  const volumes = fixedRegistry({ gcs: volume }); // the deployment's one registry
  const ns = createNamespace({
    store,
    site: 2,
    clock,
    random: mulberry32(2),
    options: { sleep: async () => {} },
  });
  const data = createDataPlane({
    store,
    volumes: { gcs: volume },
    defaultVolume: "gcs",
    inlineThreshold: 16,
    chunkSize: 64 * 1024,
    clock,
  });
  const vacuumNow = () =>
    vacuum({
      store,
      namespace: ns,
      volumes,
      apply: true,
      clock,
      sleep: async () => {},
      readerGraceMs: 0,
    });
  return { store, ns, volumes, data, hooks, vacuumNow };
}

/**
 * A target whose PFS `other` once held the bytes `B` (then unlinked, its history past retention):
 * the next applying vacuum deletes B's chunks from volume gcs unless something protects them.
 */
async function targetWithGarbage(clock: () => number, advance: (ms: number) => void) {
  const dst = hookedTarget(clock);
  await dst.ns.createPfs("other");
  const other = dst.ns.pfs("other");
  await dst.data.writeFile(other, "/x", bytesOf(70_000, 7));
  await other.unlink("/x");
  advance(3 * 3600_000);
  await setRetention(dst.store, "other", "all 1h", clock);
  return { dst, other };
}

/** Run `body` with one lifecycle rule switched off (counter-checks), restoring it afterwards. */
async function without(
  rule: keyof typeof UNSAFE_LIFECYCLE_SWITCHES,
  body: () => Promise<void>,
): Promise<void> {
  UNSAFE_LIFECYCLE_SWITCHES[rule] = true;
  try {
    await body();
  } finally {
    UNSAFE_LIFECYCLE_SWITCHES[rule] = false;
  }
}

describe("mirror chunk step against vacuum (issue 14)", () => {
  it("(a) a mirror run whose apply commits after an applying vacuum keeps its file's bytes", async () => {
    await raceA();
  });

  it("(a) counter-check: without the intent the mirror's file loses its bytes", async () => {
    await without("noIntent", async () => {
      await expect(raceA()).rejects.toThrow(/could be read/);
    });
  });

  it("(b) a mirror that meets a `deleting` instance leaves no stale `present`: a later write of the same bytes reads back", async () => {
    await raceB();
  });

  it("(b) counter-check: without the lease wait the mirror cannot record its instance (ECONFLICT)", async () => {
    await without("noLeaseWait", async () => {
      await expect(raceB()).rejects.toThrow();
    });
  });

  it("(b) counter-check: without the lease wait and the record condition, a stale `present` loses the bytes", async () => {
    await without("noLeaseWait", () =>
      without("noCondition", async () => {
        await expect(raceB()).rejects.toThrow(/could be read/);
      }),
    );
  });
});

async function raceA() {
  {
    let now = Date.UTC(2026, 0, 5, 12);
    const clock = () => now;
    const { src, fs, source } = await mainSource(clock);
    const { dst } = await targetWithGarbage(clock, (ms) => {
      now += ms;
    });
    await src.data.writeFile(fs, "/a", bytesOf(70_000, 7)); // the same bytes as the garbage
    const target = { ns: dst.ns, volumes: dst.volumes, clock };
    await createMirror(target, { name: "copy", source, volumes: ["gcs"] });
    let vacuumed: Awaited<ReturnType<typeof dst.vacuumNow>> | undefined;
    // Just before the mirror's apply commit (its chunk step is done): an applying vacuum.
    dst.hooks.beforeTransact = async (ops) => {
      if (!ops.some((op) => op.kind === "put" && op.item.pk.startsWith("ino#"))) return;
      dst.hooks.beforeTransact = undefined;
      vacuumed = await dst.vacuumNow();
    };
    await runMirror(target, "copy", source);
    expect(vacuumed).toBeDefined();
    expect(await dst.data.readFile(dst.ns.pfs("copy"), "/a")).toEqual(bytesOf(70_000, 7));
  }
}

async function raceB() {
  {
    let now = Date.UTC(2026, 0, 5, 12);
    const clock = () => now;
    const { src, fs, source } = await mainSource(clock);
    const { dst, other } = await targetWithGarbage(clock, (ms) => {
      now += ms;
    });
    await src.data.writeFile(fs, "/a", bytesOf(70_000, 7));
    let sleeping: () => void = () => {};
    const mirrorSleeps = new Promise<void>((resolve) => {
      sleeping = resolve;
    });
    const target = {
      ns: dst.ns,
      volumes: dst.volumes,
      clock,
      // The chunk step's lease wait: announce it, then a real pause (vacuum goes on meanwhile).
      sleep: async () => {
        sleeping();
        await new Promise((resolve) => setTimeout(resolve, 2));
      },
    };
    await createMirror(target, { name: "copy", source, volumes: ["gcs"] });
    let mirror: Promise<unknown> | undefined;
    // Vacuum has marked the chunks and re-checked; before it deletes the first object, the mirror
    // runs (to its end, or until it waits out the lease).
    dst.hooks.beforeDelete = async () => {
      dst.hooks.beforeDelete = undefined;
      mirror = runMirror(target, "copy", source);
      await Promise.race([mirror, mirrorSleeps]);
    };
    const vac = await dst.vacuumNow();
    expect(vac.chunks.count).toBeGreaterThan(0);
    await mirror;
    expect(await dst.data.readFile(dst.ns.pfs("copy"), "/a")).toEqual(bytesOf(70_000, 7));
    // The same bytes written again by the data plane read back.
    await dst.data.writeFile(other, "/y", bytesOf(70_000, 7));
    expect(await dst.data.readFile(other, "/y")).toEqual(bytesOf(70_000, 7));
  }
}
