/**
 * The confinement tier of `npm run reliability` (issue 13; docs/reliability.md): random sequences
 * of a principal scoped to /a calling every registry operation with random paths (inside, outside,
 * through escaping / inside / chained / looping symlinks, with `..`, live and as of) between random
 * changes by an unscoped writer, on the memory store or SQLite. The property and its checks are
 * test/support/confinement.ts; an escape is a request that changed state outside /a or returned an
 * object or bytes from outside it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import { embeddedWorld, Rng, runSequence, scopedOps } from "../support/confinement.ts";

export interface ConfinementTally {
  sequences: number;
  requests: number;
  succeeded: number;
  /** Distinct registry operations the scoped principal called. */
  operations: number;
  escapes: number;
  failures: string[];
}

export async function runConfinement(options: {
  backend: "memory" | "sqlite";
  seed: number;
  runs: number;
  requests?: number;
}): Promise<ConfinementTally> {
  const rng = new Rng(options.seed);
  const tally: ConfinementTally = {
    sequences: 0,
    requests: 0,
    succeeded: 0,
    operations: 0,
    escapes: 0,
    failures: [],
  };
  const called = new Set<string>();
  const dir = options.backend === "sqlite" ? await mkdtemp(join(tmpdir(), "strata-confinement-")) : "";
  try {
    for (let i = 0; i < options.runs; i++) {
      const store: MetadataStore =
        options.backend === "sqlite"
          ? new SqliteMetadataStore({ path: join(dir, `s${i}.db`) })
          : new MemoryMetadataStore();
      try {
        const world = await embeddedWorld(store);
        const call = world.call;
        world.call = (principal, op, input, pfs) => {
          called.add(op);
          return call(principal, op, input, pfs);
        };
        const r = await runSequence(world, 1 + rng.int(2 ** 31 - 2), { requests: options.requests ?? 4 });
        tally.sequences++;
        tally.requests += r.requests;
        tally.succeeded += r.succeeded;
        if (r.escapes.length > 0) {
          tally.escapes++;
          tally.failures.push(`confinement escape:\n${r.escapes.join("\n")}`);
        }
      } finally {
        await store.close();
      }
    }
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
  tally.operations = called.size;
  return tally;
}

/** How many registry operations the tier may call (every one not awaiting another change). */
export const confinementOperations = () => scopedOps().length;
