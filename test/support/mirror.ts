/**
 * Mirroring test fixtures: a deployment in this process (a store, one memory volume, namespace and
 * data plane) and its stream source; a random file-system workload (fast-check arbitraries over a
 * small pool of paths, so operations collide) and a whole-tree snapshot (every path's stat without
 * the PFS name, tags, xattrs, symlink targets and file bytes) for comparing a source with its mirror.
 */
import fc from "fast-check";
import type { DataPlane } from "../../core/data/api.ts";
import { createDataPlane } from "../../core/data/plane.ts";
import { isStrataError } from "../../core/errors.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import { localSource, type StreamRecord } from "../../core/mirror/index.ts";
import {
  createNamespace,
  type FileSystem,
  type Namespace,
  type ReadableFileSystem,
} from "../../core/namespace/index.ts";
import { mulberry32 } from "../../core/random.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { fixedRegistry } from "../../core/volume/registry.ts";
import { Volume } from "../../core/volume/volume.ts";

/**
 * One site of a mirroring test: `store`, one memory volume `volumeName`, a namespace at `site`
 * (seeded randomness, no retry sleeps) and a data plane with small inline/chunk sizes.
 */
export function deployment(
  store: MetadataStore,
  site: number,
  volumeName: string,
  seed: number,
  clock: () => number = Date.now,
) {
  const volume = new Volume(new MemoryVolumeDriver(volumeName));
  // The deployment's one volume registry (mirror runs and sources take it).
  const volumes = fixedRegistry({ [volumeName]: volume });
  const ns: Namespace = createNamespace({
    store,
    site,
    clock,
    random: mulberry32(seed),
    options: { sleep: async () => {} },
  });
  const data = createDataPlane({
    store,
    volumes: { [volumeName]: volume },
    defaultVolume: volumeName,
    inlineThreshold: 16,
    chunkSize: 64 * 1024,
    clock,
  });
  return { store, ns, volumes, data, volumeName };
}

export type MirrorDeployment = ReturnType<typeof deployment>;

/** The stream source over PFS `pfs` of `dep`, read in this process. */
export function sourceOf(dep: MirrorDeployment, pfs: string) {
  return localSource({ ns: dep.ns, pfs, store: dep.store, volumes: dep.volumes });
}

/**
 * The source side most mirror tests start from: a memory-store deployment at site 1 with volume
 * "aws" and an empty PFS "main", its file system and its stream source.
 */
export async function mainSource(clock?: () => number) {
  const src = deployment(new MemoryMetadataStore(), 1, "aws", 1, clock);
  await src.ns.createPfs("main");
  return { src, fs: src.ns.pfs("main"), source: sourceOf(src, "main") };
}

/** Stream records as sorted `pk sk tid crc` lines: two streams hold the same records iff these are equal. */
export function streamKeys(records: StreamRecord[]): string[] {
  return records.map((r) => `${r.pk} ${r.sk} ${r.tid} ${r.crc}`).sort();
}

const DIRS = ["/", "/d", "/d/e", "/f"];
const NAMES = ["a", "b", "c"];
const path = () =>
  fc
    .tuple(fc.constantFrom(...DIRS), fc.constantFrom(...NAMES, "d", "e", "f"))
    .map(([d, n]) => (d === "/" ? `/${n}` : `${d}/${n}`));

export type WorkloadOp =
  | { op: "mkdir"; path: string }
  | { op: "write"; path: string; size: number; fill: number }
  | { op: "unlink"; path: string }
  | { op: "rmdir"; path: string }
  | { op: "rename"; from: string; to: string }
  | { op: "setTag"; path: string; key: string; value: string }
  | { op: "removeTag"; path: string; key: string }
  | { op: "setXattr"; path: string; name: string; size: number }
  | { op: "symlink"; target: string; path: string }
  | { op: "link"; existing: string; path: string }
  | { op: "chmod"; path: string; mode: number };

