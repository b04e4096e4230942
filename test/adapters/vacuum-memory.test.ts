import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { testVacuumProperty } from "../conformance/vacuum.ts";

testVacuumProperty("memory", async () => ({ store: new MemoryMetadataStore(), dispose: async () => {} }), {
  runs: 25,
});
