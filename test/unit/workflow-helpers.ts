/** Shared by the workflow limit and job tests: a memory deployment and files of many chunks. */
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { crc32c } from "../../core/crc32c.ts";
import { presentItem, putChunkObject, recordPresent } from "../../core/data/chunks.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { FileContent } from "../../core/namespace/api.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { openPlacement } from "../../runtime/services.ts";

export type Deployment = Awaited<ReturnType<typeof deployment>>;

/** A deployment on the memory store with memory volumes: `home` (default) and `eu`, `eu2`, `eu3` at site eu. */
export async function deployment(options: { chunkPage?: number }) {
  const store = new MemoryMetadataStore();
  const ns = createNamespace({ store });
  await ns.createPfs("main");
  const drivers: Record<string, MemoryVolumeDriver> = {};
  for (const name of ["home", "eu", "eu2", "eu3"]) drivers[name] = new MemoryVolumeDriver(name);
  const p = openPlacement({
    store,
    namespace: ns,
    defaultVolume: "home",
    graceMs: 0,
    retryIntervalMs: 1,
    volumesTtlMs: 60_000,
    data: { sha256: nodeSha256 },
    wrapDriver: (name) => drivers[name]!,
    ...(options.chunkPage !== undefined ? { chunkPage: options.chunkPage } : {}),
  });
  await p.volumes.add({ name: "home", kind: "local", config: { root: "/nonexistent/home" } });
  for (const name of ["eu", "eu2", "eu3"])
    await p.volumes.add({ name, kind: "local", config: { root: `/nonexistent/${name}` }, site: "eu" });
  return { store, ns, fs: ns.pfs("main"), p, drivers };
}

/**
 * A file at `path` of `n` distinct chunks, each stored on `home` and recorded present there the
 * way the data plane does (the chunk lifecycle's own helpers). The chunks are 16 bytes: a state's
 * size grows with the COUNT of chunks, not their length, so `n` = 1,000 (the engine's extent cap
 * per version) stands for the largest file there is — 20 GB at 20 MiB chunks — without moving it.
 */
export async function fileOfChunks(d: Deployment, path: string, n: number, seed = 0): Promise<FileContent> {
  const home = await d.p.registry.volume("home");
  const extents: Array<{ offset: number; length: number; chunk: string; crc32c: number }> = [];
  const items = [];
  for (let i = 0; i < n; i++) {
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setUint32(0, i + 1);
    new DataView(bytes.buffer).setUint32(4, seed);
    const ref = { chunk: nodeSha256(bytes) as string, size: 16, crc32c: crc32c(bytes) };
    await putChunkObject(home, ref, bytes);
    items.push(presentItem(ref, "home", Date.now()));
    extents.push({ offset: i * 16, length: 16, chunk: ref.chunk, crc32c: ref.crc32c });
  }
  await recordPresent(d.store, items, Date.now());
  const content = { size: n * 16, extents };
  await d.fs.create(path, { content });
  return content;
}
