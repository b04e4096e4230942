/**
 * Chunk lifecycle under interleaving (issue 14): every chunk writer, with an applying vacuum (and a
 * second writer of the same bytes) injected at every await point of the writer — and the writer
 * injected at every await point of the vacuum — keeps every committed file's bytes, leaves fsck
 * clean, no `present` record without its object and no unreferenced object after two more
 * vacuums (harness and checks: test/support/interleaving.ts). Memory store here; SQLite and
 * DynamoDB Local in test/adapters/chunk-lifecycle-interleaving-*.test.ts.
 *
 * Counter-checks switch lifecycle rules off (UNSAFE_LIFECYCLE_SWITCHES, test-only) and assert
 * that some interleaving then fails.
 */
import { describe, expect, it } from "vitest";
import { UNSAFE_LIFECYCLE_SWITCHES } from "../../core/data/chunks.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { explore, SCENARIOS } from "../support/interleaving.ts";

const memory = () => new MemoryMetadataStore();

async function without<T>(
  rules: Array<keyof typeof UNSAFE_LIFECYCLE_SWITCHES>,
  body: () => Promise<T>,
): Promise<T> {
  for (const r of rules) UNSAFE_LIFECYCLE_SWITCHES[r] = true;
  try {
    return await body();
  } finally {
    for (const r of rules) UNSAFE_LIFECYCLE_SWITCHES[r] = false;
  }
}

const byName = (name: string) => SCENARIOS.find((s) => s.name === name)!;

