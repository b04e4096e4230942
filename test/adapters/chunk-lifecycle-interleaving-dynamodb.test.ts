/**
 * The chunk lifecycle interleavings (test/support/interleaving.ts) on DynamoDB Local, smaller:
 * every await point of the data plane's writeFile and of the mirror apply (a vacuum, then a second
 * writer), every 40th of the vacuum. A table per run (DynamoDB Local: seconds per run).
 */
import { describe, expect, it } from "vitest";
import type { MetadataStore } from "../../core/metadata/port.ts";
import { freshDynamoDbStore } from "../support/dynamodb.ts";
import { explore, SCENARIOS } from "../support/interleaving.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

describe("chunk lifecycle interleavings (DynamoDB Local)", () => {
  const disposers: Array<() => Promise<void>> = [];
  const dynamo = async (): Promise<MetadataStore> => {
    const table = await freshDynamoDbStore(endpoint!, "strata-lifecycle");
    disposers.push(() => table.dispose());
    // The harness closes the store after a run; the table is deleted at the end of the test.
    return new Proxy(table.store, {
      get: (t, prop, r) => (prop === "close" ? undefined : Reflect.get(t, prop, r)),
    }) as MetadataStore;
  };
  for (const scenario of SCENARIOS.filter((s) => ["data plane writeFile", "mirror apply"].includes(s.name)))
    it(`${scenario.name}: a vacuum and a second writer at every await point lose no bytes`, async (ctx) => {
      if (!endpoint) {
        console.info(
          "[chunk-lifecycle-dynamodb] skipped: the dynamodb stand-in was not started (STRATA_STANDINS)",
        );
        ctx.skip();
        return;
      }
      try {
        const result = await explore(dynamo, scenario, { seeds: [1], vacuumSeeds: [1], vacuumStride: 40 });
        console.log(
          `dynamodb ${scenario.name}: ${result.points.writer} writer / ${result.points.vacuum} vacuum await points, ${result.runs} runs, ${result.failures.length} failing`,
        );
        expect(result.failures.slice(0, 3)).toEqual([]);
      } finally {
        for (const d of disposers.splice(0)) await d().catch(() => {});
      }
    }, 400_000);
});
