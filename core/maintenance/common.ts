/**
 * Shared by vacuum, scrub and fsck: item keys of the maintenance bookkeeping, paging and the time
 * box. Volumes come from the one registry (core/volume/registry.ts), asked at each step.
 *
 * | pk                 | sk                         | what                                              |
 * |--------------------|----------------------------|---------------------------------------------------|
 * | `vac#<pfs id>`     | `state`                    | vacuum's change-index cursor per shard (`cursors`) |
 * | `vq#<pfs id>`      | `<dtid>#<pk>#<sk>`         | an ended record waiting for retention (`kind`, `ctid`, `dtid`, `rpk`, `rsk`) |
 * | `cref#<sha256>`    | `<pfs id>#<ino>`           | some not-yet-vacuumed version of that inode references the chunk |
 * | `rchk#<pfs id>`    | `<ino>#<sha256>`           | a pruned version's chunk: re-check that inode's cref |
 * | `gcq`              | `<sha256>`                 | a chunk that lost a reference: checked by the next chunk GC |
 * | `maint`            | `scrub`                    | the scrub's resumable cursor                       |
 */
import type { Item, Key, MetadataStore, QueryOptions } from "../metadata/port.ts";
import { historyPk, REGISTRY_PK } from "../namespace/records.ts";

export const vacuumStateKey = (pfsId: string): Key => ({ pk: `vac#${pfsId}`, sk: "state" });
export const queuePk = (pfsId: string) => `vq#${pfsId}`;
export const crefPk = (sha: string) => `cref#${sha}`;
/** Chunk references to re-check after a pruned version (written before the version is deleted). */
export const refCheckPk = (pfsId: string) => `rchk#${pfsId}`;
export const crefKey = (sha: string, pfsId: string, ino: string): Key => ({
  pk: crefPk(sha),
  sk: `${pfsId}#${ino}`,
});
export const GCQ_PK = "gcq";
export const gcqKey = (sha: string): Key => ({ pk: GCQ_PK, sk: sha });
export const scrubStateKey: Key = { pk: "maint", sk: "scrub" };

/** Every item of a partition (any read error propagates: callers abort on it). */
export async function queryAll(
  store: MetadataStore,
  pk: string,
  options: QueryOptions = {},
): Promise<Item[]> {
  const out: Item[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.query(pk, { ...options, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return out;
}

/** Pages of a partition, lazily. */
export async function* queryPages(
  store: MetadataStore,
  pk: string,
  options: QueryOptions = {},
): AsyncGenerator<Item[]> {
  let cursor: string | undefined;
  do {
    const page = await store.query(pk, { ...options, ...(cursor ? { cursor } : {}) });
    yield page.items;
    cursor = page.cursor;
  } while (cursor);
}

export class TimeBox {
  start: number;
  constructor(
    private readonly clock: () => number,
    private readonly budgetMs: number,
  ) {
    this.start = clock();
  }
  get over(): boolean {
    return this.clock() - this.start >= this.budgetMs;
  }
  /** Do not count a deliberate wait (e.g. vacuum's reader grace) against the budget. */
  extend(ms: number): void {
    this.start += ms;
  }
}

/** An inode met by {@link walkInodes}: its PFS, id, and a path it had (the name its entry history gave). */
export interface WalkedInode {
  pfs: string;
  pfsId: string;
  ino: string;
  path: string;
}

/**
 * Every non-directory inode of each PFS (or of `only`), found by walking the tree from the root
 * through the directory entry history, so files deleted or renamed since (whose versions vacuum has
 * not pruned yet) are met too, under a name they had. Costs one Query per directory page; order is
 * stable while nothing changes (PFS by name, then a depth-first walk). Records are not CRC-checked
 * here (fsck does that).
 */
export async function* walkInodes(store: MetadataStore, only?: string[]): AsyncGenerator<WalkedInode> {
  for (const reg of await queryAll(store, REGISTRY_PK)) {
    const pfs = reg.sk;
    if (only && !only.includes(pfs)) continue;
    const pfsId = String(reg.id);
    const root = String(reg.root);
    const seen = new Set<string>([root]);
    const dirs: Array<{ ino: string; path: string }> = [{ ino: root, path: "" }];
    while (dirs.length > 0) {
      const dir = dirs.pop()!;
      for (const h of await queryAll(store, historyPk(pfsId, dir.ino))) {
        const ino = String(h.ino);
        if (seen.has(ino)) continue;
        seen.add(ino);
        const path = `${dir.path}/${String(h.name)}`;
        if (h.type === "dir") dirs.push({ ino, path });
        else yield { pfs, pfsId, ino, path };
      }
    }
  }
}
