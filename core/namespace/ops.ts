/**
 * Planners: each turns one operation into reads and writes on a Tx (core/namespace/tx.ts), which
 * the engine commits as one transaction. A batch plans several ops into the same Tx.
 */
import { isStrataError, strataError } from "../errors.ts";
import type { Item, Value } from "../metadata/port.ts";
import { compareUtf8, keyId, utf8Length } from "../metadata/values.ts";
import type { ObjectId, Stat, Tid } from "./api.ts";
import type { NamespaceKernel } from "./kernel.ts";
import { formatPath, isWithin } from "./path.ts";
import { ctlKey, entryKey } from "./records.ts";
import { type AsOfReader, type EntryRef, type Reader, type Resolved, resolve, TxReader } from "./resolve.ts";
import type { Tx } from "./tx.ts";
import { NS_LIMITS, type Op, stripVersion, toStat } from "./validate.ts";

/** A writeContent op with its optional compare-and-swap (FileSystem.writeContent's `ifVersion`). */
export type WriteContentOp = Extract<Op, { op: "writeContent" }> & { ifVersion?: Tid };

/**
 * A plan's precondition failed. Not a StrataError on purpose: Engine.write retries a plan that
 * throws ECONFLICT, and a failed precondition must reach the caller at once; the FileSystem
 * method unwraps `error` (ECONFLICT).
 */
export class PreconditionFailed extends Error {
  constructor(readonly error: Error) {
    super(error.message);
  }
}

export function lastName(r: Resolved, path: string, pfs: string): { parent: ObjectId; name: string } {
  if (r.parent === undefined || r.name === undefined)
    throw strataError("EEXIST", `${path} is the root directory`, { path, pfs });
  return { parent: r.parent, name: r.name };
}

