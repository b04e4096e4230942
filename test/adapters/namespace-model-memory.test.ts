import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { testNamespaceAgainstModel } from "../conformance/namespace-model.ts";

testNamespaceAgainstModel(
  "memory",
  async () => ({ store: new MemoryMetadataStore(), dispose: async () => {} }),
  {
    // The 1,000-sequence tier of `npm test` runs on SQLite; this one adds other sequences cheaply.
    runs: 300,
    // Another seed than SQLite's, so the two runs in `npm test` cover different sequences.
    seed: 1121,
  },
);
