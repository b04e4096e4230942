import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openEmbedded } from "../../runtime/embedded.ts";
import { connect, createClient, isStrataError } from "../../sdk/index.ts";
import { pattern, testSdk } from "../conformance/sdk.ts";

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "strata-sdk-"));
}

/** Retries: the volume may still be finishing an aborted chunk upload when a test ends. */
function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
}

testSdk("connect({ local })", async () => {
  const dir = await tempDir();
  const client = await connect({ local: dir });
  return {
    client,
    dispose: async () => {
      await client.close();
      await removeDir(dir);
    },
  };
});

// Same suite with 64 KiB chunks, so ranges, appends, truncates and as-of reads cross chunk boundaries.
testSdk("embedded deployment with 64 KiB chunks", async () => {
  const dir = await tempDir();
  const client = createClient(await openEmbedded({ dir, chunkSize: 64 * 1024 }), "default");
  return {
    client,
    dispose: async () => {
      await client.close();
      await removeDir(dir);
    },
  };
});

describe("connect()", () => {
  it("reopening the same directory after close sees the same files, history and snapshots", async () => {
    const dir = await tempDir();
    try {
      const first = await connect({ local: dir });
      const big = pattern(300_000, 5);
      await first.mkdir("/keep/me", { recursive: true });
      await first.writeFile("/keep/me/big.bin", big);
      await first.writeFile("/keep/small.txt", "v1");
      const t1 = await first.currentTid();
      await first.writeFile("/keep/small.txt", "v2");
      await first.snapshots.create("s1");
      await first.pfs("second").writeFile("/x", "in second");
      await first.close();

      const again = await connect({ local: dir });
      expect(Buffer.from(await again.readFile("/keep/me/big.bin")).equals(Buffer.from(big))).toBe(true);
      expect(await again.readFile("/keep/small.txt", "utf8")).toBe("v2");
      expect(await again.asOf(t1).readFile("/keep/small.txt", "utf8")).toBe("v1");
      expect((await again.snapshots.list()).map((s) => s.name)).toEqual(["s1"]);
      expect(await again.pfs("second").readFile("/x", "utf8")).toBe("in second");
      await again.close();
    } finally {
      await removeDir(dir);
    }
  });

  it("two clients open on one directory see each other's commits; pfs picks an isolated PFS", async () => {
    const dir = await tempDir();
    try {
      const a = await connect({ local: dir });
      const b = await connect({ local: dir });
      const scratch = await connect({ local: dir, pfs: "scratch" });
      await a.writeFile("/from-a", pattern(50_000, 6));
      await b.appendFile("/from-a", "+b");
      expect((await a.stat("/from-a")).size).toBe(50_002);
      expect(await scratch.readdir("/")).toEqual([]);
      await scratch.writeFile("/s", "s");
      expect(await a.pfs("scratch").readFile("/s", "utf8")).toBe("s");
      expect(await b.readdir("/")).toEqual(["from-a"]);
      await Promise.all([a.close(), b.close(), scratch.close()]);
    } finally {
      await removeDir(dir);
    }
  });

  it("a closed client refuses calls with EUNAVAIL", async () => {
    const dir = await tempDir();
    try {
      const client = await connect({ local: dir, pfs: "fresh" });
      await client.close();
      await expect(client.stat("/")).rejects.toMatchObject({ code: "EUNAVAIL" });
    } finally {
      await removeDir(dir);
    }
  });

  it("connect({ endpoint }) to a port nobody listens on: the first call is EUNAVAIL naming the endpoint", async () => {
    const client = await connect({ endpoint: "http://127.0.0.1:1", token: "t" });
    const err = await client.stat("/").catch((e: unknown) => e);
    expect(isStrataError(err, "EUNAVAIL")).toBe(true);
    expect((err as Error).message).toContain("http://127.0.0.1:1");
    await client.close();
  });

  it("connect without local or endpoint is EINVAL", async () => {
    const err = await connect({} as never).catch((e: unknown) => e);
    expect(isStrataError(err, "EINVAL")).toBe(true);
  });
});