/** Plans one op into `tx`. */
export async function planOp(
  engine: NamespaceKernel,
  tx: Tx,
  op: Op,
  blindOk = true,
): Promise<Stat | undefined> {
  const ctx = tx.ctx;
  const reader = new TxReader(tx);
  const pfs = ctx.name;
  const now = tx.now;
  const statOf = (ino: ObjectId, v: Item) => toStat(pfs, ino, v);
  const existing = async (comps: string[], path: string, follow: boolean) => {
    const r = await resolve(reader, ctx, comps, follow, path);
    if (!r.entry) throw strataError("ENOENT", `${path} does not exist`, { path, pfs });
    return r;
  };
  switch (op.op) {
    case "mkdir":
    case "create":
    case "symlink": {
      const r = await resolve(reader, ctx, op.comps, false, op.path, blindOk);
      const { parent, name } = lastName(r, op.path, pfs);
      if (r.entry) throw strataError("EEXIST", `${op.path} already exists`, { path: op.path, pfs });
      tx.blind.set(keyId(entryKey(ctx.id, parent, name)), op.path);
      const ino = await engine.allocId();
      let v: Item;
      if (op.op === "mkdir") {
        tx.put({ ...ctlKey(ctx.id, ino), parent, name }, { op: "notExists" });
        v = engine.putVersion(
          tx,
          ino,
          { type: "dir", mode: op.mode, uid: op.uid, gid: op.gid, size: 0, nlink: 2 },
          "mkdir",
          now,
        );
        engine.addEntry(tx, parent, name, { ino, type: "dir" });
      } else if (op.op === "create") {
        const fields: Record<string, Value> = {
          type: "file",
          mode: op.mode,
          uid: op.uid,
          gid: op.gid,
          size: op.content ? Number(op.content.size) : 0,
          nlink: 1,
        };
        if (op.content) fields.content = op.content;
        v = engine.putVersion(tx, ino, fields, "create", now);
        engine.addEntry(tx, parent, name, { ino, type: "file" });
      } else {
        v = engine.putVersion(
          tx,
          ino,
          {
            type: "symlink",
            mode: 0o777,
            uid: 0,
            gid: 0,
            size: utf8Length(op.target),
            nlink: 1,
            target: op.target,
          },
          "symlink",
          now,
        );
        engine.addEntry(tx, parent, name, { ino, type: "symlink" });
      }
      return statOf(ino, v);
    }
    case "writeContent": {
      const r = await existing(op.comps, op.path, true);
      if (r.entry!.type === "dir")
        throw strataError("EISDIR", `${op.path} is a directory`, { path: op.path, pfs });
      const ifVersion = (op as WriteContentOp).ifVersion;
      if (ifVersion !== undefined) {
        // Checked against the version read here; changeVersion's condition (that version still
        // live) makes the commit fail if it changes before then, and the retry lands here again.
        const cur = await tx.currentVersion(r.entry!.ino);
        const live = cur === undefined ? undefined : String(cur.ctid);
        if (live !== ifVersion)
          throw new PreconditionFailed(
            strataError(
              "ECONFLICT",
              `${op.path} changed since version ${ifVersion} (now ${live ?? "gone"}); re-read it and retry`,
              { path: op.path, pfs, ifVersion, ...(live !== undefined ? { live } : {}) },
            ),
          );
      }
      const v = await engine.changeVersion(
        tx,
        r.entry!.ino,
        { content: op.content, size: Number(op.content.size), mtime: now },
        "write",
        op.path,
      );
      return statOf(r.entry!.ino, v);
    }
    case "setattr": {
      const r = await existing(op.comps, op.path, true);
      const changes: Record<string, Value> = {};
      if (op.attrs.mode !== undefined) changes.mode = op.attrs.mode;
      if (op.attrs.uid !== undefined) changes.uid = op.attrs.uid;
      if (op.attrs.gid !== undefined) changes.gid = op.attrs.gid;
      if (op.attrs.atimeMs !== undefined) changes.atime = op.attrs.atimeMs;
      if (op.attrs.mtimeMs !== undefined) changes.mtime = op.attrs.mtimeMs;
      const v = await engine.changeVersion(tx, r.entry!.ino, changes, "setattr", op.path);
      return statOf(r.entry!.ino, v);
    }
    case "setTag":
    case "removeTag": {
      const r = await existing(op.comps, op.path, true);
      const cur = await tx.currentVersion(r.entry!.ino);
      if (!cur) throw strataError("ENOENT", `${op.path} no longer exists`, { path: op.path, pfs });
      const tags = { ...((cur.tags as Record<string, string>) ?? {}) };
      if (op.op === "setTag") {
        if (tags[op.key] === op.value) return statOf(r.entry!.ino, cur);
        tags[op.key] = op.value;
        if (Object.keys(tags).length > NS_LIMITS.tagsPerInode)
          throw strataError("E2BIG", `at most ${NS_LIMITS.tagsPerInode} tags per object`, {
            path: op.path,
            pfs,
          });
      } else {
        if (!(op.key in tags))
          throw strataError("ENOENT", `${op.path} has no tag ${op.key}`, { path: op.path, pfs, key: op.key });
        delete tags[op.key];
      }
      const v = await engine.changeVersion(tx, r.entry!.ino, { tags }, "tag", op.path);
      return statOf(r.entry!.ino, v);
    }
    case "setXattr":
    case "removeXattr": {
      const r = await existing(op.comps, op.path, true);
      const cur = await tx.currentVersion(r.entry!.ino);
      if (!cur) throw strataError("ENOENT", `${op.path} no longer exists`, { path: op.path, pfs });
      const xattrs = { ...((cur.xattrs as Record<string, Uint8Array>) ?? {}) };
      const has = Object.hasOwn(xattrs, op.name);
      if (op.op === "setXattr") {
        if (op.create && has)
          throw strataError("EEXIST", `${op.path} already has xattr ${op.name}`, { path: op.path, pfs });
        if (op.replace && !has)
          throw strataError("ENOENT", `${op.path} has no xattr ${op.name}`, { path: op.path, pfs });
        xattrs[op.name] = op.value;
        let total = 0;
        for (const [k, v] of Object.entries(xattrs)) total += utf8Length(k) + v.length;
        if (total > NS_LIMITS.xattrTotalBytes)
          throw strataError(
            "E2BIG",
            `xattrs of one object are limited to ${NS_LIMITS.xattrTotalBytes} bytes`,
            {
              path: op.path,
              pfs,
            },
          );
      } else {
        if (!has) throw strataError("ENOENT", `${op.path} has no xattr ${op.name}`, { path: op.path, pfs });
        delete xattrs[op.name];
      }
      const v = await engine.changeVersion(tx, r.entry!.ino, { xattrs }, "xattr", op.path);
      return statOf(r.entry!.ino, v);
    }
    case "unlink": {
      const r = await existing(op.comps, op.path, false);
      if (r.entry!.type === "dir")
        throw strataError("EISDIR", `${op.path} is a directory (use rmdir)`, { path: op.path, pfs });
      const { parent, name } = lastName(r, op.path, pfs);
      await unlinkEntry(engine, tx, parent, name, r.entry!, op.path);
      return undefined;
    }
    case "rmdir": {
      const r = await existing(op.comps, op.path, false);
      if (r.parent === undefined)
        throw strataError("EINVAL", "the root directory cannot be removed", { path: op.path, pfs });
      if (r.entry!.type !== "dir")
        throw strataError("ENOTDIR", `${op.path} is not a directory`, { path: op.path, pfs });
      await rmdirEntry(engine, tx, r.parent, r.name!, r.entry!.ino, op.path);
      return undefined;
    }
    case "link": {
      const src = await existing(op.existing, op.path, false);
      if (src.entry!.type === "dir")
        throw strataError("EISDIR", `cannot hard-link directory ${formatPath(op.existing)}`, {
          path: op.path,
          pfs,
        });
      const r = await resolve(reader, ctx, op.comps, false, op.path, blindOk);
      const { parent, name } = lastName(r, op.path, pfs);
      if (r.entry) throw strataError("EEXIST", `${op.path} already exists`, { path: op.path, pfs });
      tx.blind.set(keyId(entryKey(ctx.id, parent, name)), op.path);
      const cur = await tx.currentVersion(src.entry!.ino);
      if (!cur)
        throw strataError("ENOENT", `${formatPath(op.existing)} no longer exists`, { path: op.path, pfs });
      const v = await engine.changeVersion(
        tx,
        src.entry!.ino,
        { nlink: Number(cur.nlink) + 1 },
        "link",
        op.path,
      );
      engine.addEntry(tx, parent, name, src.entry!);
      return statOf(src.entry!.ino, v);
    }
    case "rename":
      await planRename(engine, tx, reader, op);
      return undefined;
  }
}

