import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { corruptLocalObject, LocalVolumeDriver } from "../../adapters/volumes/local.ts";
import { testScrub } from "../conformance/scrub.ts";

testScrub("sqlite + local volumes", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-scrub-local-"));
  const store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
  const a = new LocalVolumeDriver({ name: "a", root: join(dir, "a") });
  const b = new LocalVolumeDriver({ name: "b", root: join(dir, "b") });
  return {
    store,
    drivers: { a, b },
    corruptAtRest: (volume, key) => corruptLocalObject(volume === "a" ? a : b, key, 100),
    async dispose() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
