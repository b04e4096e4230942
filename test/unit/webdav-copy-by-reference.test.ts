/**
 * Copy by reference (core/data/copy.ts), which WebDAV COPY uses: the copy references the source's
 * chunks (no object written, the same chunk list), reads back the source's bytes, and keeps them
 * when the source changes; copying an old version works through an as-of view. Safety: a source
 * deleted and vacuumed between the copy's read and its commit never leaves a committed copy
 * whose chunks are gone — counter-check: without the intent and the second read, it does.
 */
import { describe, expect, it } from "vitest";
import { UNSAFE_COPY_SWITCHES } from "../../core/data/copy.ts";
import { isStrataError } from "../../core/errors.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { ReadableFileSystem } from "../../core/namespace/api.ts";
import { setRetention } from "../../core/retention/store.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { bytesOf, maintenanceWorld } from "../support/maintenance.ts";

async function world() {
  const driver = new MemoryVolumeDriver("v");
  const w = maintenanceWorld(new MemoryMetadataStore(), { v: driver });
  await w.ns.createPfs("main");
  const fs = w.ns.pfs("main");
  await setRetention(w.store, "main", "all 1h", () => w.clock.now);
  const objects = async () => {
    let n = 0;
    for await (const page of w.volumes.v!.listAll("")) n += page.length;
    return n;
  };
  return { w, fs, objects };
}

describe("copyFile by reference", () => {
  it("references the source's chunks: no new object, same chunk list, same bytes, independent of later source writes", async () => {
    const { w, fs, objects } = await world();
    const bytes = bytesOf(1, 200 * 1024);
    await w.data.writeFile(fs, "/src.bin", bytes);
    const before = await objects();
    expect(before).toBeGreaterThan(0);
    await w.data.copyFile(fs, "/src.bin", fs, "/dst.bin");
    expect(await objects()).toBe(before);
    const chunks = async (p: string) => (await w.data.placement(fs, p)).map((e) => e.chunk);
    expect(await chunks("/dst.bin")).toEqual(await chunks("/src.bin"));
    expect(Buffer.from(await w.data.readFile(fs, "/dst.bin")).equals(Buffer.from(bytes))).toBe(true);
    await w.data.writeFile(fs, "/src.bin", bytesOf(2, 10));
    expect(Buffer.from(await w.data.readFile(fs, "/dst.bin")).equals(Buffer.from(bytes))).toBe(true);
    await expect(w.data.copyFile(fs, "/src.bin", fs, "/dst.bin", { exclusive: true })).rejects.toMatchObject({
      code: "EEXIST",
    });
  });

  it("copies the version an as-of view sees (restoring an old version under a new name)", async () => {
    const { w, fs } = await world();
    const old = bytesOf(3, 150 * 1024);
    await w.data.writeFile(fs, "/a.bin", old);
    const t = await fs.currentTid();
    w.clock.advance(1000);
    await w.data.writeFile(fs, "/a.bin", bytesOf(4, 150 * 1024));
    await w.data.copyFile(fs.asOf(t), "/a.bin", fs, "/a-then.bin");
    expect(Buffer.from(await w.data.readFile(fs, "/a-then.bin")).equals(Buffer.from(old))).toBe(true);
  });

  /**
   * The race: the copy reads the source; before it commits, the source is unlinked, its history
   * passes retention and an applying vacuum runs. Invariant: the copy fails with nothing
   * committed, or its file reads back the source's bytes.
   */
  async function race(): Promise<void> {
    const { w, fs } = await world();
    const bytes = bytesOf(5, 200 * 1024);
    await w.data.writeFile(fs, "/src.bin", bytes);
    let first = true;
    const hooked = new Proxy(fs, {
      get(target, prop, receiver) {
        if (prop !== "stat") return Reflect.get(target, prop, receiver);
        return async (path: string) => {
          const st = await target.stat(path);
          if (first) {
            first = false;
            await target.unlink("/src.bin");
            w.clock.advance(3 * 3600_000);
            await w.vacuum({ apply: true, readerGraceMs: 0 });
          }
          return st;
        };
      },
    }) as ReadableFileSystem;
    let copied = true;
    try {
      await w.data.copyFile(hooked, "/src.bin", fs, "/dst.bin");
    } catch (err) {
      if (!isStrataError(err, "ENOENT")) throw err;
      copied = false;
    }
    if (!copied) {
      await expect(fs.stat("/dst.bin")).rejects.toMatchObject({ code: "ENOENT" });
      return;
    }
    const back = await w.data.readFile(fs, "/dst.bin").catch((err: unknown) => err);
    if (!(back instanceof Uint8Array) || !Buffer.from(back).equals(Buffer.from(bytes)))
      throw new Error(`the committed copy could not be read back: ${String(back)}`);
  }

  it("a source vacuumed between the copy's read and its commit leaves no copy without its chunks", async () => {
    await race();
  });

  it("counter-check: without the intent and the second read, the committed copy has lost its chunks", async () => {
    UNSAFE_COPY_SWITCHES.noProtection = true;
    try {
      await expect(race()).rejects.toThrow(/could not be read back/);
    } finally {
      UNSAFE_COPY_SWITCHES.noProtection = false;
    }
  });
});
