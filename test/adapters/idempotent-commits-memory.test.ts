import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { testIdempotentCommits } from "../conformance/idempotent-commits.ts";

testIdempotentCommits("memory", async () => ({ store: new MemoryMetadataStore(), dispose: async () => {} }));
