import { describe, expect, it } from "vitest";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { MetadataStore, TransactOp } from "../../core/metadata/port.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { raceRound, testNamespaceConcurrency } from "../conformance/namespace-concurrency.ts";

// One in-memory store shared by every client: the engine instances race on its items.
testNamespaceConcurrency("memory", async (clients) => {
  const store = new MemoryMetadataStore();
  return { stores: Array.from({ length: clients }, () => store), dispose: async () => {} };
});

/** A store that forgets every condition: what the engine relies on to serialise racing clients. */
function conditionBlind(store: MetadataStore): MetadataStore {
  const strip = (op: TransactOp): TransactOp[] => {
    if (op.kind === "check") return [];
    const { condition: _dropped, ...rest } = op as TransactOp & { condition?: unknown };
    return [rest as TransactOp];
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === "transact") return (ops: TransactOp[]) => target.transact(ops.flatMap(strip));
      if (prop === "put" || prop === "update" || prop === "delete")
        return (a: never, b: never) =>
          (target[prop] as (x: never, y?: never) => Promise<unknown>).call(
            target,
            a,
            prop === "update" ? b : undefined,
          );
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("the namespace concurrency check itself", () => {
  it("fails when the store ignores conditions (racing clients then lose or duplicate entries)", async () => {
    const shared = new MemoryMetadataStore();
    const blind = conditionBlind(shared);
    const namespaces = [0, 1, 2].map(() => createNamespace({ store: blind }));
    await namespaces[0]!.createPfs("p");
    const error = await raceRound(
      namespaces.map((ns) => ns.pfs("p")),
      1121,
      60,
    ).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(String(error)).toMatch(/the tree after the race|both opposite moves/);
  });
});
