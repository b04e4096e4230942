/**
 * Vacuum, scrub and mirror runs take THE volume registry (core/volume/registry.ts) and ask it at
 * each step: a volume added after the services were built is vacuumed, scrubbed and mirrored to,
 * and a removed one is no longer touched — without rebuilding anything. The counter-check hands
 * the runs the registry as it was at startup (a frozen snapshot, what the runs took before) and
 * shows each claim then fails.
 */
import { describe, expect, it } from "vitest";
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { chunkObjectKey } from "../../core/data/chunk-items.ts";
import { createDataPlane } from "../../core/data/plane.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { createMirror, localSource, runMirror } from "../../core/mirror/index.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { setRetention } from "../../core/retention/store.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import type { VolumeDriver } from "../../core/volume/port.ts";
import {
  describedRegistry,
  fixedRegistry,
  type VolumeDescription,
  type VolumeRegistry,
} from "../../core/volume/registry.ts";
import { runScrub, runVacuum } from "../../functions/schedule/maintenance.ts";
import { bytesOf, CHUNK, T0 } from "../support/maintenance.ts";

const HOUR = 3600_000;

/**
 * A deployment whose registry starts with volume `a`; `add`/`remove` change the descriptions the
 * registry reads (as `volume.add` / `volume.remove` change the records). Every driver call made
 * after `count()` is counted per volume.
 */
async function deployment() {
  let now = T0;
  const clock = () => now;
  const drivers = new Map<string, MemoryVolumeDriver>();
  const descriptions: VolumeDescription[] = [{ name: "a", kind: "memory", config: {} }];
  const calls: Record<string, number> = {};
  let counting = false;
  const counted = (name: string, driver: VolumeDriver): VolumeDriver =>
    new Proxy(driver, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (counting) calls[name] = (calls[name] ?? 0) + 1;
          return value.apply(target, args);
        };
      },
    });
  const registry = describedRegistry({
    describe: async () => descriptions.map((d) => ({ ...d })),
    open: (d) => {
      const driver = drivers.get(d.name) ?? new MemoryVolumeDriver(d.name);
      drivers.set(d.name, driver);
      return { driver, presigner: { presign: async () => Promise.reject(new Error("no URLs")) } };
    },
    wrapDriver: counted,
    ttlMs: 0,
    clock,
  });
  const store = new MemoryMetadataStore();
  const namespace = createNamespace({ store, clock, options: { epochShards: 2 } });
  const data = createDataPlane({
    store,
    volumes: {},
    registry,
    volumesTtlMs: 0,
    defaultVolume: "a",
    chunkSize: CHUNK,
    inlineThreshold: 0,
    clock,
  });
  // What a run took before: the volumes as they were when the services were built.
  const startup = fixedRegistry(await registry.handles());
  return {
    store,
    namespace,
    data,
    registry,
    startup,
    drivers,
    calls,
    clock,
    advance: (ms: number) => {
      now += ms;
    },
    add: (name: string) => {
      descriptions.push({ name, kind: "memory", config: {} });
      registry.invalidate();
    },
    remove: (name: string) => {
      descriptions.splice(
        descriptions.findIndex((d) => d.name === name),
        1,
      );
      registry.invalidate();
    },
    count: () => {
      counting = true;
    },
    deps(volumes: VolumeRegistry) {
      return {
        store,
        namespace,
        volumes,
        clock,
        sha256: nodeSha256,
        sleep: async (ms: number) => {
          now += ms;
        },
      };
    },
  };
}

type Deployment = Awaited<ReturnType<typeof deployment>>;

/** PFS `pfs` writes to `volume`; /f's first version (one chunk) is garbage two hours later. Returns that chunk. */
async function garbageOn(d: Deployment, pfs: string, volume: string, seed: number): Promise<string> {
  await d.namespace.createPfs(pfs);
  await d.data.setDefaultVolume(pfs, volume);
  const fs = d.namespace.pfs(pfs);
  const v1 = await d.data.writeFile(fs, "/f", bytesOf(seed, CHUNK));
  d.advance(1000);
  await d.data.writeFile(fs, "/f", bytesOf(seed + 1, CHUNK));
  await setRetention(d.store, pfs, "all 1h", d.clock);
  return v1.content!.extents![0]!.chunk;
}

