/**
 * Bugs the reliability harness found, each pinned by the smallest test that failed before its fix
 * (the harness figures live in test/reliability/; the failing seeds of the sequence tier are JSON
 * files in test/regressions/reliability/, replayed by reliability-sequences.test.ts).
 */
import { describe, expect, it } from "vitest";
import { World } from "../reliability/world.ts";
import { failureOf } from "../support/errors.ts";

describe("reliability regressions", () => {
  it("a snapshot name with a lone surrogate is EINVAL before the TID is closed (state unchanged)", async () => {
    const world = await World.create({ backend: "memory", seed: 1 });
    const { client } = world.boot();
    await client.writeFile("/f", "x");
    const before = await world.stateHash();
    expect((await failureOf(client.snapshots.create("s\uD800"))).code).toBe("EINVAL");
    expect(await world.stateHash()).toBe(before);
    await world.dispose();
  });

  it("lone surrogates in paths, tag keys and values, xattr names and symlink targets are EINVAL (not ENOENT)", async () => {
    const world = await World.create({ backend: "memory", seed: 2 });
    const { client } = world.boot();
    await client.writeFile("/f", "x");
    const before = await world.stateHash();
    const calls = [
      client.stat("/f\uDC00"),
      client.tags.remove("/f", "k\uD800"),
      client.tags.set("/f", "k", "v\uDFFF"),
      client.removexattr("/f", "user.\uD800"),
      client.symlink("/t\uD800", "/l"),
    ];
    for (const call of calls) expect((await failureOf(call)).code).toBe("EINVAL");
    expect(await world.stateHash()).toBe(before);
    await world.dispose();
  });
});

describe("reliability regressions (SDK)", () => {
  it("a Symbol snapshot name and a null batch op are EINVAL (were a TypeError and EIO)", async () => {
    const world = await World.create({ backend: "memory", seed: 3 });
    const { client } = world.boot();
    const before = await world.stateHash();
    expect((await failureOf(client.snapshots.create(Symbol("s") as never))).code).toBe("EINVAL");
    expect((await failureOf(client.batch([{ op: "mkdir", path: "/b" }, null as never]))).code).toBe("EINVAL");
    expect(await world.stateHash()).toBe(before);
    await world.dispose();
  });
});
