import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { corruptLocalObject, LocalVolumeDriver } from "../../adapters/volumes/local.ts";
import { isStrataError } from "../../core/errors.ts";
import { Volume } from "../../core/volume/volume.ts";
import { testVolume } from "../conformance/volume.ts";

testVolume("local", async () => {
  const root = await mkdtemp(join(tmpdir(), "strata-volume-local-"));
  const driver = new LocalVolumeDriver({ name: "local-test", root });
  return {
    driver,
    corruptAtRest: (key) => corruptLocalObject(driver, key),
    dispose: () => rm(root, { recursive: true, force: true }),
  };
});

// What is specific to the local directory: crash leftovers, file-system limits, cleanup.
describe("local volume driver", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "strata-volume-local-extra-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("never shows a put that failed mid-body, and leaves no temp file behind", async () => {
    const volume = new Volume(new LocalVolumeDriver({ name: "l", root: join(root, "a") }));
    async function* failing() {
      yield new Uint8Array(2 * 1024 * 1024);
      throw new Error("source broke");
    }
    await expect(volume.put("k", failing())).rejects.toThrow();
    expect(isStrataError(await volume.head("k").catch((e) => e), "ENOENT")).toBe(true);
    expect(await readdir(join(root, "a", "tmp"))).toEqual([]);
  });

  it("sweeps temp files left by a crashed put at start-up, keeping recent ones, and never lists them", async () => {
    const dir = join(root, "b");
    await mkdir(join(dir, "tmp"), { recursive: true });
    await writeFile(join(dir, "tmp", "old"), "partial");
    await writeFile(join(dir, "tmp", "recent"), "partial");
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(join(dir, "tmp", "old"), twoHoursAgo, twoHoursAgo);
    const volume = new Volume(new LocalVolumeDriver({ name: "l", root: dir }));
    expect((await volume.list("")).entries).toEqual([]);
    expect(await readdir(join(dir, "tmp"))).toEqual(["recent"]);
  });

  it("rejects a key segment longer than the file system's name limit with ENAMETOOLONG", async () => {
    const volume = new Volume(new LocalVolumeDriver({ name: "l", root: join(root, "c") }));
    const err = await volume.put(`a/${"x".repeat(254)}`, Uint8Array.of(1)).catch((e) => e);
    expect(isStrataError(err, "ENAMETOOLONG")).toBe(true);
    expect((err as Error).message).toContain("253");
    expect((await volume.put(`a/${"x".repeat(253)}`, Uint8Array.of(1))).size).toBe(1);
  });

  it("removes directories left empty by a delete, keeping non-empty ones", async () => {
    const dir = join(root, "d");
    const volume = new Volume(new LocalVolumeDriver({ name: "l", root: dir }));
    await volume.put("x/y/z/1", Uint8Array.of(1));
    await volume.put("x/keep", Uint8Array.of(1));
    await volume.delete("x/y/z/1");
    expect(await readdir(join(dir, "objects", "x.d"))).toEqual(["keep.o"]);
  });

  it("detects a file whose header was damaged outside strata (ECORRUPT)", async () => {
    const dir = join(root, "e");
    const driver = new LocalVolumeDriver({ name: "l", root: dir });
    const volume = new Volume(driver);
    await volume.put("k", Uint8Array.of(1, 2, 3));
    await writeFile(driver.pathOf("k"), "not a strata object");
    expect(isStrataError(await volume.head("k").catch((e) => e), "ECORRUPT")).toBe(true);
  });
});
