/**
 * Revert by identity (the default of `FileSystem.revert`), its dry run, and the dispatch to the
 * older path-as-of revert (core/namespace/ops.ts planRevert/revertTree, `byPath: true`).
 *
 * Identity: the object a path names NOW (lstat: a final symlink is not followed) is the thing
 * reverted. Its own version as of T (content, attributes, target, xattrs, tags) becomes its new
 * version at its current path; with `recursive`, each name below a directory is bound to the
 * object that directory's own entries held at T (read from the directory object's entry history,
 * so renames of the directory or of its ancestors since T do not matter), recursively by object
 * ids. An object that did not exist at T is ENOENT naming T, before anything is written.
 *
 * Per name the rule is the path-as-of revert's (ops.ts revertOne): the name ends up bound to the
 * object it held then (moved back if it is a directory living elsewhere, linked back if it is a
 * file, resurrected with its old id if it was deleted) or to nothing; a directory that has to go
 * is removed with everything below it first. The same steps either go into ONE transaction, or,
 * when that needs more than 100 items (E2BIG), commit one by one (not atomic; docs/namespace.md).
 */
import { isStrataError, strataError } from "../errors.ts";
import type { Item, Value } from "../metadata/port.ts";
import { compareUtf8 } from "../metadata/values.ts";
import type { AsOf, ObjectId, RevertOptions, RevertPlan, Tid } from "./api.ts";
import type { HistoryLease, NamespaceKernel } from "./kernel.ts";
import { planOp, planRevert, revertOne, revertTree } from "./ops.ts";
import { formatPath, parsePath } from "./path.ts";
import { AsOfReader, type EntryRef, entryRef, readdirAsOf, resolve, TxReader } from "./resolve.ts";
import { ZERO_TID } from "./tid.ts";
import { type PfsContext, Tx } from "./tx.ts";
import { stripVersion } from "./validate.ts";

/** Runs one step of a revert: into the one shared transaction, or as its own commit. */
export type RevertStep = <T>(plan: (tx: Tx) => Promise<T>) => Promise<T>;

/** The object `path` names now and its version at `then.tid`; ENOENT (nothing written) otherwise. */
async function target(
  tx: Tx,
  comps: string[],
  path: string,
  then: AsOfReader,
): Promise<{ ref: EntryRef; now: Item; past: Item }> {
  const pfs = tx.ctx.name;
  const r = await resolve(new TxReader(tx), tx.ctx, comps, false, path);
  const now = r.entry ? await tx.currentVersion(r.entry.ino) : undefined;
  if (!r.entry || !now)
    throw strataError(
      "ENOENT",
      `${path} does not exist now; to restore what this path named at ${then.tid}, revert by path (--by-path) or revert its directory`,
      { path, pfs, asOf: then.tid },
    );
  const past = await then.inode(r.entry.ino);
  if (!past)
    throw strataError(
      "ENOENT",
      `${path} (object ${r.entry.ino}) did not exist at ${then.tid}; nothing was changed (to restore what this path named then, revert by path: --by-path)`,
      { path, pfs, asOf: then.tid, ino: r.entry.ino },
    );
  return { ref: r.entry, now, past };
}

/**
 * An as-of reader under a TID lease (core/retention/lease.ts): after every read it checks that
 * the lease still holds (renewing it when due), so nothing read from a history vacuum may have
 * pruned meanwhile is used. The lease only extends while it holds, so "it holds now" means it
 * held all along. Without a lease (tidLeases: false, test only) it is a plain AsOfReader.
 */
export class LeasedAsOfReader extends AsOfReader {
  constructor(
    engine: NamespaceKernel,
    ctx: PfsContext,
    tid: Tid,
    private readonly lease: HistoryLease | undefined,
  ) {
    super(engine, ctx, tid);
  }

  async keep(): Promise<void> {
    await this.lease?.keep();
  }

  override async entry(dir: ObjectId, name: string): Promise<EntryRef | undefined> {
    const out = await super.entry(dir, name);
    await this.keep();
    return out;
  }

  override async inode(ino: ObjectId): Promise<Item | undefined> {
    const out = await super.inode(ino);
    await this.keep();
    return out;
  }
}

/** Entries of directory object `dir` as they were at `then`, by name (every page). */
async function entriesAt(
  engine: NamespaceKernel,
  ctx: PfsContext,
  dir: ObjectId,
  then: AsOfReader,
): Promise<Map<string, EntryRef>> {
  const tid = then.tid;
  const out = new Map<string, EntryRef>();
  let cursor: string | undefined;
  do {
    const page = await readdirAsOf(engine.store, ctx, dir, tid, cursor);
    for (const e of page.entries) out.set(e.name, { ino: e.ino, type: e.type });
    cursor = page.cursor;
  } while (cursor);
  if (then instanceof LeasedAsOfReader) await then.keep();
  return out;
}

