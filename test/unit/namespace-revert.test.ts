import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { testRevertByIdentity } from "../conformance/revert.ts";

testRevertByIdentity("memory", async () => ({ store: new MemoryMetadataStore(), dispose: async () => {} }));
