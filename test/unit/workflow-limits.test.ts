/**
 * The Step Functions half of the limits harness: the local runner counts every execution's
 * history events as AWS records them and measures every state, and a run past 25,000 events or
 * 256 KiB fails with E2BIG. Placement stays inside both by paging: a file's chunks a page per
 * Copy/Verify/Commit round, a sweep a page per execution. Each proof has its counter-check: the
 * paging switched off, the same work passes the limit.
 */
import { describe, expect, it } from "vitest";
import { LocalWorkflowRunner } from "../../adapters/workflows/local.ts";
import { isStrataError } from "../../core/errors.ts";
import { placementWorkflow } from "../../core/workflows/placement.ts";
import { deployment, fileOfChunks } from "./workflow-helpers.ts";

describe("history events and state sizes, counted as Step Functions records them", () => {
  it("a one-page file's placement is 28 events: 2 execution + 4 Lambda tasks × 5 + 3 choice/succeed states × 2", async () => {
    const d = await deployment({});
    await fileOfChunks(d, "/f", 3);
    await d.p.placement.setObjectives("main", "/", "place 1 on site:eu");
    const run = await d.p.runner.run({ pfs: "main", path: "/f" });
    expect(run.status).toBe("succeeded");
    expect(run.transitions).toBe(4);
    expect(run.events).toBe(28);
    expect(run.maxStateBytes).toBeGreaterThan(100);
    await d.p.close();
  });

  it("a run past the event limit, or past the state limit, fails with E2BIG naming the limit", async () => {
    const d = await deployment({});
    await fileOfChunks(d, "/f", 3);
    await d.p.placement.setObjectives("main", "/", "place 1 on site:eu");
    const tight = (limits: { maxEvents: number; maxStateBytes: number }) =>
      new LocalWorkflowRunner(placementWorkflow({ graceSeconds: 0 }), {
        placement: d.p.placement,
        retryIntervalMs: 1,
        limits,
      }).run({ pfs: "main", path: "/f" });
    const events = await tight({ maxEvents: 20, maxStateBytes: 256 * 1024 }).catch((e: unknown) => e);
    expect(isStrataError(events, "E2BIG") && events.details).toMatchObject({
      limit: "history-events",
      max: 20,
    });
    const bytes = await tight({ maxEvents: 25_000, maxStateBytes: 300 }).catch((e: unknown) => e);
    expect(isStrataError(bytes, "E2BIG") && bytes.details).toMatchObject({ limit: "state-size", max: 300 });
    await d.p.close();
  });
});

describe("placement within Step Functions' limits", () => {
  // 1,000 distinct chunks, each placed on 3 volumes: the largest placement state a file can make
  // (the extent cap; a 20 GB file at 20 MiB chunks), ~300 KB of JSON if carried whole.
  const CHUNKS = 1000;
  const THREE = "place 3 on site:eu";

  it(`a file of ${CHUNKS} distinct chunks (a 20 GB file at 20 MiB) placed on 3 volumes a page at a time: every state far below 256 KiB`, async () => {
    const d = await deployment({});
    await fileOfChunks(d, "/big", CHUNKS);
    await d.p.placement.setObjectives("main", "/", THREE);
    const run = await d.p.runner.run({ pfs: "main", path: "/big" });
    console.info(
      `placement of ${CHUNKS} chunks: ${run.events} history events, largest state ${run.maxStateBytes} bytes, ${run.transitions} task transitions`,
    );
    expect(run.status).toBe("succeeded");
    expect(run.events).toBeLessThan(25_000);
    expect(run.maxStateBytes).toBeLessThan(64 * 1024);
    const st = (await d.p.placement.status("main", "/big")).files[0]!;
    expect(st).toMatchObject({
      status: "placed",
      chunks: CHUNKS,
      missing: 0,
      actual: { eu: CHUNKS, eu2: CHUNKS, eu3: CHUNKS },
    });
    expect(st.actual.home).toBeUndefined(); // trimmed, page by page
    await d.p.close();
  }, 120_000);

  it("counter-check: the same file with its chunk list carried whole (no pages) passes 256 KiB and fails E2BIG", async () => {
    const d = await deployment({ chunkPage: 1_000_000 });
    await fileOfChunks(d, "/big", CHUNKS);
    await d.p.placement.setObjectives("main", "/", THREE);
    const err = await d.p.runner.run({ pfs: "main", path: "/big" }).catch((e: unknown) => e);
    expect(isStrataError(err, "E2BIG") && err.details).toMatchObject({ limit: "state-size" });
    await d.p.close();
  }, 120_000);
});
