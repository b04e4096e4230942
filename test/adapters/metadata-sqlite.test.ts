import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { testMetadataStore } from "../conformance/metadata-store.ts";

testMetadataStore("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-sqlite-"));
  const path = join(dir, "metadata.db");
  const store = new SqliteMetadataStore({ path });
  return {
    store,
    reopen: async () => new SqliteMetadataStore({ path }),
    dispose: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
