import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { testNamespaceAgainstModel } from "../conformance/namespace-model.ts";

// A private in-memory SQLite database per sequence: the same adapter code as a file, no disk churn.
testNamespaceAgainstModel(
  "sqlite",
  async () => {
    const store = new SqliteMetadataStore({ path: ":memory:" });
    return { store, dispose: () => store.close() };
  },
  { runs: 1000 },
);