export function workloadOp(): fc.Arbitrary<WorkloadOp> {
  return fc.oneof(
    { arbitrary: path().map((p) => ({ op: "mkdir" as const, path: p })), weight: 3 },
    {
      arbitrary: fc
        .record({
          path: path(),
          size: fc.oneof(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 17, max: 70_000 })),
          fill: fc.integer({ min: 0, max: 255 }),
        })
        .map((r) => ({ op: "write" as const, ...r })),
      weight: 5,
    },
    { arbitrary: path().map((p) => ({ op: "unlink" as const, path: p })), weight: 2 },
    { arbitrary: path().map((p) => ({ op: "rmdir" as const, path: p })), weight: 1 },
    {
      arbitrary: fc.record({ from: path(), to: path() }).map((r) => ({ op: "rename" as const, ...r })),
      weight: 2,
    },
    {
      arbitrary: fc
        .record({
          path: path(),
          key: fc.constantFrom("site", "$b", "k"),
          value: fc.constantFrom("x", "AAAA", ""),
        })
        .map((r) => ({ op: "setTag" as const, ...r })),
      weight: 1,
    },
    {
      arbitrary: fc
        .record({ path: path(), key: fc.constantFrom("site", "$b", "k") })
        .map((r) => ({ op: "removeTag" as const, ...r })),
      weight: 1,
    },
    {
      arbitrary: fc
        .record({
          path: path(),
          name: fc.constantFrom("user.a", "user.b"),
          size: fc.integer({ min: 0, max: 40 }),
        })
        .map((r) => ({ op: "setXattr" as const, ...r })),
      weight: 1,
    },
    {
      arbitrary: fc.record({ target: path(), path: path() }).map((r) => ({ op: "symlink" as const, ...r })),
      weight: 1,
    },
    {
      arbitrary: fc.record({ existing: path(), path: path() }).map((r) => ({ op: "link" as const, ...r })),
      weight: 1,
    },
    {
      arbitrary: fc
        .record({ path: path(), mode: fc.constantFrom(0o600, 0o644, 0o755) })
        .map((r) => ({ op: "chmod" as const, ...r })),
      weight: 1,
    },
  );
}

export function bytesOf(size: number, fill: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (fill + i * 31) & 0xff;
  return out;
}

/** Apply one op; the file-system errors a random op meets (ENOENT, EEXIST, …) are part of the workload. */
export async function applyWorkloadOp(fs: FileSystem, data: DataPlane, op: WorkloadOp): Promise<void> {
  try {
    switch (op.op) {
      case "mkdir":
        await fs.mkdir(op.path);
        break;
      case "write":
        await data.writeFile(fs, op.path, bytesOf(op.size, op.fill));
        break;
      case "unlink":
        await fs.unlink(op.path);
        break;
      case "rmdir":
        await fs.rmdir(op.path);
        break;
      case "rename":
        await fs.rename(op.from, op.to);
        break;
      case "setTag":
        await fs.setTag(op.path, op.key, op.value);
        break;
      case "removeTag":
        await fs.removeTag(op.path, op.key);
        break;
      case "setXattr":
        await fs.setXattr(op.path, op.name, bytesOf(op.size, 7));
        break;
      case "symlink":
        await fs.symlink(op.target, op.path);
        break;
      case "link":
        await fs.link(op.existing, op.path);
        break;
      case "chmod":
        await fs.setattr(op.path, { mode: op.mode });
        break;
    }
  } catch (err) {
    if (!isStrataError(err) || ["ECORRUPT", "EIO", "EUNAVAIL", "EROFS", "ECONFLICT"].includes(err.code))
      throw err;
  }
}

/** Every path of the tree with what a reader can see of it (bytes as hex), sorted by path. */
export async function snapshotTree(
  fs: ReadableFileSystem,
  data: DataPlane,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const visit = async (p: string): Promise<void> => {
    const { pfs: _pfs, ...st } = await fs.lstat(p);
    const entry: Record<string, unknown> = { ...st };
    if (st.type === "symlink") entry.link = await fs.readlink(p);
    else {
      entry.tags = await fs.getTags(p);
      const xattrs: Record<string, string> = {};
      for (const name of await fs.listXattrs(p))
        xattrs[name] = Buffer.from(await fs.getXattr(p, name)).toString("hex");
      entry.xattrs = xattrs;
    }
    if (st.type === "file") entry.bytes = Buffer.from(await data.readFile(fs, p)).toString("hex");
    out[p] = entry;
    if (st.type === "dir") {
      let cursor: string | undefined;
      do {
        const page = await fs.readdir(p, cursor ? { cursor } : {});
        for (const e of page.entries) await visit(p === "/" ? `/${e.name}` : `${p}/${e.name}`);
        cursor = page.cursor;
      } while (cursor);
    }
  };
  await visit("/");
  return out;
}
