import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { testVolume } from "../conformance/volume.ts";

// The reference in-memory driver is held to the same suite as the real backends.
testVolume(
  "memory",
  async () => {
    const driver = new MemoryVolumeDriver("memory-test");
    const corruptAtRest = async (key: string) => {
      const stored = driver.objects.get(key)!;
      stored.bytes[0]! ^= 0xff;
    };
    return { driver, corruptAtRest, dispose: async () => {} };
  },
  { skip: { "memory-bounded": "an in-memory volume holds every body in memory by design" } },
);
