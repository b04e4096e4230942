/**
 * `npm run bench -- data [backend…]` (default: local s3): strata through its SDK client (the
 * `Strata` interface `connect({ local })` returns: `createClient` over a Deployment of SQLite
 * metadata + the data plane on one volume of the backend) next to the raw volume SDK / node:fs
 * call on the same backend in the same run:
 *   - write and read MiB/s of 64 MiB files (median of reps; fresh bytes per rep so dedup never
 *     makes a write free), target ratio ≥ 0.9;
 *   - write and read of 1,000 × 4 KiB files (files/s and MiB/s): inline in metadata, so the
 *     comparison is SQLite commits against object PUTs;
 *   - object PUTs per small file (target 0) and bytes stored on the volume per byte written.
 *
 * Env: STRATA_BENCH_REPS (default 3), STRATA_BENCH_SMALL_FILES (default 1,000).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeSha256 } from "../adapters/data/sha256.ts";
import { SqliteMetadataStore } from "../adapters/metadata/sqlite.ts";
import { faultyVolume } from "../adapters/volumes/faulty.ts";
import { createDataPlane } from "../core/data/plane.ts";
import { createNamespace } from "../core/namespace/index.ts";
import { Volume } from "../core/volume/volume.ts";
import { createClient, type Deployment } from "../sdk/client.ts";
import { median, pattern, seconds, table } from "./support.ts";
import { VOLUME_BENCH_BACKENDS, type VolumeBenchBackend } from "./volume-backends/index.ts";

const MiB = 1024 * 1024;
const LARGE = 64 * MiB;
const SMALL = 4 * 1024;
const REPS = Number(process.env.STRATA_BENCH_REPS ?? 3);
const SMALL_FILES = Number(process.env.STRATA_BENCH_SMALL_FILES ?? 1000);

interface Row {
  backend: string;
  metric: string;
  unit: string;
  strata: number;
  raw: number | undefined;
  target?: string;
}

async function benchBackend(backend: VolumeBenchBackend): Promise<Row[]> {
  const { driver, raw, stop } = await backend.start();
  const counted = faultyVolume(driver, {});
  const volume = new Volume(counted);
  const dir = await mkdtemp(join(tmpdir(), "strata-bench-data-"));
  const store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
  const data = createDataPlane({ store, volumes: { v: volume }, defaultVolume: "v", sha256: nodeSha256 });
  const ns = createNamespace({ store });
  const pfs = `bench${Date.now().toString(36)}`;
  await ns.createPfs(pfs);
  // What connect({ local }) builds, with this backend's volume: every strata number below goes
  // through the SDK (its argument checks, body normalisation, Node streams) to the data plane.
  const deployment: Deployment = {
    namespace: ns,
    data,
    openPfs: async (name) => ns.pfs(name),
    close: async () => {},
  };
  const client = createClient(deployment, pfs);
  const run = `bench-${Date.now().toString(36)}`;
  const rows: Row[] = [];
  const row = (metric: string, unit: string, strata: number, rawValue: number | undefined, target?: string) =>
    rows.push({ backend: backend.name, metric, unit, strata, raw: rawValue, ...(target ? { target } : {}) });
  try {
    const storedBytes = async () => {
      let n = 0;
      for await (const page of volume.listAll("chunks/")) for (const e of page) n += e.size;
      return n;
    };

    const write = { strata: [] as number[], raw: [] as number[] };
    const read = { strata: [] as number[], raw: [] as number[] };
    const before = await storedBytes();
    // Alternate the sides rep by rep so drift hits both alike; fresh bytes each rep (no dedup).
    for (let rep = 0; rep < REPS; rep++) {
      const bytes = pattern(LARGE, 1000 + rep);
      write.raw.push(LARGE / MiB / (await seconds(() => raw.put(`${run}/raw/large-${rep}`, bytes))));
      write.strata.push(LARGE / MiB / (await seconds(() => client.writeFile(`/large-${rep}`, bytes))));
      read.raw.push(
        LARGE /
          MiB /
          (await seconds(async () => {
            if ((await raw.get(`${run}/raw/large-${rep}`)) !== LARGE) throw new Error("raw get: short read");
          })),
      );
      read.strata.push(
        LARGE /
          MiB /
          (await seconds(async () => {
            let n = 0;
            for await (const piece of client.createReadStream(`/large-${rep}`)) n += piece.byteLength;
            if (n !== LARGE) throw new Error("SDK read stream: short read");
          })),
      );
    }
    row("write 64 MiB file", "MiB/s", median(write.strata), median(write.raw), "≥ 0.9");
    row("read 64 MiB file", "MiB/s", median(read.strata), median(read.raw), "≥ 0.9");
    row(
      "stored / written, 64 MiB files",
      "bytes",
      ((await storedBytes()) - before) / (REPS * LARGE),
      undefined,
    );
    // The same bytes again under another name: dedup stores nothing new.
    const dedupBefore = await storedBytes();
    await client.writeFile("/large-0-again", pattern(LARGE, 1000));
    row(
      "stored / written, a duplicate 64 MiB file",
      "bytes",
      ((await storedBytes()) - dedupBefore) / LARGE,
      undefined,
    );

    const small = Array.from({ length: SMALL_FILES }, (_, i) => pattern(SMALL, 5000 + i));
    const putsBefore = counted.calls.put;
    const smallBefore = await storedBytes();
    const rawWrite = await seconds(async () => {
      for (let i = 0; i < SMALL_FILES; i++) await raw.put(`${run}/raw/small-${i}`, small[i]!);
    });
    const strataWrite = await seconds(async () => {
      for (let i = 0; i < SMALL_FILES; i++) await client.writeFile(`/small-${i}`, small[i]!);
    });
    const puts = counted.calls.put - putsBefore;
    const smallStored = (await storedBytes()) - smallBefore;
    const rawRead = await seconds(async () => {
      for (let i = 0; i < SMALL_FILES; i++) await raw.get(`${run}/raw/small-${i}`);
    });
    const strataRead = await seconds(async () => {
      for (let i = 0; i < SMALL_FILES; i++) await client.readFile(`/small-${i}`);
    });
    const smallMiB = (SMALL_FILES * SMALL) / MiB;
    row(`write ${SMALL_FILES} × 4 KiB files`, "files/s", SMALL_FILES / strataWrite, SMALL_FILES / rawWrite);
    row(`write ${SMALL_FILES} × 4 KiB files`, "MiB/s", smallMiB / strataWrite, smallMiB / rawWrite);
    row(`read ${SMALL_FILES} × 4 KiB files`, "files/s", SMALL_FILES / strataRead, SMALL_FILES / rawRead);
    row(`read ${SMALL_FILES} × 4 KiB files`, "MiB/s", smallMiB / strataRead, smallMiB / rawRead);
    row("object PUTs per 4 KiB file", "PUTs", puts / SMALL_FILES, 1, "0");
    row(
      "volume bytes / written, 4 KiB files (inline)",
      "bytes",
      smallStored / (SMALL_FILES * SMALL),
      undefined,
    );
  } finally {
    await store.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
    await volume.close().catch(() => {});
    await stop();
  }
  return rows;
}

export async function run(args: string[]): Promise<void> {
  const names = args.length > 0 ? args : ["local", "s3"];
  const chosen = VOLUME_BENCH_BACKENDS.filter((b) => names.includes(b.name));
  if (chosen.length !== names.length) {
    throw new Error(
      `no such backend among ${names.join(", ")} (have: ${VOLUME_BENCH_BACKENDS.map((b) => b.name).join(", ")})`,
    );
  }
  console.log(
    `data benchmark: strata = the SDK client (createClient over SQLite metadata + the data plane: 8 MiB chunks, ` +
      `parallelism 4; writeFile, createReadStream for 64 MiB, readFile for 4 KiB) vs raw = the volume SDK / node:fs ` +
      `call on the same backend; ${REPS} reps of 64 MiB (median), ${SMALL_FILES} sequential 4 KiB files`,
  );
  const rows: Row[] = [];
  const failed: string[] = [];
  for (const backend of chosen) {
    process.stdout.write(`  ${backend.name} …\n`);
    try {
      rows.push(...(await benchBackend(backend)));
    } catch (err) {
      failed.push(`${backend.name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(1) : n.toFixed(3));
  console.log(
    `\n${table(
      [
        ["backend", "metric", "strata", "raw", "ratio", "unit", "target"],
        ...rows.map((r) => [
          r.backend,
          r.metric,
          fmt(r.strata),
          r.raw === undefined ? "" : fmt(r.raw),
          r.raw === undefined || r.unit === "PUTs" ? "" : (r.strata / r.raw).toFixed(2),
          r.unit,
          r.target ?? "",
        ]),
      ],
      new Set([0, 1]),
    )}`,
  );
  if (failed.length > 0) {
    console.error(`\nfailed:\n  ${failed.join("\n  ")}`);
    process.exitCode = 1;
  }
}
