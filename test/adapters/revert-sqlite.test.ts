import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { testRevertByIdentity } from "../conformance/revert.ts";

testRevertByIdentity("sqlite", async () => {
  const store = new SqliteMetadataStore({ path: ":memory:" });
  return { store, dispose: () => store.close() };
});