export async function unlinkEntry(
  engine: NamespaceKernel,
  tx: Tx,
  parent: ObjectId,
  name: string,
  entry: EntryRef,
  path: string,
) {
  await engine.removeEntry(tx, parent, name);
  const cur = await tx.currentVersion(entry.ino);
  if (!cur) return;
  const nlink = Number(cur.nlink);
  if (nlink > 1) await engine.changeVersion(tx, entry.ino, { nlink: nlink - 1 }, "unlink", path);
  else await engine.endVersion(tx, entry.ino, "unlink");
}

export async function rmdirEntry(
  engine: NamespaceKernel,
  tx: Tx,
  parent: ObjectId,
  name: string,
  ino: ObjectId,
  path: string,
) {
  await engine.leaseDir(tx, ino, path);
  if (await tx.hasEntries(ino))
    throw strataError("ENOTEMPTY", `directory ${path} is not empty`, { path, pfs: tx.ctx.name });
  await engine.removeEntry(tx, parent, name);
  await engine.endVersion(tx, ino, "rmdir");
  engine.deleteCtl(tx, ino);
}

export async function planRename(
  engine: NamespaceKernel,
  tx: Tx,
  reader: Reader,
  op: { from: string[]; to: string[]; path: string; noReplace: boolean },
): Promise<void> {
  const ctx = tx.ctx;
  const pfs = ctx.name;
  const from = formatPath(op.from);
  const to = formatPath(op.to);
  if (op.from.length === 0 || op.to.length === 0)
    throw strataError("EINVAL", "the root directory cannot be renamed or replaced", { path: op.path, pfs });
  const src = await resolve(reader, ctx, op.from, false, from);
  if (!src.entry) throw strataError("ENOENT", `${from} does not exist`, { path: from, pfs });
  const dst = await resolve(reader, ctx, op.to, false, to);
  const srcRef = src.entry;
  const srcParent = src.parent!;
  const dstParent = dst.parent!;
  const dstName = dst.name!;
  if (dst.entry && op.noReplace) throw strataError("EEXIST", `${to} already exists`, { path: to, pfs });
  if (dst.entry && dst.entry.ino === srcRef.ino) return; // rename(2): same object, nothing to do
  if (srcRef.type === "dir" && (dst.chain.includes(srcRef.ino) || isWithin(dst.comps, src.comps)))
    throw strataError("EINVAL", `cannot move directory ${from} under itself (${to})`, { path: from, pfs });
  if (dst.entry) {
    if (dst.entry.ino === srcRef.ino) return; // rename(2): same object, nothing to do
    if (op.noReplace) throw strataError("EEXIST", `${to} already exists`, { path: to, pfs });
    if (srcRef.type === "dir" && dst.entry.type !== "dir")
      throw strataError("ENOTDIR", `cannot replace non-directory ${to} by directory ${from}`, {
        path: to,
        pfs,
      });
    if (srcRef.type !== "dir" && dst.entry.type === "dir")
      throw strataError("EISDIR", `cannot replace directory ${to} by non-directory ${from}`, {
        path: to,
        pfs,
      });
    if (dst.entry.type === "dir") await rmdirEntry(engine, tx, dstParent, dstName, dst.entry.ino, to);
    else await unlinkEntry(engine, tx, dstParent, dstName, dst.entry, to);
  }
  await engine.removeEntry(tx, srcParent, src.name!);
  engine.addEntry(tx, dstParent, dstName, srcRef);
  if (srcRef.type === "dir") {
    // Ancestors of the target keep their parents: a racing opposite move fails one of us.
    for (let i = 1; i < dst.chain.length; i++)
      tx.check(ctlKey(ctx.id, dst.chain[i]!), { op: "eq", attr: "parent", value: dst.chain[i - 1]! });
    const key = ctlKey(ctx.id, srcRef.ino);
    const ctl = await tx.get(key);
    if (!ctl) throw strataError("ENOENT", `${from} no longer exists`, { path: from, pfs });
    tx.put({ ...ctl, parent: dstParent, name: dstName }, { op: "eq", attr: "parent", value: srcParent });
  }
}

