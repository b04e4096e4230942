import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { testNamespaceEngine } from "../conformance/namespace-engine.ts";

testNamespaceEngine("sqlite", async () => {
  const store = new SqliteMetadataStore({ path: ":memory:" });
  return { store, dispose: () => store.close() };
});
