import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { testIdempotentCommits } from "../conformance/idempotent-commits.ts";

testIdempotentCommits("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-idem-"));
  const store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
  return {
    store,
    dispose: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