/**
 * Restore `comps` to its state in `then`, one transaction per path: first the path itself
 * (removing what is there now when it differs), then, when recursive, every child name present
 * then or now. A subtree revert is therefore NOT atomic (docs/namespace.md).
 */
const missingAsUndefined = (err: unknown) => {
  if (isStrataError(err, "ENOENT") || isStrataError(err, "ENOTDIR")) return undefined;
  throw err;
};

/**
 * Plan a whole revert — the path and, when recursive, its subtree — into ONE transaction.
 * The caller falls back to {@link revertTree} (one transaction per path) when it needs more
 * than 100 items (E2BIG).
 */
export async function planRevert(
  engine: NamespaceKernel,
  tx: Tx,
  comps: string[],
  path: string,
  then: AsOfReader,
  recursive: boolean,
): Promise<void> {
  const ctx = tx.ctx;
  const thenRef = await resolve(then, ctx, comps, false, path).then((r) => r.entry, missingAsUndefined);
  if (recursive && comps.length > 0) {
    const now = await resolve(new TxReader(tx), ctx, comps, false, path).then(
      (r) => r.entry,
      missingAsUndefined,
    );
    if (now?.type === "dir" && (!thenRef || thenRef.ino !== now.ino))
      await removeTreeTx(engine, tx, comps, now.ino);
  }
  await revertOne(engine, tx, comps, path, then, thenRef, recursive);
  if (!recursive || thenRef?.type !== "dir") return;
  const names = new Set<string>((await tx.liveEntries(thenRef.ino)).keys());
  const fs = engine.pfs(ctx.name);
  let cursor: string | undefined;
  do {
    const page = await fs.readdir(formatPath(comps), { asOf: then.tid, ...(cursor ? { cursor } : {}) });
    for (const e of page.entries) names.add(e.name);
    cursor = page.cursor;
  } while (cursor);
  for (const name of [...names].sort(compareUtf8)) {
    const child = [...comps, name];
    await planRevert(engine, tx, child, formatPath(child), then, true);
  }
}

