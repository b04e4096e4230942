/**
 * Confined views (docs/namespace.md, "Confinement"): what `ns.pfs(name, { beneath })` means, and
 * the one check resolution alone cannot make — a revert brings back objects by identity, and an
 * object that lives outside the scope now must not be changed by it.
 */
import { strataError } from "../errors.ts";
import type { Item } from "../metadata/port.ts";
import type { ObjectId } from "./api.ts";
import type { NamespaceKernel } from "./kernel.ts";
import { formatPath, parsePath } from "./path.ts";
import { ctlKey, dirPk, entryKey, historyPk, inoPk, VERSION_PREFIX, verify } from "./records.ts";
import type { Tx } from "./tx.ts";

/** Canonical components of a view's prefix; undefined for the unconfined view ("/" or none). */
export function confinement(beneath: string | undefined): readonly string[] | undefined {
  if (beneath === undefined) return undefined;
  const comps = parsePath(beneath);
  return comps.length === 0 ? undefined : comps;
}

/** Where the scope root is now: its directory entry and object (undefined parts when missing). */
async function scopeRoot(
  engine: NamespaceKernel,
  tx: Tx,
): Promise<{ parent?: ObjectId; name: string; ino?: ObjectId; dir: boolean }> {
  const beneath = tx.ctx.beneath!;
  let dir: ObjectId = tx.ctx.root;
  for (let i = 0; i < beneath.length; i++) {
    const item = verify(await engine.store.get(entryKey(tx.ctx.id, dir, beneath[i]!)), tx.ctx.name);
    const live = item && item.dtid === undefined ? item : undefined;
    if (i === beneath.length - 1)
      return {
        parent: dir,
        name: beneath[i]!,
        ino: live ? String(live.ino) : undefined,
        dir: live?.type === "dir",
      };
    if (live?.type !== "dir") return { name: beneath[i]!, dir: false };
    dir = String(live.ino);
  }
  return { name: "", dir: false };
}

/**
 * A fence for a confined revert (Engine.write's `confine.fence`): every object whose records the
 * plan writes must lie beneath the scope now — a directory whose parents lead to the scope root, a
 * file or symlink the plan reached through a live entry of such a directory — or be dead now
 * (its identity was inside the scope at the revert's TID: resolution there was confined too).
 * Anything else is EXDEV and nothing is written. Reads only committed state (outside the plan).
 */
export function revertFence(engine: NamespaceKernel): (tx: Tx) => Promise<void> {
  return async (tx) => {
    const { id, name: pfs } = tx.ctx;
    const scope = await scopeRoot(engine, tx);
    /** No live version now: the object is nobody's now (it was inside at the revert's TID). */
    const dead = async (ino: ObjectId): Promise<boolean> => {
      const page = await engine.store.query(inoPk(id, ino), {
        sk: { op: "beginsWith", value: VERSION_PREFIX },
        limit: 1,
      });
      const latest = page.items[0];
      return !latest || latest.dtid !== undefined;
    };
    const insideDirs = new Map<ObjectId, boolean>();
    /** A directory below the scope root now (by its parents), or a dead one. */
    const dirInside = async (dir: ObjectId): Promise<boolean> => {
      const known = insideDirs.get(dir);
      if (known !== undefined) return known;
      let ok = false;
      let at: ObjectId | undefined = dir;
      for (let hops = 0; at !== undefined && hops < 100_000; hops++) {
        if (scope.dir && at === scope.ino) {
          ok = true;
          break;
        }
        if (at === tx.ctx.root) break;
        const ctl: Item | undefined = verify(await engine.store.get(ctlKey(id, at)), pfs);
        if (!ctl && at === dir) ok = await dead(dir);
        at = ctl ? String(ctl.parent) : undefined;
      }
      insideDirs.set(dir, ok);
      return ok;
    };
    const refuse = (what: string) =>
      strataError(
        "EXDEV",
        `this revert would change ${what}, which lies outside this view's scope ${formatPath(tx.ctx.beneath!)} now`,
        { pfs, beneath: formatPath(tx.ctx.beneath!) },
      );
    const objects = new Set<ObjectId>();
    for (const key of tx.build().written) {
      for (const kind of ["dir", "dh"] as const) {
        const pk = kind === "dir" ? dirPk(id, "") : historyPk(id, "");
        if (!key.pk.startsWith(pk)) continue;
        const dir = key.pk.slice(pk.length);
        // The entry naming the scope root belongs to the scope; its siblings do not.
        const rootEntry =
          dir === scope.parent && (key.sk === scope.name || key.sk.startsWith(`${scope.name}/`));
        if (!rootEntry && !(await dirInside(dir))) throw refuse(`directory ${dir}'s entry ${key.sk}`);
      }
      const ino = inoPk(id, "");
      if (key.pk.startsWith(ino)) objects.add(key.pk.slice(ino.length));
    }
    for (const ino of objects) {
      if (scope.ino === ino) continue;
      if (await engine.store.get(ctlKey(id, ino))) {
        if (await dirInside(ino)) continue;
        throw refuse(`directory ${ino}`);
      }
      if (await dead(ino)) continue;
      let reached = false;
      for (const dir of tx.readDirsNaming(ino))
        if (await dirInside(dir)) {
          reached = true;
          break;
        }
      if (!reached) throw refuse(`object ${ino} (it is also named elsewhere)`);
    }
  };
}
