/**
 * `npm run bench -- placement`: the placement workflow on the local deployment's backends (SQLite
 * metadata, local-directory volumes "home" and "eu"), the in-process ASL runner and the change-feed
 * orchestrator — what `npm start` runs:
 *   - tag change → placed: `setTag` on a directory of F files (C chunks each), until every file is
 *     on the volume the tag names (feed polled every 50 ms, waitPlaced every 20 ms); median over flips home ↔ eu;
 *   - chunks copied per second by placement runs alone (no feed polling: every file enqueued at
 *     once, 4 runs at a time; copy + read-back verify + commit + trim) next to a raw
 *     volume-to-volume copy of the same chunks (getBytes + put, 4 at once) in the same run;
 *   - state transitions per placed file (Task invocations, retries included: Step Functions'
 *     billing unit; target ≤ 4).
 *
 * Env: STRATA_BENCH_FILES (default 20), STRATA_BENCH_CHUNKS (default 4, of 1 MiB), STRATA_BENCH_REPS (default 3).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeSha256 } from "../adapters/data/sha256.ts";
import { SqliteMetadataStore } from "../adapters/metadata/sqlite.ts";
import { chunkObjectKey } from "../core/data/chunk-items.ts";
import { createNamespace } from "../core/namespace/index.ts";
import { openPlacement } from "../runtime/services.ts";
import { median, pattern, seconds, table } from "./support.ts";

const MiB = 1024 * 1024;
const FILES = Number(process.env.STRATA_BENCH_FILES ?? 20);
const CHUNKS = Number(process.env.STRATA_BENCH_CHUNKS ?? 4);
const REPS = Number(process.env.STRATA_BENCH_REPS ?? 3);

export async function run(_args: string[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "strata-bench-placement-"));
  const store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
  const namespace = createNamespace({ store });
  await namespace.createPfs("bench");
  const fs = namespace.pfs("bench");
  const p = openPlacement({
    store,
    namespace,
    defaultVolume: "home",
    graceMs: 0,
    data: { chunkSize: MiB, sha256: nodeSha256 },
  });
  try {
    await p.volumes.add({ name: "home", kind: "local", config: { root: join(dir, "home") }, site: "home" });
    await p.volumes.add({ name: "eu", kind: "local", config: { root: join(dir, "eu") }, site: "eu" });
    await fs.mkdir("/shot", { recursive: true });
    for (let i = 0; i < FILES; i++) await p.data.writeFile(fs, `/shot/f${i}`, pattern(CHUNKS * MiB, i + 1));
    await p.placement.setObjectives("bench", "/", "when tag:site place 1 on site:$tag:site");
    p.orchestrator.start({ pollMs: 50 });

    const latencies: number[] = [];
    const sites = ["eu", "home"];
    for (let rep = 0; rep < 2 * REPS; rep++) {
      const site = sites[rep % 2]!;
      const runsBefore = p.orchestrator.stats.runs;
      latencies.push(
        await seconds(async () => {
          await fs.setTag("/shot", "site", site);
          await p.placement.waitPlaced("bench", "/shot", { timeoutMs: 600_000, pollMs: 20 });
        }),
      );
      await p.orchestrator.idle();
      if (p.orchestrator.stats.runs - runsBefore < FILES)
        throw new Error("not every file was placed by a run");
    }
    // Throughput without the feed poller and waitPlaced polling: the workflow runs alone (4 at once).
    await p.orchestrator.stop();
    const copyRates: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      await fs.setTag("/shot", "site", sites[rep % 2]!);
      const s = await seconds(async () => {
        await p.orchestrator.enqueue("bench", "/shot");
        await p.orchestrator.idle();
      });
      const st = await p.placement.status("bench", "/shot");
      if (!st.placed) throw new Error("the throughput pass did not place every file");
      copyRates.push((FILES * CHUNKS) / s);
    }
    const transitionsPerFile = p.orchestrator.stats.transitions / p.orchestrator.stats.runs;

    // Raw baseline: the same number of chunks copied volume to volume with no metadata at all.
    // From whichever volume holds the chunks now, to the other one.
    let from = await p.registry.volume("home");
    let to = await p.registry.volume("eu");
    const keys: string[] = [];
    for await (const page of from.listAll("chunks/")) keys.push(...page.map((e) => e.key));
    if (keys.length === 0) {
      [from, to] = [to, from];
      for await (const page of from.listAll("chunks/")) keys.push(...page.map((e) => e.key));
    }
    const rawRates: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const s = await seconds(async () => {
        let next = 0;
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            while (next < keys.length) {
              const key = keys[next++]!;
              const bytes = await from.getBytes(key);
              await to.put(`raw-${rep}/${key}`, bytes);
            }
          }),
        );
      });
      rawRates.push(keys.length / s);
    }

    console.log(
      `placement: ${FILES} files × ${CHUNKS} chunks of 1 MiB, SQLite + 2 local volumes, in-process ASL runner, grace 0`,
    );
    const rows = [
      ["metric", "strata", "raw", "ratio", "target"],
      ["tag change → placed (s, median)", median(latencies).toFixed(3), "", "", ""],
      [
        "chunks copied /s (median)",
        median(copyRates).toFixed(1),
        median(rawRates).toFixed(1),
        (median(copyRates) / median(rawRates)).toFixed(2),
        "",
      ],
      ["state transitions per placed file", transitionsPerFile.toFixed(2), "", "", "≤ 4"],
    ];
    console.log(table(rows, new Set([0])));
    console.log(
      `(${p.orchestrator.stats.runs} workflow runs, ${p.orchestrator.stats.failed} failed; raw = getBytes + put per chunk, 4 at once; chunk key e.g. ${chunkObjectKey("ab".repeat(32))})`,
    );
  } finally {
    await p.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}
