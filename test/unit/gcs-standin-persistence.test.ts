/**
 * The GCS stand-in with a persistence directory: buckets and objects (bytes, CRC32C, metadata,
 * generation) survive a restart; a deleted object stays deleted.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { GcsVolumeDriver } from "../../adapters/volumes/gcs.ts";
import { crc32c } from "../../core/crc32c.ts";
import { Volume } from "../../core/volume/volume.ts";
import { gcsStandInStorageOptions } from "../../standins/gcs.ts";
import { startGcsServer } from "../../standins/gcs-server.ts";

let dir = "";
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const volumeAt = (endpoint: string) =>
  new Volume(
    new GcsVolumeDriver({ name: "g", bucket: "kept", storageOptions: gcsStandInStorageOptions(endpoint) }),
  );

it("keeps objects across a restart when given a directory", async () => {
  dir = await mkdtemp(join(tmpdir(), "strata-gcs-persist-"));
  const first = await startGcsServer({ dir });
  await fetch(`${first.url}/storage/v1/b`, { method: "POST", body: JSON.stringify({ name: "kept" }) });
  const bytes = new TextEncoder().encode("bytes that must outlive the server");
  const v1 = volumeAt(first.url);
  await v1.put("chunks/ab/name with spaces/ü", bytes, { metadata: { who: "test" } });
  await v1.put("gone", new Uint8Array([1, 2, 3]));
  await v1.delete("gone");
  await v1.close();
  await first.close();

  const second = await startGcsServer({ dir });
  const v2 = volumeAt(second.url);
  try {
    const info = await v2.head("chunks/ab/name with spaces/ü");
    expect(info).toMatchObject({ size: bytes.length, crc32c: crc32c(bytes), metadata: { who: "test" } });
    expect(Buffer.from(await v2.getBytes("chunks/ab/name with spaces/ü")).equals(Buffer.from(bytes))).toBe(
      true,
    );
    await expect(v2.head("gone")).rejects.toMatchObject({ code: "ENOENT" });
    // Create-only still sees the restored object.
    await expect(v2.put("chunks/ab/name with spaces/ü", bytes, { ifNoneMatch: true })).rejects.toMatchObject({
      code: "EEXIST",
    });
  } finally {
    await v2.close();
    await second.close();
  }
});