/** Revert the object at `comps` (and, with `recursive`, below it) by identity, through `step`. */
export async function revertObject(
  engine: NamespaceKernel,
  step: RevertStep,
  comps: string[],
  path: string,
  then: AsOfReader,
  recursive: boolean,
): Promise<void> {
  const ref = await step(async (tx) => {
    const { ref, now, past } = await target(tx, comps, path, then);
    const nlink = ref.type === "dir" ? 2 : Number(now.nlink);
    await engine.replaceVersion(tx, ref.ino, { ...stripVersion(past), nlink }, "revert");
    return ref;
  });
  if (recursive && ref.type === "dir") await revertChildren(engine, step, comps, ref.ino, then);
}

async function revertChildren(
  engine: NamespaceKernel,
  step: RevertStep,
  comps: string[],
  dir: ObjectId,
  then: AsOfReader,
): Promise<void> {
  const past = await step((tx) => entriesAt(engine, tx.ctx, dir, then));
  const nowNames = await step(async (tx) => [...(await tx.liveEntries(dir)).keys()]);
  const names = new Set([...past.keys(), ...nowNames]);
  for (const name of [...names].sort(compareUtf8)) {
    const child = [...comps, name];
    const childPath = formatPath(child);
    const thenRef = past.get(name);
    const nowRef = await step(async (tx) => entryRef(await tx.entry(dir, name)));
    if (nowRef?.type === "dir" && nowRef.ino !== thenRef?.ino)
      await removeSubtree(engine, step, child, nowRef.ino);
    await step((tx) => revertOne(engine, tx, child, childPath, then, thenRef, true));
    if (thenRef?.type === "dir") await revertChildren(engine, step, child, thenRef.ino, then);
  }
}

/** Remove everything below directory `dir` (at `comps`), then the directory itself. */
async function removeSubtree(
  engine: NamespaceKernel,
  step: RevertStep,
  comps: string[],
  dir: ObjectId,
): Promise<void> {
  const entries = await step(async (tx) => [...(await tx.liveEntries(dir))]);
  for (const [name, item] of entries) {
    const child = [...comps, name];
    if (item.type === "dir") await removeSubtree(engine, step, child, String(item.ino));
    else await step((tx) => planOp(engine, tx, { op: "unlink", comps: child, path: formatPath(child) }));
  }
  await step((tx) => planOp(engine, tx, { op: "rmdir", comps, path: formatPath(comps) }));
}

/**
 * The FileSystem view a revert runs for: its PFS, its context (a confined view's carries
 * `beneath`), its one-transaction write (confined and fenced: core/namespace/confine.ts), and
 * whether it is confined (then there is no step-by-step fallback: it is not fenced).
 */
export interface RevertView {
  pfs: string;
  ctx: PfsContext;
  write: <T>(plan: (tx: Tx) => Promise<T>) => Promise<{ result: T; tid: Tid | undefined }>;
  confined: boolean;
}

/** Revert by identity: one transaction when it fits, else one commit per step. Returns the last TID. */
export async function revertByIdentity(
  engine: NamespaceKernel,
  view: RevertView,
  comps: string[],
  path: string,
  then: AsOfReader,
  recursive: boolean,
): Promise<Tid | undefined> {
  const pfs = view.pfs;
  try {
    const done = await view.write((tx) => {
      const inTx: RevertStep = (plan) => plan(tx);
      return revertObject(engine, inTx, comps, path, then, recursive);
    });
    return done.tid;
  } catch (err) {
    if (!recursive || !isStrataError(err, "E2BIG") || view.confined) throw err;
  }
  // Too big for one transaction: one commit per step (NOT atomic; docs/namespace.md).
  let last: Tid | undefined;
  const own: RevertStep = async (plan) => {
    const { result, tid } = await engine.write(pfs, plan);
    if (tid && (!last || tid > last)) last = tid;
    return result;
  };
  await revertObject(engine, own, comps, path, then, recursive);
  return last;
}

/** The fields that make what a user sees of an object (times are not compared). */
const SEEN = ["type", "mode", "uid", "gid", "size", "target", "content", "xattrs", "tags"] as const;

