import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { testNamespaceAgainstModel } from "../conformance/namespace-model.ts";

testNamespaceAgainstModel(
  "memory",
  async () => ({ store: new MemoryMetadataStore(), dispose: async () => {} }),
  {
    runs: 1000,
    // Another seed than SQLite's, so the two runs in `npm test` cover different sequences.
    seed: 1121,
  },
);
