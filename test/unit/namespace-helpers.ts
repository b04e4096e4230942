import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import { type CreateNamespaceParams, createNamespace } from "../../core/namespace/index.ts";
import { mulberry32 } from "../../core/random.ts";

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

export async function setup(options: Partial<CreateNamespaceParams> & { store?: MetadataStore } = {}) {
  const store = options.store ?? new MemoryMetadataStore();
  const clock = manualClock();
  const ns = createNamespace({
    clock: clock.now,
    random: mulberry32(7),
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
