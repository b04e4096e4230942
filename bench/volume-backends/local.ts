/**
 * Benchmark backend "local": the local-directory driver in a fresh temp dir, against
 * `node:fs` writeFile/readFile in the same directory. The raw writes use `flush: true` (fsync) so
 * both sides pay for durability; without it the raw side would measure the page cache only.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LocalVolumeDriver } from "../../adapters/volumes/local.ts";
import type { VolumeBenchBackend } from "./backend.ts";

export const localBenchBackend: VolumeBenchBackend = {
  name: "local",
  async start() {
    const root = await mkdtemp(join(tmpdir(), "strata-bench-local-"));
    const rawRoot = join(root, "raw");
    return {
      driver: new LocalVolumeDriver({ name: "local-bench", root }),
      raw: {
        async put(key, bytes) {
          const path = join(rawRoot, key);
          await mkdir(dirname(path), { recursive: true });
          await writeFile(path, bytes, { flush: true });
        },
        async get(key) {
          return (await readFile(join(rawRoot, key))).byteLength;
        },
      },
      async stop() {
        await rm(root, { recursive: true, force: true });
      },
    };
  },
};
