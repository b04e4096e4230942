/**
 * fsck: offline invariant checks over the namespace records (run it while nothing writes; a
 * concurrent write can show up as a false finding). Per PFS it walks every directory reachable
 * from the root through the entry history (so removed subtrees and deleted files are checked too)
 * and reports, as typed JSON-able problems:
 *
 * | kind               | invariant broken                                                        |
 * |--------------------|-------------------------------------------------------------------------|
 * | `dangling-entry`   | a live entry points at an inode with no live version                    |
 * | `nlink`            | a file's live `nlink` differs from the number of live entries naming it |
 * | `tid-order`        | a record's create TID is above its delete TID                           |
 * | `chunk-unavailable`| a version references a chunk with no `present` instance — or, given `volumes`, none whose object is still there |
 * | `duplicate-name`   | two live records hold one name in a directory (entry history), or the live entry disagrees with it |
 * | `corrupt-record`   | a record failed its CRC                                                 |
 *
 * `ok` is false when any problem was found (the CLI exits non-zero).
 *
 * With `volumes`, fsck also looks at the objects: for every distinct chunk a version references it
 * HEADs its `present` instances until one exists (one HEAD per chunk when all is well, one per
 * instance when objects are gone), so a chunk recorded `present` whose object was lost is reported
 * without a client having to read it first. It never changes a record (scrub repairs and marks).
 */

import { chunkObjectKey, chunkPk, chunkRefsOf } from "../data/chunk-items.ts";
import { isStrataError } from "../errors.ts";
import type { Item, MetadataStore } from "../metadata/port.ts";
import { dirPk, historyPk, inoPk, REGISTRY_PK, VERSION_PREFIX, verify } from "../namespace/records.ts";
import type { VolumeRegistry } from "../volume/registry.ts";
import { queryAll } from "./common.ts";

export type FsckProblemKind =
  | "dangling-entry"
  | "nlink"
  | "tid-order"
  | "chunk-unavailable"
  | "duplicate-name"
  | "corrupt-record";

export interface FsckProblem {
  kind: FsckProblemKind;
  pfs: string;
  message: string;
  pk?: string;
  sk?: string;
  ino?: string;
  chunk?: string;
}

export interface FsckReport {
  ok: boolean;
  problems: FsckProblem[];
  checked: {
    pfs: number;
    directories: number;
    entries: number;
    inodes: number;
    versions: number;
    chunks: number;
    /** HEAD requests made to check that recorded objects exist (with `volumes`). */
    objects: number;
  };
}

export async function fsck(params: {
  store: MetadataStore;
  pfs?: string[];
  /**
   * Check that the objects of `present` instances exist (HEAD) on the volumes of THE registry now;
   * without it, records only.
   */
  volumes?: VolumeRegistry;
}): Promise<FsckReport> {
  const { store } = params;
  const report: FsckReport = {
    ok: true,
    problems: [],
    checked: { pfs: 0, directories: 0, entries: 0, inodes: 0, versions: 0, chunks: 0, objects: 0 },
  };
  const chunkChecked = new Map<string, boolean>();
  for (const reg of await queryAll(store, REGISTRY_PK)) {
    if (params.pfs && !params.pfs.includes(reg.sk)) continue;
    report.checked.pfs++;
    await checkPfs(store, reg, report, chunkChecked, params.volumes);
  }
  report.ok = report.problems.length === 0;
  return report;
}

/** verify() that reports instead of throwing. */
function sound(item: Item, pfs: string, report: FsckReport): boolean {
  try {
    verify(item, pfs);
    return true;
  } catch (err) {
    if (!isStrataError(err, "ECORRUPT")) throw err;
    report.problems.push({
      kind: "corrupt-record",
      pfs,
      pk: item.pk,
      sk: item.sk,
      message: `${item.pk} / ${item.sk} failed its CRC check`,
    });
    return false;
  }
}

function tidOrder(item: Item, pfs: string, report: FsckReport): void {
  if (item.dtid !== undefined && item.ctid !== undefined && String(item.ctid) > String(item.dtid))
    report.problems.push({
      kind: "tid-order",
      pfs,
      pk: item.pk,
      sk: item.sk,
      message: `${item.pk} / ${item.sk} was created at ${item.ctid}, after it was deleted at ${item.dtid}`,
    });
}

