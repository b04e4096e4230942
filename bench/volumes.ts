/**
 * `npm run bench -- volumes [backend…]`: for each volume backend, put and get throughput of 64 MiB
 * objects (median of a few reps) and ops/s of 4 KiB objects, through strata's `Volume` (validation,
 * CRC32C on write and verified read, retries) next to the raw SDK / node:fs call against the same
 * server in the same run, and the ratio (target ≥ 0.9 for 64 MiB). Then the peak memory growth of a
 * streamed 1 GiB upload of unknown length on the local volume.
 *
 * Env: STRATA_BENCH_REPS (default 3), STRATA_BENCH_SMALL_OPS (default 200).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalVolumeDriver } from "../adapters/volumes/local.ts";
import { Volume } from "../core/volume/volume.ts";
import { median, pattern, seconds, table } from "./support.ts";
import { VOLUME_BENCH_BACKENDS, type VolumeBenchBackend } from "./volume-backends/index.ts";

const MiB = 1024 * 1024;
const LARGE = 64 * MiB;
const SMALL = 4 * 1024;
const REPS = Number(process.env.STRATA_BENCH_REPS ?? 3);
const SMALL_OPS = Number(process.env.STRATA_BENCH_SMALL_OPS ?? 200);

interface Row {
  backend: string;
  metric: string;
  unit: string;
  strata: number;
  raw: number;
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of body) n += chunk.byteLength;
  return n;
}

async function benchBackend(backend: VolumeBenchBackend): Promise<Row[]> {
  const { driver, raw, stop } = await backend.start();
  const volume = new Volume(driver);
  const run = `bench-${Date.now().toString(36)}`;
  const rows: Row[] = [];
  try {
    const large = pattern(LARGE, 7);
    const put = { strata: [] as number[], raw: [] as number[] };
    const get = { strata: [] as number[], raw: [] as number[] };
    // Alternate the two sides rep by rep, so drift (cache, GC, a neighbour's load) hits both alike.
    for (let rep = 0; rep < REPS; rep++) {
      put.raw.push(LARGE / MiB / (await seconds(() => raw.put(`${run}/raw/large-${rep}`, large))));
      put.strata.push(LARGE / MiB / (await seconds(() => volume.put(`${run}/strata/large-${rep}`, large))));
      get.raw.push(
        LARGE /
          MiB /
          (await seconds(async () => {
            if ((await raw.get(`${run}/raw/large-${rep}`)) !== LARGE) throw new Error("raw get: short read");
          })),
      );
      get.strata.push(
        LARGE /
          MiB /
          (await seconds(async () => {
            const { body } = await volume.get(`${run}/strata/large-${rep}`);
            if ((await drain(body)) !== LARGE) throw new Error("strata get: short read");
          })),
      );
    }
    rows.push({
      backend: backend.name,
      metric: "put 64 MiB",
      unit: "MiB/s",
      strata: median(put.strata),
      raw: median(put.raw),
    });
    rows.push({
      backend: backend.name,
      metric: "get 64 MiB",
      unit: "MiB/s",
      strata: median(get.strata),
      raw: median(get.raw),
    });

    const small = pattern(SMALL, 11);
    const smallOps = async (fn: (i: number) => Promise<unknown>) =>
      SMALL_OPS /
      (await seconds(async () => {
        for (let i = 0; i < SMALL_OPS; i++) await fn(i);
      }));
    const rawPut = await smallOps((i) => raw.put(`${run}/raw/small-${i}`, small));
    const strataPut = await smallOps((i) => volume.put(`${run}/strata/small-${i}`, small));
    const rawGet = await smallOps((i) => raw.get(`${run}/raw/small-${i}`));
    const strataGet = await smallOps((i) => volume.getBytes(`${run}/strata/small-${i}`));
    rows.push({ backend: backend.name, metric: "put 4 KiB", unit: "ops/s", strata: strataPut, raw: rawPut });
    rows.push({ backend: backend.name, metric: "get 4 KiB", unit: "ops/s", strata: strataGet, raw: rawGet });
  } finally {
    await volume.close().catch(() => {});
    await stop();
  }
  return rows;
}

/** Peak RSS / ArrayBuffer growth while streaming `total` bytes of unknown length into a local volume. */
async function streamedUploadMemory(
  total: number,
): Promise<{ rss: number; arrayBuffers: number; seconds: number }> {
  const root = await mkdtemp(join(tmpdir(), "strata-bench-mem-"));
  try {
    const volume = new Volume(new LocalVolumeDriver({ name: "local-mem", root }));
    const base = process.memoryUsage();
    let rss = base.rss;
    let arrayBuffers = base.arrayBuffers;
    const sample = () => {
      const m = process.memoryUsage();
      rss = Math.max(rss, m.rss);
      arrayBuffers = Math.max(arrayBuffers, m.arrayBuffers);
    };
    const timer = setInterval(sample, 20);
    async function* body() {
      for (let at = 0, i = 0; at < total; at += MiB, i++) {
        sample();
        yield pattern(Math.min(MiB, total - at), i + 1);
      }
    }
    let took = 0;
    try {
      took = await seconds(() => volume.put("streamed/1GiB", body()));
    } finally {
      clearInterval(timer);
    }
    return {
      rss: (rss - base.rss) / MiB,
      arrayBuffers: (arrayBuffers - base.arrayBuffers) / MiB,
      seconds: took,
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<void> {
  const chosen =
    args.length === 0 ? VOLUME_BENCH_BACKENDS : VOLUME_BENCH_BACKENDS.filter((b) => args.includes(b.name));
  if (chosen.length === 0) {
    throw new Error(
      `no such backend: ${args.join(", ")} (have: ${VOLUME_BENCH_BACKENDS.map((b) => b.name).join(", ")})`,
    );
  }
  console.log(
    `volume benchmark: ${REPS} reps of 64 MiB (median), ${SMALL_OPS} sequential 4 KiB ops; strata = Volume over the driver`,
  );
  const rows: Row[] = [];
  const failed: string[] = [];
  for (const backend of chosen) {
    process.stdout.write(`  ${backend.name} …\n`);
    try {
      rows.push(...(await benchBackend(backend)));
    } catch (err) {
      failed.push(`${backend.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
  console.log(
    `\n${table(
      [
        ["backend", "metric", "strata", "raw", "ratio", "unit"],
        ...rows.map((r) => [
          r.backend,
          r.metric,
          fmt(r.strata),
          fmt(r.raw),
          (r.strata / r.raw).toFixed(2),
          r.unit,
        ]),
      ],
      new Set([0, 1]),
    )}`,
  );
  const below = rows.filter((r) => r.unit === "MiB/s" && r.strata / r.raw < 0.9);
  if (below.length > 0) {
    console.log(
      `\nbelow the 0.9 target for 64 MiB: ${below.map((r) => `${r.backend} ${r.metric}`).join(", ")}`,
    );
  }
  if (chosen.some((b) => b.name === "local")) {
    const mem = await streamedUploadMemory(1024 * MiB);
    console.log(
      `\nlocal: streamed 1 GiB upload of unknown length: peak growth RSS ${mem.rss.toFixed(1)} MiB, ` +
        `ArrayBuffers ${mem.arrayBuffers.toFixed(1)} MiB (${(1024 / mem.seconds).toFixed(0)} MiB/s)`,
    );
  }
  if (failed.length > 0) {
    console.log(`\nnot measured:\n${failed.map((f) => `  ${f}`).join("\n")}`);
    process.exitCode = 1;
  }
}
