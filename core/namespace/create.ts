/**
 * `createNamespace`: the engine (core/namespace/engine.ts) wired with core/retention's floor and
 * TID leases — the one place the namespace meets retention, so the engine does not import it.
 */
import type { MetadataStore } from "../metadata/port.ts";
import { LEASE_TTL_MS, takeLease } from "../retention/lease.ts";
import { isComplete } from "../retention/policy.ts";
import { RetentionFloor, readWatermark } from "../retention/store.ts";
import type { Namespace } from "./api.ts";
import { type CreateNamespaceParams, Engine } from "./engine.ts";
import type { HistoryFloor } from "./kernel.ts";

export function createNamespace(params: CreateNamespaceParams): Namespace {
  return new Engine({ ...params, history: retentionFloor });
}

/** core/retention as the engine's {@link HistoryFloor}: the cached watermark, leases, a fresh check. */
export function retentionFloor(store: MetadataStore, clock: () => number): HistoryFloor {
  const floor = new RetentionFloor(store, clock);
  return {
    leaseTtlMs: LEASE_TTL_MS,
    snap: (pfs, tid) => floor.snap(pfs, tid),
    forget: (pfsId) => floor.forget(pfsId),
    lease: (ctx, tid, ttlMs) => takeLease(store, ctx, tid, { clock, ttlMs }),
    isComplete: async (pfsId, tid) => isComplete(await readWatermark(store, pfsId), tid),
  };
}
