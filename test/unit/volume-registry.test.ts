/**
 * core/volume/registry.ts: one handle per volume, its driver and presigner built once per
 * settings (a changed record rebuilds and releases the old ones; close releases each once), and
 * a volume added after the cache was filled is found by `lookup` (one fresh re-read).
 */
import { describe, expect, it } from "vitest";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import {
  describedRegistry,
  fixedRegistry,
  noUrls,
  type VolumeDescription,
} from "../../core/volume/registry.ts";
import { Volume } from "../../core/volume/volume.ts";
import { failureOf } from "../support/errors.ts";

function world() {
  let descriptions: VolumeDescription[] = [{ name: "a", kind: "memory", config: { v: 1 }, site: "eu" }];
  let reads = 0;
  const opened: string[] = [];
  const released: string[] = [];
  let now = 0;
  const registry = describedRegistry({
    describe: async () => {
      reads++;
      return descriptions;
    },
    open: (d) => {
      const label = `${d.name}@${JSON.stringify(d.config)}`;
      opened.push(label);
      return {
        driver: new MemoryVolumeDriver(d.name),
        presigner: noUrls(d.name, "test"),
        close: () => {
          released.push(label);
        },
      };
    },
    ttlMs: 1000,
    clock: () => now,
  });
  return {
    registry,
    opened,
    released,
    reads: () => reads,
    set(next: VolumeDescription[]) {
      descriptions = next;
    },
    advance(ms: number) {
      now += ms;
    },
  };
}

describe("volume registry", () => {
  it("builds a volume once per settings and hands out one handle shape everywhere", async () => {
    const w = world();
    const first = await w.registry.handles();
    const again = await w.registry.lookup("a");
    expect(first.a).toMatchObject({ name: "a", kind: "memory", site: "eu", cost: 1 });
    expect(again!.volume).toBe(first.a!.volume);
    expect(await w.registry.volume("a")).toBe(first.a!.volume);
    expect(w.opened).toEqual(['a@{"v":1}']);
    expect(w.reads()).toBe(1); // cached within the TTL

    // Same settings re-read after the TTL: nothing rebuilt. Other settings: rebuilt, old released.
    w.advance(2000);
    await w.registry.handles();
    expect(w.opened).toEqual(['a@{"v":1}']);
    w.set([{ name: "a", kind: "memory", config: { v: 2 } }]);
    w.registry.invalidate();
    const rebuilt = (await w.registry.handles()).a!;
    expect(rebuilt.volume).not.toBe(first.a!.volume);
    expect(rebuilt.site).toBeUndefined();
    expect(w.opened).toEqual(['a@{"v":1}', 'a@{"v":2}']);
    await new Promise((r) => setImmediate(r));
    expect(w.released).toEqual(['a@{"v":1}']);

    await w.registry.close();
    expect(w.released).toEqual(['a@{"v":1}', 'a@{"v":2}']);
  });

  it("a volume added after the list was cached is found by lookup; an unknown one is ENOENT", async () => {
    const w = world();
    await w.registry.handles();
    w.set([
      { name: "a", kind: "memory", config: { v: 1 } },
      { name: "b", kind: "memory", config: {}, cost: 3 },
    ]);
    expect((await w.registry.lookup("b"))?.cost).toBe(3);
    expect(await w.registry.lookup("zz")).toBeUndefined();
    expect((await failureOf(w.registry.volume("zz"))).code).toBe("ENOENT");
  });

  it("a fixed registry serves what it was given, with no URLs", async () => {
    const volume = new Volume(new MemoryVolumeDriver("m"));
    const r = fixedRegistry({ m: volume, n: { volume, site: "x", cost: 2, kind: "memory" } });
    expect(Object.keys(await r.handles())).toEqual(["m", "n"]);
    expect(await r.lookup("n")).toMatchObject({ site: "x", cost: 2, kind: "memory" });
    expect((await r.list()).map((d) => d.name)).toEqual(["m", "n"]);
    const url = (await r.lookup("m"))!.presigner.presign({ key: "k", method: "GET", expiresInSeconds: 1 });
    expect((await failureOf(url)).code).toBe("ENOTSUP");
  });
});