describe("chunk lifecycle interleavings (memory store)", () => {
  for (const scenario of SCENARIOS)
    it(`${scenario.name}: a vacuum and a second writer at every await point lose no bytes`, async () => {
      const result = await explore(memory, scenario, { seeds: [0, 1, 2], vacuumSeeds: [1], vacuumStride: 2 });
      console.log(
        `${scenario.name}: ${result.points.writer} writer / ${result.points.vacuum} vacuum await points, ${result.runs} runs, ${result.failures.length} failing`,
      );
      expect(result.failures.slice(0, 3)).toEqual([]);
    }, 120_000);

  for (const [name, file] of [
    ["mirror apply", "copy:/a"],
    ["backup restore", "restored:/a"],
    ["mirror full resync", "copy:/a"],
    ["multi-master exchange", "mm:/a"],
    ["upload.commit", "main:/u"],
    ["data plane writeFile", "main:/w"],
  ] as const)
    it(`counter-check: without intents ${name} loses its file's bytes to a vacuum before its commit`, async () => {
      // Several failures: without intents the exchange also leaks the peer's first version's chunk
      // (the calibration run already fails on that).
      const result = await without(["noIntent"], () =>
        explore(memory, byName(name), { seeds: [0], vacuumSeeds: [], stopAfter: 20 }),
      );
      expect(result.failures.flatMap((f) => f.problems).join("\n")).toContain(`${file} unreadable`);
    }, 120_000);

  for (const [switchName, what] of [
    ["noDeploymentIntents", "when vacuum ignores deployment-wide intents"],
    ["noIntent", "without intents"],
  ] as const)
    it(`counter-check: ${what} scrub repair racing a vacuum leaves an object nobody references`, async () => {
      const result = await without([switchName], () =>
        explore(memory, byName("scrub repair"), {
          seeds: [0, 1, 2],
          vacuumSeeds: [1],
          vacuumStride: 2,
          stopAfter: 1,
        }),
      );
      expect(result.failures[0]?.problems.join("\n")).toMatch(/@w is left unreferenced after two vacuums/);
    }, 120_000);

  it("counter-check: without the record condition a placement commit whose intent lapsed records over vacuum's mark: `present` without its object", async () => {
    const result = await without(["noCondition"], () =>
      explore(memory, byName("placement commit after its intent lapsed"), {
        seeds: [],
        vacuumSeeds: [0],
        stopAfter: 1,
      }),
    );
    expect(result.failures[0]?.problems.join("\n")).toMatch(/@w is present without its object/);
  }, 120_000);

  it("counter-check: without confirmRecorded a placement commit whose intent lapsed records a copy vacuum already deleted", async () => {
    const result = await without(["noConfirm"], () =>
      explore(memory, byName("placement commit after its intent lapsed"), {
        seeds: [0],
        vacuumSeeds: [],
        stopAfter: 1,
      }),
    );
    expect(result.failures[0]?.problems.join("\n")).toMatch(/@w is present without its object/);
  }, 120_000);

  it("counter-check: without the check before its deferred records a data-plane write whose intent lapsed records `present` for an object vacuum deleted, and the next write of the same bytes is unreadable", async () => {
    const result = await without(["noRecordCheck"], () =>
      explore(memory, byName("data plane writeFile after its intent lapsed"), {
        seeds: [0],
        vacuumSeeds: [],
        stopAfter: 1,
      }),
    );
    const problems = result.failures[0]?.problems.join("\n") ?? "";
    console.log(`without the check (writer point ${result.failures[0]?.at}):\n${problems}`);
    expect(problems).toMatch(/@v is present without its object/);
    expect(problems).toMatch(/main:\/l unreadable: EIO/);
  }, 120_000);

  it("counter-check: an intent that forgets its lapse once a later announcement renewed it lets a data-plane write commit a chunk vacuum deleted", async () => {
    const result = await without(["forgetLapse"], () =>
      explore(memory, byName("data plane writeFile after its intent lapsed"), {
        seeds: [0],
        vacuumSeeds: [],
      }),
    );
    const problems = result.failures.flatMap((f) => f.problems).join("\n");
    expect(problems).toMatch(/the lapsed write should fail ETIMEDOUT, got success/);
    expect(problems).toMatch(/main:\/l unreadable: EIO/);
  }, 120_000);

  it("counter-check: a multi-master exchange that deletes its intent after the merge leaks the peer chunk no merged version references", async () => {
    const result = await without(["exchangeRemovesIntent"], () =>
      explore(memory, byName("multi-master exchange"), { seeds: [0], vacuumSeeds: [], stopAfter: 1 }),
    );
    expect(result.failures[0]?.problems.join("\n")).toMatch(/@v is left unreferenced after two vacuums/);
  }, 120_000);

  it("counter-check: without the lease wait and the record condition a stale `present` loses the bytes", async () => {
    const result = await without(["noLeaseWait", "noCondition"], () =>
      explore(memory, byName("data plane writeFile"), { seeds: [], vacuumSeeds: [1], stopAfter: 1 }),
    );
    expect(result.failures[0]?.problems.join("\n")).toMatch(/unreadable: EIO/);
  }, 120_000);

  it("counter-check: without the lease wait and the record condition a writer records over placement trim's mark and trim leaves `present` without its object", async () => {
    const result = await without(["noLeaseWait", "noCondition"], () =>
      explore(memory, byName("placement copy/commit/trim"), { seeds: [2], vacuumSeeds: [], stopAfter: 1 }),
    );
    expect(result.failures[0]?.problems.join("\n")).toMatch(/@v is present without its object/);
  }, 120_000);

  it("counter-check: without the lease wait a writer meeting placement trim's mark fails instead of waiting", async () => {
    const result = await without(["noLeaseWait"], () =>
      explore(memory, byName("placement copy/commit/trim"), { seeds: [2], vacuumSeeds: [], stopAfter: 1 }),
    );
    expect(result.failures[0]?.problems.join("\n")).toMatch(/second failed: .*keeps changing/);
  }, 120_000);

  it("counter-check: without the lease wait (the condition still on) writers meeting a mark fail instead of waiting", async () => {
    const result = await without(["noLeaseWait"], () =>
      explore(memory, byName("mirror apply"), { seeds: [], vacuumSeeds: [1], stopAfter: 1 }),
    );
    expect(result.failures[0]?.problems.join("\n")).toMatch(/keeps changing/);
  }, 120_000);
});
