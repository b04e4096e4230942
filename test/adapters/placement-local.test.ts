/** Placement on the embedded backends: SQLite metadata + four local-directory volumes. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { testPlacement } from "../conformance/placement.ts";

testPlacement("sqlite + four local volumes", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-placement-local-"));
  const store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
  const local = (name: string) => ({ kind: "local", config: { root: join(dir, "volumes", name) } });
  return {
    store,
    volumes: { local: local("local"), s3: local("s3"), azure: local("azure"), gcs: local("gcs") },
    async dispose() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