async function checkPfs(
  store: MetadataStore,
  reg: Item,
  report: FsckReport,
  chunkChecked: Map<string, boolean>,
  volumes: VolumeRegistry | undefined,
): Promise<void> {
  const pfs = reg.sk;
  const id = String(reg.id);
  const root = String(reg.root);
  /** Live entries naming each inode (files and symlinks), for nlink. */
  const liveNames = new Map<string, number>();
  const inodes = new Set<string>([root]);
  const dirs = [root];
  const seenDirs = new Set<string>([root]);
  while (dirs.length > 0) {
    const dir = dirs.pop()!;
    report.checked.directories++;
    // Entry history: every name this directory ever held.
    const liveInHistory = new Map<string, Item>();
    for (const h of await queryAll(store, historyPk(id, dir))) {
      if (!sound(h, pfs, report)) continue;
      tidOrder(h, pfs, report);
      const ino = String(h.ino);
      inodes.add(ino);
      if (h.type === "dir" && !seenDirs.has(ino)) {
        seenDirs.add(ino);
        dirs.push(ino);
      }
      if (h.dtid === undefined) {
        const name = String(h.name);
        const other = liveInHistory.get(name);
        if (other)
          report.problems.push({
            kind: "duplicate-name",
            pfs,
            pk: h.pk,
            sk: h.sk,
            message: `directory ${dir} holds "${name}" twice (inodes ${String(other.ino)} and ${ino})`,
          });
        else liveInHistory.set(name, h);
      }
    }
    // Live entries.
    for (const e of await queryAll(store, dirPk(id, dir))) {
      if (!sound(e, pfs, report) || e.dtid !== undefined) continue;
      report.checked.entries++;
      const ino = String(e.ino);
      inodes.add(ino);
      const h = liveInHistory.get(e.sk);
      if (!h || String(h.ino) !== ino)
        report.problems.push({
          kind: "duplicate-name",
          pfs,
          pk: e.pk,
          sk: e.sk,
          ino,
          message: `live entry "${e.sk}" in ${dir} names ${ino}, its history names ${h ? String(h.ino) : "nothing"}`,
        });
      const live = (
        await store.query(inoPk(id, ino), { sk: { op: "beginsWith", value: VERSION_PREFIX }, limit: 1 })
      ).items[0];
      if (!live || live.dtid !== undefined)
        report.problems.push({
          kind: "dangling-entry",
          pfs,
          pk: e.pk,
          sk: e.sk,
          ino,
          message: `entry "${e.sk}" in directory ${dir} points at inode ${ino}, which has no live version`,
        });
      if (e.type !== "dir") liveNames.set(ino, (liveNames.get(ino) ?? 0) + 1);
    }
  }
  for (const ino of inodes) {
    report.checked.inodes++;
    const versions = await queryAll(store, inoPk(id, ino), {
      sk: { op: "beginsWith", value: VERSION_PREFIX },
    });
    for (const v of versions) {
      if (!sound(v, pfs, report)) continue;
      report.checked.versions++;
      tidOrder(v, pfs, report);
      for (const { chunk: sha } of chunkRefsOf(v)) {
        let ok = chunkChecked.get(sha);
        if (ok === undefined) {
          report.checked.chunks++;
          const instances = await queryAll(store, chunkPk(sha), { sk: { op: "beginsWith", value: "inst#" } });
          const present = instances
            .filter((i) => i.state === "present")
            .map((i) => i.sk.slice("inst#".length));
          const gone = volumes ? await objectsGone(volumes, sha, present, report) : [];
          ok = present.length > gone.length;
          chunkChecked.set(sha, ok);
          if (!ok)
            report.problems.push({
              kind: "chunk-unavailable",
              pfs,
              pk: v.pk,
              sk: v.sk,
              ino,
              chunk: sha,
              message:
                gone.length > 0
                  ? `inode ${ino} (version ${String(v.ctid)}) references chunk ${sha}, recorded present on ${gone.join(", ")} but its object is gone there (scrub marks it and repairs what it can)`
                  : `inode ${ino} (version ${String(v.ctid)}) references chunk ${sha}, which has no present instance`,
            });
        }
      }
    }
    const live = versions.find((v) => v.dtid === undefined);
    if (live && live.type !== "dir") {
      const names = liveNames.get(ino) ?? 0;
      if (Number(live.nlink) !== names)
        report.problems.push({
          kind: "nlink",
          pfs,
          pk: live.pk,
          sk: live.sk,
          ino,
          message: `inode ${ino} says nlink ${String(live.nlink)} but ${names} live entries name it`,
        });
    }
  }
}

/**
 * HEAD the chunk's object on each volume recorded `present`, stopping at the first that exists:
 * the volumes where it is gone (all of them when none exists). A volume this deployment does not
 * know is not checked and counts as holding it; any error other than "missing" or "unreadable
 * header" aborts fsck (an unreachable volume proves nothing).
 */
async function objectsGone(
  volumes: VolumeRegistry,
  sha: string,
  present: string[],
  report: FsckReport,
): Promise<string[]> {
  const gone: string[] = [];
  for (const name of present) {
    const volume = (await volumes.lookup(name))?.volume;
    if (!volume) return [];
    report.checked.objects++;
    try {
      await volume.head(chunkObjectKey(sha));
      return [];
    } catch (err) {
      if (!isStrataError(err, "ENOENT") && !isStrataError(err, "ECORRUPT")) throw err;
      gone.push(name);
    }
  }
  return gone;
}
