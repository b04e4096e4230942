/**
 * Jobs: a placement sweep started as a job runs as a chain of executions, one page each, every
 * one counted against Step Functions' limits; its record shows the counts and can be listed,
 * watched and cancelled. The 100,000-file sweep is the issue's proof (metadata only: the files
 * share two chunks, so only the walk and the records are big).
 */
import { describe, expect, it } from "vitest";
import { LocalSweepRunner } from "../../adapters/workflows/local.ts";
import { isStrataError } from "../../core/errors.ts";
import type { FileContent } from "../../core/namespace/api.ts";
import { type Deployment, deployment, fileOfChunks } from "./workflow-helpers.ts";

/** `dirs` directories of `per` files each, all with `content` (by reference), in batches. */
async function manyFiles(d: Deployment, prefix: string, dirs: number, per: number, content: FileContent) {
  for (let i = 0; i < dirs; i++) {
    const dir = `${prefix}${String(i).padStart(3, "0")}`;
    await d.fs.mkdir(dir);
    for (let at = 0; at < per; at += 30) {
      const ops = [];
      for (let j = at; j < Math.min(per, at + 30); j++)
        ops.push({
          op: "create" as const,
          path: `${dir}/f${String(j).padStart(4, "0")}`,
          options: { content },
        });
      await d.fs.batch(ops);
    }
  }
}

describe("jobs: the placement sweep", () => {
  it("a sweep of 100,000 files (1,000 to place) is a chain of executions, every one under 25,000 events and 256 KiB", async () => {
    const d = await deployment({});
    // 99,000 files already where they belong (one shared chunk on the default volume), and
    // 1,000 files of a chunk each under an objective that moves them to `eu`.
    const cold = await fileOfChunks(d, "/template", 1, 0);
    await manyFiles(d, "/d", 99, 1000, cold);
    await d.fs.unlink("/template");
    await d.fs.mkdir("/hot000");
    for (let i = 0; i < 1000; i++) await fileOfChunks(d, `/hot000/f${String(i).padStart(4, "0")}`, 1, i + 1);
    await d.p.placement.setObjectives("main", "/hot000", "place 1 on site:eu");
    const started = await d.p.jobs.start("placement.sweep", { pfs: "main", limit: 100, scan: 1000 });
    expect(started).toMatchObject({ kind: "placement.sweep", status: "running", executions: 1 });
    const job = await d.p.jobs.wait(started.id, { timeoutMs: 3_600_000, pollMs: 50 });
    console.info(
      `sweep of 100,000 files: ${job.executions} executions, at most ${job.maxEvents} history events and ${job.maxStateBytes} bytes of state in one; counts ${JSON.stringify(job.counts)}`,
    );
    expect(job).toMatchObject({ status: "succeeded", counts: { scanned: 100_000, placed: 1000 } });
    expect(job.executions).toBeGreaterThanOrEqual(100);
    expect(job.maxEvents).toBeLessThan(25_000);
    expect(job.maxStateBytes).toBeLessThan(256 * 1024);
    expect(job.cursor).toBeUndefined();
    const st = await d.p.placement.status("main", "/hot000");
    expect(st.placed).toBe(true);
    expect(st.files.every((f) => f.desired.join() === "eu")).toBe(true);
    expect((await d.p.jobs.list()).jobs.map((j) => j.id)).toEqual([started.id]);
    await d.p.close();
  }, 900_000);

  it("counter-check: the same placements in ONE execution (no pages) pass 25,000 history events and fail E2BIG", async () => {
    const d = await deployment({});
    const hot = await fileOfChunks(d, "/hot-template", 1, 1);
    await manyFiles(d, "/hot", 1, 1000, hot);
    await d.fs.unlink("/hot-template");
    await d.p.placement.setObjectives("main", "/hot000", "place 1 on site:eu");
    const runner = new LocalSweepRunner({ placement: d.p.placement, retryIntervalMs: 1 });
    const err = await runner.run({ limit: 1_000_000, scan: 1_000_000 }).catch((e: unknown) => e);
    expect(isStrataError(err, "E2BIG") && err.details).toMatchObject({
      limit: "history-events",
      max: 25_000,
    });
    await d.p.close();
  }, 600_000);

  it("a cancelled job starts no further page; its record says cancelled; a finished job stays as it was", async () => {
    const d = await deployment({});
    const hot = await fileOfChunks(d, "/hot-template", 1, 1);
    await manyFiles(d, "/hot", 1, 200, hot);
    await d.p.placement.setObjectives("main", "/hot000", "place 1 on site:eu");
    // One file per page: 200 pages. Cancel right after the start.
    const started = await d.p.jobs.start("placement.sweep", { pfs: "main", limit: 1, scan: 1 });
    const cancelled = await d.p.jobs.cancel(started.id);
    expect(cancelled.status).toBe("cancelled");
    const after = await d.p.jobs.wait(started.id, { timeoutMs: 1000 });
    expect(after.status).toBe("cancelled");
    await d.p.close(); // waits for the chain to end
    const final = await d.p.jobs.get(started.id);
    expect(final.executions).toBeLessThan(200);
    expect((await d.p.placement.status("main", "/hot000")).placed).toBe(false);
    // Cancelling again, or a finished job, changes nothing.
    expect((await d.p.jobs.cancel(started.id)).status).toBe("cancelled");
    expect(isStrataError(await d.p.jobs.get("nope").catch((e: unknown) => e), "EINVAL")).toBe(true);
  }, 120_000);
});
