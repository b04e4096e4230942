/**
 * Multi-master, first step: two writable masters of one PFS (same lineage: same root and object
 * ids up to the TID where they diverged) exchange streams. `exchange(local, peer)` merges the
 * peer's changes since the last exchange into the local master as NEW local commits (a master's
 * history below its closed TID never changes); conflicts keep both versions, never lose one.
 *
 * Rules (docs/mirroring.md, "Multi-master"):
 * - Objects are matched by object id (ids are unique across sites); an object the merge creates
 *   for a peer object takes the peer's id, so the peer knows it when it comes back. Objects
 *   paired by equal content (each side's own conflict copy) are remembered in a mapping
 *   (`peermap#<pfs>#<peer site>`).
 * - The previous exchange's own commits (`merged` TIDs in the peer state) are not local changes.
 * - "Changed since base": a local name or object changed after the local TID of the previous
 *   exchange with this peer (`base`); the peer's changes are those of its stream since `since`.
 * - A change only one side made is applied. Two changes with equal content (the echo of an
 *   earlier exchange) are the same change.
 * - create/create (both sides put different objects under one new name) and update/update (both
 *   changed one object differently): the version of the site whose name sorts first keeps the
 *   name; the other version is kept as a new object named `<name>#S!=<its site>` in the same
 *   directory (`#S!=<site>.2`, … if taken). Both sides pick the same winner, so after exchanges
 *   in both directions they hold the same names and contents.
 * - delete/update: the update wins (the delete is not applied; a deleted name is re-created
 *   with the updated object).
 * - A directory the peer removed is removed only when it is empty here.
 * Not handled yet: hard links (a second name of a peer file becomes a separate object), moves of
 * directories that conflict with local moves (the local place wins), xattr/tag-only conflicts on
 * directories (local wins), more than two masters.
 */
import { UNSAFE_LIFECYCLE_SWITCHES } from "../data/chunks.ts";
import { isStrataError, strataError } from "../errors.ts";
import type { Item, Value } from "../metadata/port.ts";
import type { FileType, Namespace, ObjectId, Tid } from "../namespace/api.ts";
import type { NamespaceKernel as Engine } from "../namespace/kernel.ts";
import { unlinkEntry } from "../namespace/ops.ts";
import { ctlKey, entryKey, inoPk, recordCrc, seal, VERSION_PREFIX, verify } from "../namespace/records.ts";
import type { PfsContext, Tx } from "../namespace/tx.ts";
import type { VolumeRegistry } from "../volume/registry.ts";
import { type ChunkTarget, ensureChunks, recordChunks } from "./chunks.ts";
import type { StreamRecord } from "./format.ts";
import type { StreamSource } from "./port.ts";
import { engineOf } from "./stream.ts";

export interface MasterRef {
  ns: Namespace;
  pfs: string;
  /** This master's site name (used in conflict names and to pick winners). */
  site: string;
  /** THE volume registry of this deployment; `place` names the ones peer chunks are copied to. */
  volumes: VolumeRegistry;
  place: string[];
  clock?: () => number;
  /** The chunk lifecycle's lease-wait pause (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
}

export interface ExchangeReport {
  peer: string;
  from: Tid;
  to: Tid;
  applied: number;
  conflicts: Array<{ kind: "create/create" | "update/update" | "delete/update"; path: string; kept: string }>;
}

const peerKey = (pfsId: string, site: string) => ({ pk: `peer#${pfsId}`, sk: site });
const mapKey = (pfsId: string, site: string, ino: ObjectId) => ({ pk: `peermap#${pfsId}#${site}`, sk: ino });

/** The fields two versions must share to be "the same content". */
const PAYLOAD = [
  "type",
  "mode",
  "uid",
  "gid",
  "size",
  "content",
  "target",
  "tags",
  "xattrs",
  "mtime",
] as const;

function payloadOf(v: Record<string, Value>): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const k of PAYLOAD) if (v[k] !== undefined) out[k] = v[k]!;
  return out;
}

const samePayload = (a: Record<string, Value>, b: Record<string, Value>) =>
  recordCrc({ pk: "", sk: "", ...payloadOf(a) }) === recordCrc({ pk: "", sk: "", ...payloadOf(b) });

