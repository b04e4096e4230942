import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { testMirror } from "../conformance/mirror.ts";

testMirror("memory", async () => {
  const store = new MemoryMetadataStore();
  return { store, dispose: () => store.close() };
});
