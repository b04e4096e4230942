import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { testMetadataStore } from "../conformance/metadata-store.ts";

testMetadataStore("memory", async () => ({ store: new MemoryMetadataStore(), dispose: async () => {} }));