/**
 * Start exchanging with a peer that shares this master's history up to `common` (e.g. the sync
 * TID at which a mirror was promoted while its source kept writing). Call it on both sides.
 */
export async function startExchange(local: MasterRef, peerSite: string, common: Tid): Promise<void> {
  const engine = engineOf(local.ns);
  const ctx = await engine.context(local.pfs);
  await engine.store.put(seal({ ...peerKey(ctx.id, peerSite), since: common, base: common }));
}

/** Merge the peer's changes since the last exchange into the local master (module header). */
export async function exchange(
  local: MasterRef,
  peer: StreamSource,
  peerSite: string,
): Promise<ExchangeReport> {
  const engine = engineOf(local.ns);
  const ctx = await engine.context(local.pfs);
  const state = verify(await engine.store.get(peerKey(ctx.id, peerSite)), local.pfs);
  if (!state)
    throw strataError(
      "EINVAL",
      `PFS ${local.pfs} has no exchange with ${peerSite}; call startExchange first`,
      {
        pfs: local.pfs,
        peer: peerSite,
      },
    );
  const since = String(state.since);
  const base = String(state.base);
  // The commits the previous exchange with this peer wrote here: above `base`, but not changes
  // made here (else our own merges would count as local changes and win over the peer's next
  // change — e.g. the peer deleting what that merge moved).
  const ownMerges = new Set(
    String(state.merged ?? "")
      .split(",")
      .filter(Boolean),
  );
  const mergedNow: Tid[] = [];
  const changedHere = (tid: Value | undefined) =>
    tid !== undefined && String(tid) > base && !ownMerges.has(String(tid));
  // The local TID everything of this exchange lands above: the next exchange's base.
  const before = await engine.currentTid(ctx);

  const records: StreamRecord[] = [];
  let token: string | undefined;
  let upto = since;
  do {
    const page = await peer.read(token ? { token } : { since });
    records.push(...page.records);
    upto = page.upto;
    token = page.next;
  } while (token);
  const chunkTarget: ChunkTarget = {
    store: engine.store,
    volumes: local.volumes,
    place: local.place,
    clock: local.clock ?? Date.now,
    pfs: local.pfs,
    ...(local.sleep ? { sleep: local.sleep } : {}),
  };
  const report: ExchangeReport = { peer: peerSite, from: since, to: upto, applied: 0, conflicts: [] };
  const chunks = await ensureChunks(chunkTarget, recordChunks(records), (ref) => peer.chunk(ref));
  try {
    // The peer's final state of every object and name it changed.
    const versions = new Map<ObjectId, Record<string, Value>>();
    const entries = new Map<string, { dir: ObjectId; name: string; rec: Record<string, Value>; tid: Tid }>();
    for (const r of records) {
      if (r.pk.startsWith("ino#")) {
        const ino = r.pk.slice(4);
        const seen = versions.get(ino);
        if (!seen || String(r.item.ctid) >= String(seen.ctid)) versions.set(ino, r.item);
      } else {
        const dir = r.pk.slice(3);
        const name = String(r.item.name);
        const id = `${dir}/${name}`;
        const seen = entries.get(id);
        if (!seen || String(r.item.ctid) >= String(seen.rec.ctid))
          entries.set(id, { dir, name, rec: r.item, tid: r.tid });
      }
    }

    const localWins = local.site < peerSite;
    const note = (path: string, kept: string, kind: ExchangeReport["conflicts"][number]["kind"]) =>
      report.conflicts.push({ kind, path, kept });

    const mapped = async (peerIno: ObjectId): Promise<ObjectId> => {
      const m = await engine.store.get(mapKey(ctx.id, peerSite, peerIno));
      return m ? String(m.local) : peerIno;
    };
    const remember = async (peerIno: ObjectId, localIno: ObjectId) => {
      if (peerIno !== localIno)
        await engine.store.put({ ...mapKey(ctx.id, peerSite, peerIno), local: localIno });
    };
    /** The local object's newest version (live or ended) and whether it changed after `base`. */
    const localVersion = async (ino: ObjectId) => {
      const page = await engine.store.query(inoPk(ctx.id, ino), {
        sk: { op: "beginsWith", value: VERSION_PREFIX },
        limit: 1,
      });
      const v = page.items[0];
      if (!v) return undefined;
      const changed = changedHere(v.ctid) || changedHere(v.dtid);
      return { v: verify(v, local.pfs), live: v.dtid === undefined, changed };
    };
    const freeName = async (dir: ObjectId, name: string, site: string) => {
      for (let n = 1; ; n++) {
        const candidate = `${name}#S!=${site}${n === 1 ? "" : `.${n}`}`;
        const e = await engine.store.get(entryKey(ctx.id, dir, candidate));
        if (!e || e.dtid !== undefined) return candidate;
      }
    };
    const write = (plan: (tx: Tx) => Promise<void>) =>
      engine.write(local.pfs, plan).then(({ tid }) => {
        if (tid) mergedNow.push(tid);
        report.applied++;
      });
    /**
     * Create an object at dir/name. `reuse`: the id it takes — the peer's own id for a peer object
     * (ids are unique across sites), or the id of the local object it brings back — so the peer
     * recognises it by id when this merge comes back in our stream (no echo to pair by content).
     */
    const createObject = async (
      dir: ObjectId,
      name: string,
      payload: Record<string, Value>,
      reuse?: ObjectId,
    ): Promise<ObjectId> => {
      const ino = reuse ?? (await engine.allocId());
      await write(async (tx) => {
        const type = String(payload.type) as FileType;
        engine.putVersion(tx, ino, { ...payloadOf(payload), nlink: type === "dir" ? 2 : 1 }, "merge", tx.now);
        engine.addEntry(tx, dir, name, { ino, type });
        if (type === "dir") tx.put({ ...ctlKey(ctx.id, ino), parent: dir, name }, { op: "notExists" });
      });
      return ino;
    };
    const replace = (ino: ObjectId, payload: Record<string, Value>, nlink: Value) =>
      write(async (tx) => {
        await engine.replaceVersion(tx, ino, { ...payloadOf(payload), nlink }, "merge");
      });

    /** Move a local object to dir/name (ending what holds that name now, if anything). */
    const move = async (ino: ObjectId, v: Item, dir: ObjectId, name: string, holder?: Item) => {
      const old = await nameOf(engine, ctx, ino);
      await write(async (tx) => {
        if (holder)
          await unlinkEntry(
            engine,
            tx,
            dir,
            name,
            { ino: String(holder.ino), type: String(holder.type) as FileType },
            name,
          );
        if (old) await engine.removeEntry(tx, old.dir, old.name);
        engine.addEntry(tx, dir, name, { ino, type: String(v.type) as FileType });
        if (v.type === "dir") tx.put({ ...ctlKey(ctx.id, ino), parent: dir, name });
      });
    };

    /** Remove dir/name and the object it holds here (a directory only when empty here). */
    const removeName = async (dir: ObjectId, name: string, holder: Item) => {
      try {
        await write(async (tx) => {
          const ino = String(holder.ino);
          if (holder.type === "dir") {
            if (await tx.hasEntries(ino)) throw strataError("ENOTEMPTY", "kept: not empty here");
            await engine.removeEntry(tx, dir, name);
            await engine.endVersion(tx, ino, "rmdir");
            engine.deleteCtl(tx, ino);
          } else
            await unlinkEntry(engine, tx, dir, name, { ino, type: String(holder.type) as FileType }, name);
        });
      } catch (err) {
        if (!isStrataError(err, "ENOTEMPTY")) throw err;
      }
    };

    // 1. Names, in the peer's commit order.
    const ordered = [...entries.values()].sort((a, b) => (a.tid < b.tid ? -1 : a.tid > b.tid ? 1 : 0));
    const movedAway = new Set(
      [...entries.values()].filter((e) => e.rec.dtid === undefined).map((e) => String(e.rec.ino)),
    );
    for (const e of ordered) {
      const dir = await mapped(e.dir);
      const here = await engine.store.get(entryKey(ctx.id, dir, e.name));
      const hereLive = here && here.dtid === undefined ? here : undefined;
      const hereChanged = here !== undefined && changedHere(here.dtid ?? here.ctid);
      const peerLive = e.rec.dtid === undefined;
      const peerIno = String(e.rec.ino);
      const want = peerLive ? await mapped(peerIno) : undefined;
      if (peerLive) {
        if (hereLive && String(hereLive.ino) === want) continue;
        const payload = versions.get(peerIno);
        const mine = want ? await localVersion(want) : undefined;
        if (hereLive) {
          const hereV = await localVersion(String(hereLive.ino));
          // The echo of our own earlier merge: a peer object we do not have, equal to ours here.
          if (!mine?.live && hereV && payload && samePayload(hereV.v, payload)) {
            await remember(peerIno, String(hereLive.ino));
            continue;
          }
          // The name changed here, or the object it holds did (then replacing it would lose that
          // update): a conflict either way.
          if (hereChanged || hereV?.changed) {
            // create/create: both sides put something new under this name (the peer's may be an
            // object we have under another name, moved there).
            const movedHere = mine?.live === true && want !== undefined;
            // A peer object we deleted comes back from our last version of it (delete/update).
            const from = payload ?? (mine && !mine.live ? mine.v : undefined);
            if (!from && !movedHere) continue;
            if (localWins) {
              const alt = await freeName(dir, e.name, peerSite);
              if (movedHere) await move(want!, mine!.v, dir, alt);
              else await remember(peerIno, await createObject(dir, alt, from!, want));
              note(e.name, alt, "create/create");
            } else {
              const alt = await freeName(dir, e.name, local.site);
              const loser = String(hereLive.ino);
              await write(async (tx) => {
                await engine.removeEntry(tx, dir, e.name);
                engine.addEntry(tx, dir, alt, { ino: loser, type: String(hereLive.type) as FileType });
                if (hereLive.type === "dir") tx.put({ ...ctlKey(ctx.id, loser), parent: dir, name: alt });
              });
              if (movedHere) await move(want!, mine!.v, dir, e.name);
              else await remember(peerIno, await createObject(dir, e.name, from!, want));
              note(e.name, alt, "create/create");
            }
            continue;
          }
        }
        if (mine?.live && want) {
          // The object exists here under another name: the peer moved it here.
          await move(want, mine.v, dir, e.name, hereLive);
          continue;
        }
        // The peer moved (or changed) an object we deleted meanwhile: delete/update, the peer's
        // side wins — re-create it from our last version when the stream carries none.
        const from = payload ?? (mine && !mine.live ? mine.v : undefined);
        if (!from) continue; // nothing to create from
        if (!payload) note(e.name, e.name, "delete/update");
        if (hereLive)
          await write(async (tx) => {
            await unlinkEntry(
              engine,
              tx,
              dir,
              e.name,
              { ino: String(hereLive.ino), type: String(hereLive.type) as FileType },
              e.name,
            );
          });
        await remember(peerIno, await createObject(dir, e.name, from, want));
        continue;
      }
      // The peer removed the name — or moved the object: then its new name is handled on its own.
      if (movedAway.has(peerIno)) continue;
      // Whatever holds the name here goes too when it is the object the peer removed, or when
      // the name has not changed here since the base (the peer replaced and then removed it).
      if (!hereLive || (String(hereLive.ino) !== (await mapped(peerIno)) && hereChanged)) continue;
      const mine = await localVersion(String(hereLive.ino));
      if (hereChanged || mine?.changed) {
        note(e.name, e.name, "delete/update"); // the update wins: keep it
        continue;
      }
      await removeName(dir, e.name, hereLive);
    }

    // 2. Contents and attributes of objects the peer changed.
    for (const [peerIno, payload] of versions) {
      const ino = await mapped(peerIno);
      const mine = await localVersion(ino);
      if (payload.dtid !== undefined) {
        // The peer ended the object. Usually its name's removal did that above, but the peer's last
        // record of that name may show another object (it renamed one over it): remove it here
        // too, unless it or its name changed here since the base (then the change wins).
        if (!mine?.live || mine.changed) continue;
        const where = await nameOf(engine, ctx, ino);
        if (!where) continue;
        const holder = await engine.store.get(entryKey(ctx.id, where.dir, where.name));
        if (!holder || holder.dtid !== undefined || changedHere(holder.ctid)) continue;
        await removeName(where.dir, where.name, holder);
        continue;
      }
      if (!mine) continue; // never here (created under a name handled above, or a hard link)
      // A version of an object we removed is an update even with equal content: the peer counts
      // its own write as a change (by TID), so it keeps the object; we must bring it back too.
      if (mine.live && samePayload(mine.v, payload)) continue;
      if (!mine.live) {
        // delete/update: the peer updated what we removed — bring it back under its last name.
        if ([...entries.values()].some((x) => String(x.rec.ino) === peerIno)) continue; // named above
        const last = await scanForName(engine, ctx, ino, base);
        if (!last) continue;
        const taken = await engine.store.get(entryKey(ctx.id, last.dir, last.name));
        const name =
          taken && taken.dtid === undefined ? await freeName(last.dir, last.name, peerSite) : last.name;
        await remember(peerIno, await createObject(last.dir, name, payload, ino));
        note(name, name, "delete/update");
        continue;
      }
      if (!mine.changed) {
        await replace(ino, payload, mine.v.nlink ?? 1);
        continue;
      }
      // update/update.
      if (mine.v.type === "dir") continue; // directory attributes: the local ones stay
      const where = await nameOf(engine, ctx, ino);
      if (!where) continue;
      if (localWins) {
        const alt = await freeName(where.dir, where.name, peerSite);
        await createObject(where.dir, alt, payload);
        note(where.name, alt, "update/update");
      } else {
        const alt = await freeName(where.dir, where.name, local.site);
        await createObject(where.dir, alt, mine.v);
        await replace(ino, payload, mine.v.nlink ?? 1);
        note(where.name, alt, "update/update");
      }
    }

    await engine.store.put(
      seal({ ...peerKey(ctx.id, peerSite), since: upto, base: before, merged: mergedNow.join(",") }),
    );
  } finally {
    // The merge keeps only the peer's final versions (and may stop half-way): the intent goes to
    // vacuum, which keeps what the merged versions reference and collects the rest (deleting the
    // intent leaked every peer chunk nothing here referenced). A failure leaves it to expire (1 h).
    if (UNSAFE_LIFECYCLE_SWITCHES.exchangeRemovesIntent) await chunks.release();
    else await chunks.expire();
  }
  return report;
}

