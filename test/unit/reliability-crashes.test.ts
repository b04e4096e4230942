/**
 * Quick tier of the crash tests (test/reliability/crashes.ts): every 1-op workload and a spread of
 * 2-op workloads over the fixed tree, crashed before and after every adapter call. The full set
 * of ordered pairs runs in `npm run reliability`.
 */
import { describe, expect, it } from "vitest";
import { type CrashOp, crashWorkloads, runCrashTier } from "../reliability/crashes.ts";

describe("reliability: crashes before and after every adapter call", () => {
  it("lose no acknowledged op, show no half-applied op, leave no dangling reference, and vacuum collects every orphan", {
    timeout: 300_000,
  }, async () => {
    const figures = await runCrashTier({
      backend: "memory",
      seed: 1,
      workloads: crashWorkloads(6),
      vacuum: true,
    });
    console.log(
      `[reliability] crashes: ${JSON.stringify({ ...figures, failures: figures.failures.length })}`,
    );
    expect(figures.failures).toEqual([]);
    expect(figures.crashPoints).toBeGreaterThan(300);
    expect(figures.orphans).toBeGreaterThan(0); // crashes between upload and commit do leave orphans
    expect(figures.lostOps + figures.halfVisible + figures.dangling + figures.unclaimedOrphans).toBe(0);
    // Every orphan is collectable: vacuum, run once the intents expired, removed them all.
    expect(figures.orphansCollected).toBe(figures.orphans);
    expect(figures.orphansLeft + figures.vacuumBroke).toBe(0);
  });

  it("on SQLite too (3 of the 1-op workloads; all of them in npm run reliability -- --backend sqlite)", {
    timeout: 300_000,
  }, async () => {
    const figures = await runCrashTier({
      backend: "sqlite",
      seed: 2,
      workloads: crashWorkloads(0).filter((_, i) => i % 3 === 0),
    });
    expect(figures.failures).toEqual([]);
    expect(figures.crashPoints).toBeGreaterThan(50);
  });

  it("the checker sees a half-applied op (an 'op' made of two commits)", async () => {
    const split: CrashOp = {
      name: "two commits",
      run: async ({ fs }) => {
        await fs.mkdir("/x");
        await fs.mkdir("/x/y");
      },
    };
    const figures = await runCrashTier({ backend: "memory", seed: 3, workloads: [[split]] });
    expect(figures.halfVisible).toBeGreaterThan(0);
  });

  it("the checker sees dangling references and unclaimed orphans", async () => {
    const { checkReferences } = await import("../reliability/crashes.ts");
    const { World } = await import("../reliability/world.ts");
    const { pattern } = await import("../reliability/sequences.ts");
    const world = await World.create({ backend: "memory", seed: 4 });
    const proc = world.boot();
    await proc.data.writeFile(proc.fs, "/f", pattern(70_000, 1));
    expect(await checkReferences(world)).toEqual({ dangling: [], orphans: [], unclaimed: [] });
    // Drop the instance records of the file's chunks: its references now dangle.
    const instances = (await world.items()).filter((i) => i.pk.startsWith("chunk#"));
    for (const i of instances) await world.store.delete(i);
    expect((await checkReferences(world)).dangling.length).toBe(instances.length);
    // An object on the volume nothing references and no intent names: an unclaimed orphan.
    const [key, stored] = [...world.drivers.v1!.objects][0]!;
    world.drivers.v1!.objects.set(`${key.slice(0, -64)}${"0".repeat(64)}`, stored);
    expect((await checkReferences(world)).unclaimed).toEqual(["0".repeat(64)]);
    await world.dispose();
  });
});
