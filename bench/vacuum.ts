/**
 * `npm run bench -- vacuum [files]`: vacuum on the embedded backends (SQLite temp file + a local
 * directory volume), on a fake clock so retention's windows pass instantly.
 *
 * 1. A PFS of `files` small files (one chunk each, default 3,000), every file overwritten once,
 *    policy `all 1h`, two hours later: one applying vacuum removes every first version and its
 *    chunk — records/s and chunks/s (objects deleted on the volume, instance records removed).
 * 2. A second vacuum right after (no garbage left, no commits since): its requests by kind, and
 *    query pages per 1,000 namespace records of the PFS (target ≤ 1: cost ∝ garbage, not size).
 * 3. The first-ever vacuum's index pass is part of (1): it reads the change index once and every
 *    new version once (BatchGetItem) to build the chunk-reference index; shown separately.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeSha256 } from "../adapters/data/sha256.ts";
import { SqliteMetadataStore } from "../adapters/metadata/sqlite.ts";
import { LocalVolumeDriver } from "../adapters/volumes/local.ts";
import { createDataPlane } from "../core/data/plane.ts";
import { vacuum } from "../core/maintenance/vacuum.ts";
import type { RequestCounts } from "../core/metadata/port.ts";
import { createNamespace } from "../core/namespace/index.ts";
import { setRetention } from "../core/retention/store.ts";
import { fixedRegistry } from "../core/volume/registry.ts";
import { Volume } from "../core/volume/volume.ts";
import { pattern, table } from "./support.ts";

const HOUR = 3600_000;

function used(c: RequestCounts): string {
  return Object.entries(c)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
}

export async function run(args: string[]): Promise<void> {
  const files = Number(args[0] ?? process.env.STRATA_BENCH_FILES ?? 3000);
  const dir = await mkdtemp(join(tmpdir(), "strata-bench-vacuum-"));
  try {
    const store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
    const volume = new Volume(new LocalVolumeDriver({ name: "local", root: join(dir, "local") }));
    let now = Date.UTC(2026, 0, 5, 12);
    const clock = () => now;
    const ns = createNamespace({ store, clock });
    const data = createDataPlane({
      store,
      volumes: { local: volume },
      defaultVolume: "local",
      inlineThreshold: 0,
      sha256: nodeSha256,
      clock,
    });
    await ns.createPfs("bench");
    const fs = ns.pfs("bench");
    console.log(`building: ${files} files of 512 bytes (one chunk each), each overwritten once …`);
    const t0 = performance.now();
    for (let i = 0; i < files; i++) await data.writeFile(fs, `/f${i}`, pattern(512, i));
    for (let i = 0; i < files; i++) await data.writeFile(fs, `/f${i}`, pattern(512, files + i));
    console.log(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await setRetention(store, "bench", "all 1h", clock);
    now += 2 * HOUR;
    const params = {
      store,
      namespace: ns,
      volumes: fixedRegistry({ local: volume }),
      clock,
      sleep: async (ms: number) => {
        now += ms;
      },
    };

    store.resetRequestCounts();
    const t1 = performance.now();
    const first = await vacuum({ ...params, apply: true });
    const firstSeconds = (performance.now() - t1) / 1000;
    const firstCounts = store.requestCounts();
    if (!first.complete || first.aborted) throw new Error(`vacuum did not finish: ${JSON.stringify(first)}`);

    store.resetRequestCounts();
    const second = await vacuum({ ...params, apply: true });
    const secondCounts = store.requestCounts();
    // Namespace records left: per file one live version, one live entry and one entry-history record.
    const records = files * 3 + 2;
    const queries = secondCounts.Query;
    console.log(
      table(
        [
          ["run", "records removed", "chunks removed", "seconds", "records/s", "chunks/s", "requests"],
          [
            "vacuum (garbage: 1st versions)",
            String(first.records.count),
            String(first.chunks.count),
            firstSeconds.toFixed(2),
            (first.records.count / firstSeconds).toFixed(0),
            (first.chunks.count / firstSeconds).toFixed(0),
            used(firstCounts),
          ],
          [
            "vacuum again (no garbage)",
            String(second.records.count),
            String(second.chunks.count),
            "",
            "",
            "",
            used(secondCounts),
          ],
        ],
        new Set([0, 6]),
      ),
    );
    console.log(
      `no-garbage vacuum over ${records} records: ${queries} query pages = ${((queries * 1000) / records).toFixed(3)} per 1,000 records (target ≤ 1); ${Object.values(secondCounts).reduce((a, b) => a + b, 0)} requests in all`,
    );
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