/**
 * Volume `b` is added and volume `a` removed after the services were built; then vacuum and scrub
 * run over `which` registry. What they did to each volume.
 */
async function maintenanceAfterChanges(which: "registry" | "startup") {
  const d = await deployment();
  const onA = await garbageOn(d, "q", "a", 1); // written while a was there
  d.add("b");
  const onB = await garbageOn(d, "p", "b", 3);
  // A chunk on b whose copy is corrupted at rest: scrub must find it.
  const fs = d.namespace.pfs("p");
  const live = (await d.data.writeFile(fs, "/g", bytesOf(5, CHUNK))).content!.extents![0]!.chunk;
  d.drivers.get("b")!.objects.get(chunkObjectKey(live))!.bytes[7]! ^= 0xff;
  d.remove("a");
  d.advance(2 * HOUR);
  d.count();
  const volumes = which === "registry" ? d.registry : d.startup;
  const scrubbed = await runScrub(d.deps(volumes), { restart: true });
  const vacuumed = await runVacuum(d.deps(volumes), { apply: true, log: () => {} });
  return {
    aborted: scrubbed.aborted ?? vacuumed.aborted,
    garbageOnBDeleted: !d.drivers.get("b")!.objects.has(chunkObjectKey(onB)),
    garbageOnAKept: d.drivers.get("a")!.objects.has(chunkObjectKey(onA)),
    corruptOnBFound: scrubbed.findings.some(
      (f) => f.chunk === live && f.volume === "b" && f.found === "corrupt",
    ),
    callsToRemovedA: d.calls.a ?? 0,
  };
}

/** Volume `b` is added after the services were built; a mirror onto b is created and run over `which`. */
async function mirrorOntoAddedVolume(which: "registry" | "startup") {
  const d = await deployment();
  await d.namespace.createPfs("main");
  const fs = d.namespace.pfs("main");
  await d.data.writeFile(fs, "/f", bytesOf(7, 2 * CHUNK));
  d.add("b");
  const volumes = which === "registry" ? d.registry : d.startup;
  const target = { ns: d.namespace, volumes, clock: d.clock };
  const source = localSource({ ns: d.namespace, pfs: "main", store: d.store, volumes });
  try {
    await createMirror(target, { name: "copy", source, volumes: ["b"] });
    await runMirror(target, "copy", source);
  } catch (err) {
    return { error: (err as { code?: string }).code, chunksOnB: 0, readBack: false };
  }
  const copy = d.namespace.pfs("copy");
  return {
    error: undefined,
    chunksOnB: [...d.drivers.get("b")!.objects.keys()].filter((k) => k.startsWith("chunks/")).length,
    readBack: Buffer.from(await d.data.readFile(copy, "/f")).equals(Buffer.from(bytesOf(7, 2 * CHUNK))),
  };
}

describe("runs use the volumes of THE registry at each step", () => {
  it("vacuum and scrub see a volume added after the services were built, and leave a removed one alone", async () => {
    expect(await maintenanceAfterChanges("registry")).toEqual({
      aborted: undefined,
      garbageOnBDeleted: true,
      garbageOnAKept: true,
      corruptOnBFound: true,
      callsToRemovedA: 0,
    });
  });

  it("counter-check: handed the startup snapshot, they miss the added volume and use the removed one", async () => {
    const got = await maintenanceAfterChanges("startup");
    expect(got.garbageOnBDeleted).toBe(false);
    expect(got.corruptOnBFound).toBe(false);
    expect(got.garbageOnAKept).toBe(false);
    expect(got.callsToRemovedA).toBeGreaterThan(0);
  });

  it("a mirror run puts its chunks on a volume added after the services were built", async () => {
    expect(await mirrorOntoAddedVolume("registry")).toEqual({
      error: undefined,
      chunksOnB: 2,
      readBack: true,
    });
  });

  it("counter-check: handed the startup snapshot, the mirror cannot use the added volume", async () => {
    expect(await mirrorOntoAddedVolume("startup")).toMatchObject({ error: "EINVAL", chunksOnB: 0 });
  });
});
