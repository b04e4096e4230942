/**
 * Bugs the reliability harness found, each pinned by the smallest test that failed before its fix
 * (the harness figures live in test/reliability/; the failing seeds of the sequence tier are JSON
 * files in test/regressions/reliability/, replayed by reliability-sequences.test.ts).
 */
import { describe, expect, it } from "vitest";
import type { FileSystem } from "../../core/namespace/api.ts";
import { pattern } from "../reliability/sequences.ts";
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

describe("reliability regressions (data plane races, found by the linearizability check)", () => {
  /** A FileSystem whose first writeContent is preceded by an unlink of the path: a racing unlink. */
  const unlinkBeforeFirstWriteContent = (fs: FileSystem): FileSystem => {
    let raced = false;
    return new Proxy(fs, {
      get(target, prop, receiver) {
        if (prop === "writeContent")
          return async (...args: Parameters<FileSystem["writeContent"]>) => {
            if (!raced) {
              raced = true;
              await target.unlink(args[0]);
            }
            return target.writeContent(...args);
          };
        const value = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };

  for (const size of [5, 70_000])
    it(`writeFile (${size} bytes) racing an unlink creates the file (was ENOENT)`, async () => {
      const world = await World.create({ backend: "memory", seed: 4 });
      const { fs, data } = world.boot();
      await data.writeFile(fs, "/f", pattern(size, 1));
      await data.writeFile(unlinkBeforeFirstWriteContent(fs), "/f", pattern(size, 2));
      expect(Buffer.from(await data.readFile(fs, "/f")).equals(Buffer.from(pattern(size, 2)))).toBe(true);
      await world.dispose();
    });

  it("appendFile racing an unlink creates the file with the appended bytes (was ENOENT)", async () => {
    const world = await World.create({ backend: "memory", seed: 5 });
    const { fs, data } = world.boot();
    await data.writeFile(fs, "/f", pattern(70_000, 1));
    await data.appendFile(unlinkBeforeFirstWriteContent(fs), "/f", pattern(10, 2));
    expect(Buffer.from(await data.readFile(fs, "/f")).equals(Buffer.from(pattern(10, 2)))).toBe(true);
    await world.dispose();
  });

  it("writeFile through a dangling symlink still fails ENOENT", async () => {
    const world = await World.create({ backend: "memory", seed: 6 });
    const { fs, data } = world.boot();
    await fs.symlink("/nowhere", "/l");
    expect((await failureOf(data.writeFile(fs, "/l", pattern(5, 1)))).code).toBe("ENOENT");
    await world.dispose();
  });
});

describe("reliability regressions (HTTP API, found by the bad-input corpus over HTTP)", () => {
  it("asOf over the wire is a TID or ISO 8601 only: '00000000000000000' is EINVAL (Date.parse took it)", async () => {
    const { toAsOf } = await import("../../functions/api/ops/common.ts");
    expect(() => toAsOf("00000000000000000")).toThrow(/neither a TID/);
    expect(() => toAsOf("1")).toThrow(/neither a TID/);
    expect(toAsOf("2026-11-21T07:00:00Z")).toEqual(new Date("2026-11-21T07:00:00Z"));
    expect(toAsOf("2026-11-21")).toEqual(new Date("2026-11-21"));
    expect(toAsOf("00000000000000ff")).toBe("00000000000000ff");
  });

  it("the remote SDK answers EINVAL (not EUNAVAIL / EIO) for arguments JSON cannot carry and an invalid Date", async () => {
    const { remoteDeployment } = await import("../../sdk/remote.ts");
    const { createClient } = await import("../../sdk/client.ts");
    // No server is needed: both fail before any request is sent.
    const client = createClient(remoteDeployment({ endpoint: "http://127.0.0.1:9", pfs: "p" }), "p");
    expect((await failureOf(client.stat(10n as never))).code).toBe("EINVAL");
    expect((await failureOf(client.asOf(new Date(Number.NaN)).readFile("/f"))).code).toBe("EINVAL");
  });
});