function canon(v: Value | undefined): string {
  if (v === undefined) return "u";
  if (v instanceof Uint8Array) return `b${Array.from(v).join(",")}`;
  if (Array.isArray(v)) return `[${v.map(canon).join(",")}]`;
  if (v !== null && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canon(v[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

/** Would replacing `now` by `past` change anything a user sees? */
export function versionDiffers(now: Item | undefined, past: Item | undefined): boolean {
  if (!now || !past) return now !== past;
  return SEEN.some((f) => canon(now[f]) !== canon(past[f]));
}

/**
 * What a revert would change, read-only: the object's own version (by identity; with `byPath`
 * the name as it was bound at the point), and with `recursive` every name below it compared as
 * the revert would bind it (paths are those after the revert). A name that would go is listed
 * once (a directory takes everything below it). Planned from one live read, so a revert racing
 * other writers may differ from its dry run.
 */
export async function planRevertChanges(
  engine: NamespaceKernel,
  ctx: PfsContext,
  comps: string[],
  path: string,
  then: AsOfReader,
  recursive: boolean,
  byPath: boolean,
): Promise<RevertPlan> {
  const tx = new Tx(engine.store, ctx, ZERO_TID, engine.clock());
  const live = new TxReader(tx);
  const out: RevertPlan = { created: [], changed: [], removed: [] };
  /** One name: bound now to `nowRef`, by the revert to `thenRef`. */
  const visit = async (at: string[], nowRef: EntryRef | undefined, thenRef: EntryRef | undefined) => {
    const p = formatPath(at);
    if (!thenRef) {
      if (nowRef) out.removed.push(p);
      return;
    }
    if (!nowRef) out.created.push(p);
    else if (nowRef.ino !== thenRef.ino) out.changed.push(p);
    else if (versionDiffers(await live.inode(nowRef.ino), await then.inode(thenRef.ino))) out.changed.push(p);
    if (!recursive || thenRef.type !== "dir") return;
    const pastEntries = await entriesAt(engine, ctx, thenRef.ino, then);
    const nowEntries = await tx.liveEntries(thenRef.ino);
    for (const name of [...new Set([...pastEntries.keys(), ...nowEntries.keys()])].sort(compareUtf8))
      await visit([...at, name], entryRef(nowEntries.get(name)), pastEntries.get(name));
  };
  if (byPath) {
    const missing = (err: unknown) => {
      if (isStrataError(err, "ENOENT") || isStrataError(err, "ENOTDIR")) return undefined;
      throw err;
    };
    const thenRef = await resolve(then, ctx, comps, false, path).then((r) => r.entry, missing);
    const nowRef = await resolve(live, ctx, comps, false, path).then((r) => r.entry, missing);
    await visit(comps, nowRef, thenRef);
  } else {
    const { ref } = await target(tx, comps, path, then);
    await visit(comps, ref, ref);
  }
  for (const list of [out.created, out.changed, out.removed]) list.sort(compareUtf8);
  return out;
}

/**
 * `FileSystem.revert`: by identity (default) or by path, or a dry run of either. Returns the
 * revert's last commit TID (the current TID when nothing needed writing), or the plan.
 */
export async function runRevert(
  engine: NamespaceKernel,
  view: RevertView,
  path: string,
  asOf: AsOf,
  options: RevertOptions,
): Promise<Tid | RevertPlan> {
  const comps = parsePath(path);
  const ctx = view.ctx;
  // A revert can outlast vacuum's grace: it reads history under a TID lease.
  const { tid, lease } = await engine.leaseTid(ctx, asOf);
  try {
    return await revertAt(engine, view, comps, path, new LeasedAsOfReader(engine, ctx, tid, lease), options);
  } finally {
    await lease?.release();
  }
}

async function revertAt(
  engine: NamespaceKernel,
  view: RevertView,
  comps: string[],
  path: string,
  then: LeasedAsOfReader,
  options: RevertOptions,
): Promise<Tid | RevertPlan> {
  const { pfs, ctx } = view;
  const recursive = options.recursive === true;
  if (options.dryRun === true)
    return planRevertChanges(engine, ctx, comps, path, then, recursive, options.byPath === true);
  if (options.byPath !== true)
    return (await revertByIdentity(engine, view, comps, path, then, recursive)) ?? engine.currentTid(ctx);
  try {
    // One transaction whenever the revert fits in one (≤ 100 items).
    const done = await view.write((tx) => planRevert(engine, tx, comps, path, then, recursive));
    return done.tid ?? (await engine.currentTid(ctx));
  } catch (err) {
    if (!recursive || !isStrataError(err, "E2BIG") || view.confined) throw err;
  }
  // Too big for one transaction: one per path (NOT atomic; docs/namespace.md).
  let last: Tid | undefined;
  const note = (t: Tid | undefined) => {
    if (t && (!last || t > last)) last = t;
  };
  await revertTree(engine, pfs, comps, path, then, true, note);
  return last ?? (await engine.currentTid(ctx));
}
