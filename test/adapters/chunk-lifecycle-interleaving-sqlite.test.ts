/**
 * The chunk lifecycle interleavings (test/support/interleaving.ts) on the SQLite MetadataStore
 * (in-memory databases: the adapter's conditions and transactions, without an fsync per write):
 * every await point of each writer, every 6th of the vacuum.
 */
import { describe, expect, it } from "vitest";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { explore, SCENARIOS } from "../support/interleaving.ts";

const sqlite = () => new SqliteMetadataStore({ path: ":memory:" });

describe("chunk lifecycle interleavings (SQLite)", () => {
  for (const scenario of SCENARIOS)
    it(`${scenario.name}: a vacuum and a second writer at every await point lose no bytes`, async () => {
      const result = await explore(sqlite, scenario, { seeds: [1, 2], vacuumSeeds: [1], vacuumStride: 6 });
      console.log(
        `sqlite ${scenario.name}: ${result.points.writer} writer / ${result.points.vacuum} vacuum await points, ${result.runs} runs, ${result.failures.length} failing`,
      );
      expect(result.failures.slice(0, 3)).toEqual([]);
    });
});
