/**
 * Confinement (issue 13): a principal scoped to /a never reads or changes anything outside the
 * subtree /a names at that moment, whatever the tree does — proven by the property in
 * test/support/confinement.ts over every registry operation, live and as of, and shown to fail
 * when confinement is switched off.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { embeddedWorld, runSequence } from "../support/confinement.ts";

const SEQUENCES = Number(process.env.STRATA_CONFINEMENT_SEQUENCES ?? 2000);
const REQUESTS = 5;

describe("confinement property", () => {
  it(`a scoped principal never reads or changes outside its prefix (${SEQUENCES} sequences, memory store)`, async () => {
    let requests = 0;
    let succeeded = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        const world = await embeddedWorld(new MemoryMetadataStore());
        try {
          const r = await runSequence(world, seed, { requests: REQUESTS });
          requests += r.requests;
          succeeded += r.succeeded;
          expect(r.escapes).toEqual([]);
        } finally {
          await world.close();
        }
      }),
      { seed: 13, numRuns: SEQUENCES, endOnFailure: true },
    );
    // The property must have exercised successes, not only refusals.
    expect(succeeded).toBeGreaterThan(requests / 10);
  }, 300_000);

  it("counter-check: with confinement switched off the property finds an escape", async () => {
    let found: string[] = [];
    for (let seed = 1; seed <= 200 && found.length === 0; seed++) {
      const world = await embeddedWorld(new MemoryMetadataStore(), { unconfined: true });
      try {
        found = (await runSequence(world, seed, { requests: REQUESTS })).escapes;
      } finally {
        await world.close();
      }
    }
    expect(found.length).toBeGreaterThan(0);
  }, 120_000);
});
