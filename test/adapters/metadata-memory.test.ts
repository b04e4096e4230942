import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { testMetadataStore } from "../conformance/metadata-store.ts";

testMetadataStore("memory", async () => {
  let now = 1_700_000_000_000;
  return {
    store: new MemoryMetadataStore({ clock: () => now }),
    advanceClock: (ms) => {
      now += ms;
    },
    dispose: async () => {},
  };
});
