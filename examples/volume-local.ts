/**
 * A volume in ten lines: store an object create-only, read it back CRC-verified, list, delete.
 * Run: npx tsx examples/volume-local.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { LocalVolumeDriver } from "../adapters/volumes/local.ts";
import { crc32cToHex } from "../core/crc32c.ts";
import { isStrataError } from "../core/errors.ts";
import { Volume } from "../core/volume/volume.ts";

const root = await mkdtemp(path.join(tmpdir(), "strata-example-"));
const volume = new Volume(new LocalVolumeDriver({ name: "example", root }));

const info = await volume.put("docs/hello.txt", new TextEncoder().encode("hello, strata\n"), {
  ifNoneMatch: true,
});
console.log(`stored ${info.key}: ${info.size} bytes, crc32c ${crc32cToHex(info.crc32c)}`);

try {
  await volume.put("docs/hello.txt", new TextEncoder().encode("second writer"), { ifNoneMatch: true });
} catch (err) {
  if (!isStrataError(err, "EEXIST")) throw err;
  console.log(`create-only put refused: ${err.code}`);
}

console.log(`read back: ${new TextDecoder().decode(await volume.getBytes("docs/hello.txt")).trim()}`);
console.log(`listed: ${(await volume.list("docs/")).entries.map((e) => e.key).join(", ")}`);
await volume.delete("docs/hello.txt");
await rm(root, { recursive: true, force: true });
