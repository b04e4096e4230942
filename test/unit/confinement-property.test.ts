/**
 * Confinement (issue 13): a principal scoped to /a never reads or changes anything outside the
 * subtree /a names at that moment, whatever the tree does — proven by the property in
 * test/support/confinement.ts over every registry operation, live and as of, on the memory store
 * and on SQLite, and shown to fail when confinement is switched off. (Over HTTP:
 * test/e2e/confinement-http.test.ts.)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import { embeddedWorld, runSequence } from "../support/confinement.ts";

const SEQUENCES = Number(process.env.STRATA_CONFINEMENT_SEQUENCES ?? 2000);
/** Scoped requests per sequence (each after 0–2 random changes by the unscoped writer). */
const REQUESTS = 4;

async function property(store: () => Promise<MetadataStore>, numRuns: number) {
  let requests = 0;
  let succeeded = 0;
  const cpu = process.cpuUsage();
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
      const s = await store();
      const world = await embeddedWorld(s);
      try {
        const r = await runSequence(world, seed, { requests: REQUESTS });
        requests += r.requests;
        succeeded += r.succeeded;
        expect(r.escapes).toEqual([]);
      } finally {
        await s.close();
      }
    }),
    { seed: 13, numRuns, endOnFailure: true },
  );
  const used = process.cpuUsage(cpu);
  console.log(
    `confinement: ${numRuns} sequences, ${requests} scoped requests (${succeeded} succeeded), 0 escapes; ${Math.round((used.user + used.system) / 1000)} ms CPU`,
  );
  // The property must have exercised successes, not only refusals.
  expect(succeeded).toBeGreaterThan(requests / 10);
}

describe("confinement property", () => {
  it(`a scoped principal never reads or changes outside its prefix (${SEQUENCES} sequences, memory store)`, async () => {
    await property(async () => new MemoryMetadataStore(), SEQUENCES);
  }, 600_000);

  it("the same on SQLite (100 sequences)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "strata-confinement-"));
    let n = 0;
    try {
      await property(async () => new SqliteMetadataStore({ path: join(dir, `m${n++}.db`) }), 100);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it("counter-check: with confinement switched off the property finds an escape", async () => {
    let found: string[] = [];
    for (let seed = 1; seed <= 200 && found.length === 0; seed++) {
      const world = await embeddedWorld(new MemoryMetadataStore(), { unconfined: true });
      found = (await runSequence(world, seed, { requests: REQUESTS })).escapes;
    }
    expect(found.length).toBeGreaterThan(0);
  }, 120_000);
});