/** Plan removing the directory at `comps` and everything below it into `tx`. */
async function removeTreeTx(engine: NamespaceKernel, tx: Tx, comps: string[], dir: ObjectId): Promise<void> {
  for (const [name, item] of await tx.liveEntries(dir)) {
    const child = [...comps, name];
    if (item.type === "dir") await removeTreeTx(engine, tx, child, String(item.ino));
    else await planOp(engine, tx, { op: "unlink", comps: child, path: formatPath(child) });
  }
  await planOp(engine, tx, { op: "rmdir", comps, path: formatPath(comps) });
}

export async function revertTree(
  engine: NamespaceKernel,
  pfs: string,
  comps: string[],
  path: string,
  then: AsOfReader,
  recursive: boolean,
  note: (tid: Tid | undefined) => void,
): Promise<void> {
  const ctx = await engine.context(pfs);
  const thenRef = await resolve(then, ctx, comps, false, path).then(
    (r) => r.entry,
    (err) => {
      if (isStrataError(err, "ENOENT") || isStrataError(err, "ENOTDIR")) return undefined;
      throw err;
    },
  );
  // Children that exist now under a directory that must go (or be replaced) are removed first.
  if (recursive) {
    const fs = engine.pfs(pfs);
    const now = await fs.lstat(formatPath(comps)).catch((err) => {
      if (isStrataError(err, "ENOENT") || isStrataError(err, "ENOTDIR")) return undefined;
      throw err;
    });
    if (now?.type === "dir" && comps.length > 0 && (!thenRef || thenRef.ino !== now.ino))
      await removeTree(engine, pfs, comps, note);
  }
  const { tid } = await engine.write(pfs, (tx) =>
    revertOne(engine, tx, comps, path, then, thenRef, recursive),
  );
  note(tid);
  if (!recursive || thenRef?.type !== "dir") return;
  const names = new Set<string>();
  let cursor: string | undefined;
  const fs = engine.pfs(pfs);
  do {
    const page = await fs.readdir(formatPath(comps), { asOf: then.tid, ...(cursor ? { cursor } : {}) });
    for (const e of page.entries) names.add(e.name);
    cursor = page.cursor;
  } while (cursor);
  cursor = undefined;
  do {
    const page = await fs.readdir(formatPath(comps), cursor ? { cursor } : {});
    for (const e of page.entries) names.add(e.name);
    cursor = page.cursor;
  } while (cursor);
  for (const name of [...names].sort())
    await revertTree(engine, pfs, [...comps, name], formatPath([...comps, name]), then, true, note);
}

