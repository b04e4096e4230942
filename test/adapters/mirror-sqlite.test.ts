import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { testMirror } from "../conformance/mirror.ts";

testMirror("sqlite", async () => {
  const store = new SqliteMetadataStore({ path: ":memory:" });
  return { store, dispose: () => store.close() };
});
