import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { testNamespaceConcurrency } from "../conformance/namespace-concurrency.ts";

// One database file, one connection per client: separate clients of one embedded store.
testNamespaceConcurrency("sqlite", async (clients) => {
  const dir = await mkdtemp(join(tmpdir(), "strata-race-"));
  const path = join(dir, "metadata.db");
  const stores = Array.from({ length: clients }, () => new SqliteMetadataStore({ path }));
  return {
    stores,
    dispose: async () => {
      for (const s of stores) await s.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