export async function removeTree(
  engine: NamespaceKernel,
  pfs: string,
  comps: string[],
  note: (tid: Tid | undefined) => void,
) {
  const fs = engine.pfs(pfs);
  const path = formatPath(comps);
  for (;;) {
    const page = await fs.readdir(path, { limit: 100 });
    if (page.entries.length === 0) break;
    for (const e of page.entries) {
      const child = [...comps, e.name];
      if (e.type === "dir") await removeTree(engine, pfs, child, note);
      else
        note(
          (
            await engine.write(pfs, (tx) =>
              planOp(engine, tx, { op: "unlink", comps: child, path: formatPath(child) }),
            )
          ).tid,
        );
    }
  }
  note((await engine.write(pfs, (tx) => planOp(engine, tx, { op: "rmdir", comps, path }))).tid);
}

export async function revertOne(
  engine: NamespaceKernel,
  tx: Tx,
  comps: string[],
  path: string,
  then: AsOfReader,
  thenRef: EntryRef | undefined,
  recursive: boolean,
): Promise<void> {
  const ctx = tx.ctx;
  const pfs = ctx.name;
  const reader = new TxReader(tx);
  const live = await resolve(reader, ctx, comps, false, path);
  const nowRef = live.entry;
  const attrsThen = async (ino: ObjectId) => {
    const v = await then.inode(ino);
    if (!v) throw strataError("EPRUNED", `the version of ${path} at ${then.tid} is gone`, { path, pfs });
    return stripVersion(v);
  };
  if (comps.length === 0) {
    // The root: restore its attributes only (children are handled by the recursion).
    const attrs = await attrsThen(ctx.root);
    await engine.replaceVersion(tx, ctx.root, { ...attrs, nlink: 2 }, "revert");
    return;
  }
  const parent = live.parent!;
  const name = live.name!;
  if (nowRef && thenRef && nowRef.ino === thenRef.ino) {
    const cur = await tx.currentVersion(nowRef.ino);
    const attrs = await attrsThen(nowRef.ino);
    await engine.replaceVersion(
      tx,
      nowRef.ino,
      { ...attrs, nlink: Number(cur?.nlink ?? attrs.nlink) },
      "revert",
    );
    return;
  }
  if (nowRef) {
    if (nowRef.type === "dir") {
      if (!recursive && (await tx.hasEntries(nowRef.ino)))
        throw strataError("ENOTEMPTY", `${path} is a non-empty directory now; revert it recursively`, {
          path,
          pfs,
        });
      await rmdirEntry(engine, tx, parent, name, nowRef.ino, path);
    } else await unlinkEntry(engine, tx, parent, name, nowRef, path);
  }
  if (!thenRef) return;
  const attrs = await attrsThen(thenRef.ino);
  if (thenRef.type === "dir") {
    if (live.chain.includes(thenRef.ino))
      throw strataError("EINVAL", `cannot revert ${path}: its directory now lies above it`, { path, pfs });
    const key = ctlKey(ctx.id, thenRef.ino);
    const ctl = await tx.get(key);
    if (ctl) {
      // The directory lives elsewhere now: move it back.
      await engine.removeEntry(tx, String(ctl.parent), String(ctl.name));
      for (let i = 1; i < live.chain.length; i++)
        tx.check(ctlKey(ctx.id, live.chain[i]!), { op: "eq", attr: "parent", value: live.chain[i - 1]! });
      tx.put({ ...ctl, parent, name }, { op: "eq", attr: "parent", value: String(ctl.parent) });
      await engine.replaceVersion(tx, thenRef.ino, { ...attrs, nlink: 2 }, "revert");
    } else {
      tx.put({ ...key, parent, name }, { op: "notExists" });
      await engine.replaceVersion(tx, thenRef.ino, { ...attrs, nlink: 2 }, "revert");
    }
  } else {
    const cur = await tx.currentVersion(thenRef.ino);
    await engine.replaceVersion(
      tx,
      thenRef.ino,
      { ...attrs, nlink: cur ? Number(cur.nlink) + 1 : 1 },
      "revert",
    );
  }
  engine.addEntry(tx, parent, name, thenRef);
}
