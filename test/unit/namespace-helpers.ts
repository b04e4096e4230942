import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import { type CreateNamespaceParams, createNamespace } from "../../core/namespace/index.ts";

/** A manual clock: `tick(ms)` moves it; tests never depend on real time. */
export function manualClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return {
    now: () => now,
    tick: (ms = 1) => {
      now += ms;
    },
    set: (ms: number) => {
      now = ms;
    },
  };
}

/** A deterministic PRNG (mulberry32) for shard choice and jitter. */
export function seeded(seed = 1): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function setup(options: Partial<CreateNamespaceParams> & { store?: MetadataStore } = {}) {
  const store = options.store ?? new MemoryMetadataStore();
  const clock = manualClock();
  const ns = createNamespace({
    clock: clock.now,
    random: seeded(7),
    ...options,
    store,
    options: { sleep: async () => {}, ...options.options },
  });
  await ns.createPfs("main");
  const fs = ns.pfs("main");
  return { store, clock, ns, fs };
}

export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return "ok";
}