/** The live name of an object here: a directory's `ctl`, else a scan (files have no back pointer). */
async function nameOf(
  engine: Engine,
  ctx: PfsContext,
  ino: ObjectId,
): Promise<{ dir: ObjectId; name: string } | undefined> {
  const ctl = await engine.store.get(ctlKey(ctx.id, ino));
  if (ctl) return { dir: String(ctl.parent), name: String(ctl.name) };
  return scanForName(engine, ctx, ino);
}

/**
 * Breadth-first over live directories from the root: O(size of the tree) — the first step has no
 * object → name index. With `endedAfter`, the name whose entry history ended after that TID.
 */
async function scanForName(
  engine: Engine,
  ctx: PfsContext,
  ino: ObjectId,
  endedAfter?: Tid,
): Promise<{ dir: ObjectId; name: string } | undefined> {
  const pfsId = ctx.id;
  const dirs = [ctx.root];
  while (dirs.length > 0) {
    const dir = dirs.shift()!;
    let cursor: string | undefined;
    do {
      const page = await engine.store.query(`dir#${pfsId}#${dir}`, cursor ? { cursor } : {});
      for (const e of page.items) {
        if (e.dtid !== undefined) continue;
        if (endedAfter === undefined && String(e.ino) === ino) return { dir, name: e.sk };
        if (e.type === "dir") dirs.push(String(e.ino));
      }
      cursor = page.cursor;
    } while (cursor);
    if (endedAfter !== undefined) {
      const page = await engine.store.query(`dh#${pfsId}#${dir}`);
      for (const h of page.items)
        if (String(h.ino) === ino && h.dtid !== undefined && String(h.dtid) > endedAfter)
          return { dir, name: String(h.name) };
    }
  }
  return undefined;
}
