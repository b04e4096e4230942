/**
 * `FileSystem` over one PFS, and read-only as-of views of it.
 */
import { isStrataError, strataError } from "../errors.ts";
import type { Item, Value } from "../metadata/port.ts";
import { compareUtf8 } from "../metadata/values.ts";
import type {
  AsOf,
  BatchOp,
  CreateOptions,
  DirEntry,
  FileContent,
  FileSystem,
  KeyedWrites,
  ObjectId,
  ReadableFileSystem,
  ReaddirPage,
  ReadOptions,
  RevertOptions,
  RevertPlan,
  SetAttrs,
  Snapshot,
  Stat,
  Tid,
  Version,
  WriteContentOptions,
} from "./api.ts";
import { revertFence } from "./confine.ts";
import { fingerprintOf, type Idempotency } from "./idempotency.ts";
import type { NamespaceKernel, WriteOutcome } from "./kernel.ts";
import { PreconditionFailed, planOp, type WriteContentOp } from "./ops.ts";
import { formatPath, isWithin, parsePath } from "./path.ts";
import { dirPk, HIGH, inoPk, seal, snapshotPk, VERSION_PREFIX, verify } from "./records.ts";
import { AsOfReader, entryRef, type Reader, readdirAsOf, resolve, TxReader } from "./resolve.ts";
import { runRevert } from "./revert.ts";
import { invertTid, isTid, tidToDate, ZERO_TID } from "./tid.ts";
import { type PfsContext, Tx } from "./tx.ts";
import {
  checkId,
  checkMode,
  checkSnapshotName,
  checkXattrName,
  NS_LIMITS,
  type Op,
  parseOp,
  toStat,
} from "./validate.ts";

export class PfsFileSystem implements FileSystem {
  /** Transactions this file system has started (numbers the idempotency sub-keys). */
  private writes = 0;
  /** Of those, the ones an idempotency record answers, and whether one replayed (KeyedWrites). */
  private answered = 0;
  private replayed = false;

  constructor(
    readonly engine: NamespaceKernel,
    readonly pfs: string,
    /** A confined view's prefix (core/namespace/confine.ts); undefined = the whole PFS. */
    readonly beneath?: readonly string[],
    /**
     * The caller's idempotency key for the ONE operation this instance serves (e.g. one HTTP
     * request): its n-th transaction is recorded under `key`, then `key#2`, `key#3`… — the same
     * numbering on a retry of the same operation (core/namespace/idempotency.ts).
     */
    readonly idempotencyKey?: string,
  ) {}

  keyedWrites(): KeyedWrites | undefined {
    if (this.idempotencyKey === undefined) return undefined;
    return { transactions: this.writes, answered: this.answered, replayed: this.replayed };
  }

  /** The idempotency of this instance's next transaction, for `request` (its fingerprint). */
  private idem(request: unknown): Idempotency | undefined {
    if (this.idempotencyKey === undefined) return undefined;
    const n = ++this.writes;
    return {
      key: n === 1 ? this.idempotencyKey : `${this.idempotencyKey}#${n}`,
      fingerprint: fingerprintOf(request),
    };
  }

  private async run(op: Op): Promise<{ stat: Stat | undefined; tid: Tid | undefined }> {
    const { result, tid } = await this.write((tx) => planOp(this.engine, tx, op), undefined, this.idem(op));
    return { stat: result, tid };
  }

  /** Every write of this view: one transaction, confined when the view is (and fenced if asked). */
  private async write<T>(
    plan: (tx: Tx) => Promise<T>,
    fence?: (tx: Tx) => Promise<void>,
    idem?: Idempotency,
  ): Promise<WriteOutcome<T>> {
    const outcome = await this.engine.write(
      this.pfs,
      plan,
      this.beneath && { beneath: this.beneath, ...(fence ? { fence } : {}) },
      idem,
    );
    if (idem && outcome.answer) {
      this.answered++;
      if (outcome.answer === "replayed") this.replayed = true;
    }
    return outcome;
  }

  /** The PFS's context, carrying this view's confinement. */
  private async context(): Promise<PfsContext> {
    const ctx = await this.engine.context(this.pfs);
    return this.beneath ? { ...ctx, beneath: this.beneath } : ctx;
  }

  /** Whole-PFS changes are not a confined view's to make. */
  private wholePfs(what: string): void {
    if (this.beneath)
      throw strataError(
        "EACCES",
        `${what} acts on the whole PFS; this view is confined to ${formatPath(this.beneath)}`,
        {
          pfs: this.pfs,
          beneath: formatPath(this.beneath),
        },
      );
  }

  /** A reader for `options.asOf`, or a live read-only transaction. */
  private async reader(options?: ReadOptions): Promise<{ reader: Reader; ctx: PfsContext; live: boolean }> {
    const ctx = await this.context();
    if (options?.asOf !== undefined) {
      const tid = await this.engine.readTid(ctx, options.asOf);
      return { reader: new AsOfReader(this.engine, ctx, tid), ctx, live: false };
    }
    const tx = new Tx(this.engine.store, ctx, ZERO_TID, this.engine.clock());
    return { reader: new TxReader(tx), ctx, live: true };
  }

  private async inodeAt(
    path: string,
    follow: boolean,
    options?: ReadOptions,
  ): Promise<{ ino: ObjectId; v: Item; reader: Reader; ctx: PfsContext }> {
    const comps = parsePath(path);
    const { reader, ctx } = await this.reader(options);
    const r = await resolve(reader, ctx, comps, follow, path);
    if (!r.entry) throw strataError("ENOENT", `${path} does not exist`, { path, pfs: this.pfs });
    const v = await reader.inode(r.entry.ino);
    if (!v) {
      if (comps.length === 0) this.engine.forget(this.pfs);
      throw strataError("ENOENT", `${path} does not exist`, { path, pfs: this.pfs });
    }
    return { ino: r.entry.ino, v, reader, ctx };
  }

  async stat(path: string, options?: ReadOptions): Promise<Stat> {
    const { ino, v } = await this.inodeAt(path, true, options);
    return toStat(this.pfs, ino, v);
  }

  async lstat(path: string, options?: ReadOptions): Promise<Stat> {
    const { ino, v } = await this.inodeAt(path, false, options);
    return toStat(this.pfs, ino, v);
  }

  async readdir(
    path: string,
    options: ReadOptions & { cursor?: string; limit?: number } = {},
  ): Promise<ReaddirPage> {
    const comps = parsePath(path);
    if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1))
      throw strataError("EINVAL", "limit must be a positive integer", { path });
    const { reader, ctx, live } = await this.reader(options);
    const r = await resolve(reader, ctx, comps, true, path);
    if (!r.entry) throw strataError("ENOENT", `${path} does not exist`, { path, pfs: this.pfs });
    if (r.entry.type !== "dir")
      throw strataError("ENOTDIR", `${path} is not a directory`, { path, pfs: this.pfs });
    const dir = r.entry.ino;
    if (comps.length === 0 && !(await reader.inode(dir)))
      throw strataError("ENOENT", `PFS ${this.pfs} root does not exist at that point`, {
        path,
        pfs: this.pfs,
      });
    if (live) {
      const page = await this.engine.store.query(dirPk(ctx.id, dir), {
        ...(options.limit ? { limit: options.limit } : {}),
        ...(options.cursor ? { cursor: options.cursor } : {}),
      });
      const entries: DirEntry[] = [];
      for (const item of page.items) {
        const ref = entryRef(verify(item, this.pfs));
        if (ref) entries.push({ name: item.sk, type: ref.type, ino: ref.ino });
      }
      return page.cursor ? { entries, cursor: page.cursor } : { entries };
    }
    return readdirAsOf(
      this.engine.store,
      ctx,
      dir,
      (reader as AsOfReader).tid,
      options.cursor,
      options.limit,
    );
  }

  async readlink(path: string, options?: ReadOptions): Promise<string> {
    const { v } = await this.inodeAt(path, false, options);
    if (v.type !== "symlink" || typeof v.target !== "string")
      throw strataError("EINVAL", `${path} is not a symbolic link`, { path, pfs: this.pfs });
    return v.target;
  }

  async getXattr(path: string, name: string, options?: ReadOptions): Promise<Uint8Array> {
    checkXattrName(name, path);
    const { v } = await this.inodeAt(path, true, options);
    const value = (v.xattrs as Record<string, Uint8Array> | undefined)?.[name];
    if (!(value instanceof Uint8Array))
      throw strataError("ENOENT", `${path} has no xattr ${name}`, { path, pfs: this.pfs });
    return new Uint8Array(value);
  }

  async listXattrs(path: string, options?: ReadOptions): Promise<string[]> {
    const { v } = await this.inodeAt(path, true, options);
    return Object.keys((v.xattrs as Record<string, Value>) ?? {}).sort(compareUtf8);
  }

  async getTags(path: string, options?: ReadOptions): Promise<Record<string, string>> {
    const { v } = await this.inodeAt(path, true, options);
    const tags = (v.tags as Record<string, string>) ?? {};
    // Keys in UTF-8 byte order, whatever order the store kept the map in.
    const out: Record<string, string> = {};
    for (const k of Object.keys(tags).sort(compareUtf8)) out[k] = tags[k]!;
    return out;
  }

  async mkdir(
    path: string,
    options: { mode?: number; uid?: number; gid?: number; recursive?: boolean } = {},
  ): Promise<Stat> {
    const comps = parsePath(path);
    const mode = checkMode(options.mode ?? 0o755, path);
    const uid = checkId(options.uid ?? 0, "uid", path);
    const gid = checkId(options.gid ?? 0, "gid", path);
    if (!options.recursive) {
      if (comps.length === 0) throw strataError("EEXIST", "/ already exists", { path, pfs: this.pfs });
      return (await this.run({ op: "mkdir", comps, path, mode, uid, gid })).stat!;
    }
    // mkdir -p: one transaction per missing component (each idempotent under races); a confined
    // view starts at its own prefix (the directories above it are not its to create).
    for (let i = Math.max(1, this.beneath?.length ?? 0); i <= comps.length; i++) {
      const prefix = comps.slice(0, i);
      try {
        await this.run({ op: "mkdir", comps: prefix, path: formatPath(prefix), mode, uid, gid });
      } catch (err) {
        if (!isStrataError(err, "EEXIST")) throw err;
        const st = await this.stat(formatPath(prefix));
        if (st.type !== "dir")
          throw strataError("ENOTDIR", `${formatPath(prefix)} exists and is not a directory`, {
            path,
            pfs: this.pfs,
          });
      }
    }
    return this.stat(path);
  }

  async create(path: string, options: CreateOptions = {}): Promise<Stat> {
    return (await this.run(parseOp({ op: "create", path, options }))).stat!;
  }

  async writeContent(path: string, content: FileContent, options: WriteContentOptions = {}): Promise<Stat> {
    const op: WriteContentOp = parseOp({ op: "writeContent", path, content }) as WriteContentOp;
    if (options.ifVersion !== undefined) {
      if (!isTid(options.ifVersion))
        throw strataError("EINVAL", `ifVersion must be a TID (16 lowercase hex digits)`, {
          path,
          pfs: this.pfs,
        });
      op.ifVersion = options.ifVersion;
    }
    try {
      return (await this.run(op)).stat!;
    } catch (err) {
      if (err instanceof PreconditionFailed) throw err.error;
      throw err;
    }
  }

  async rename(from: string, to: string, options: { noReplace?: boolean } = {}): Promise<void> {
    const op = { op: "rename" as const, from: parsePath(from), to: parsePath(to), path: from };
    await this.crossing(op.from, op.to, this.run({ ...op, noReplace: options.noReplace === true }));
  }

  /**
   * Rename and link in a confined view: when resolving one endpoint leaves the scope while the
   * other is given inside it, the answer is EXDEV (as across file systems); both given outside
   * stays EACCES.
   */
  private async crossing<T>(a: string[], b: string[], done: Promise<T>): Promise<T> {
    try {
      return await done;
    } catch (err) {
      const beneath = this.beneath;
      if (!beneath || !isStrataError(err, "EACCES") || err.details.beneath === undefined) throw err;
      if (!isWithin(a, beneath) && !isWithin(b, beneath)) throw err;
      throw strataError(
        "EXDEV",
        `${formatPath(a)} → ${formatPath(b)}: resolving ${String(err.details.path)} leaves this view's scope ${formatPath(beneath)}; a rename or link cannot cross it`,
        err.details,
      );
    }
  }

  async unlink(path: string): Promise<void> {
    await this.run(parseOp({ op: "unlink", path }));
  }

  async rmdir(path: string): Promise<void> {
    await this.run(parseOp({ op: "rmdir", path }));
  }

  async symlink(target: string, path: string): Promise<Stat> {
    return (await this.run(parseOp({ op: "symlink", target, path }))).stat!;
  }

  async link(existing: string, path: string): Promise<Stat> {
    const op = parseOp({ op: "link", existing, path }) as Extract<Op, { op: "link" }>;
    return (await this.crossing(op.existing, op.comps, this.run(op))).stat!;
  }

  async setattr(path: string, attrs: SetAttrs): Promise<Stat> {
    return (await this.run(parseOp({ op: "setattr", path, attrs }))).stat!;
  }

  async setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options: { create?: boolean; replace?: boolean } = {},
  ): Promise<void> {
    const comps = parsePath(path);
    checkXattrName(name, path);
    if (!(value instanceof Uint8Array))
      throw strataError("EINVAL", "an xattr value must be a Uint8Array", { path });
    if (value.length > NS_LIMITS.xattrValueBytes)
      throw strataError("E2BIG", `an xattr value is limited to ${NS_LIMITS.xattrValueBytes} bytes`, {
        path,
        name,
      });
    if (options.create && options.replace)
      throw strataError("EINVAL", "create and replace cannot both be set", { path, name });
    await this.run({
      op: "setXattr",
      comps,
      path,
      name,
      value: new Uint8Array(value),
      create: options.create === true,
      replace: options.replace === true,
    });
  }

  async removeXattr(path: string, name: string): Promise<void> {
    const comps = parsePath(path);
    checkXattrName(name, path);
    await this.run({ op: "removeXattr", comps, path, name });
  }

  async setTag(path: string, key: string, value: string): Promise<void> {
    await this.run(parseOp({ op: "setTag", path, key, value }));
  }

  async removeTag(path: string, key: string): Promise<void> {
    await this.run(parseOp({ op: "removeTag", path, key }));
  }

  async history(path: string, options: { limit?: number; before?: Tid } = {}): Promise<Version[]> {
    if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1))
      throw strataError("EINVAL", "limit must be a positive integer", { path });
    if (options.before !== undefined && !isTid(options.before))
      throw strataError("EINVAL", "before must be a TID (16 hex digits)", { path, before: options.before });
    const { ino, ctx } = await this.inodeAt(path, false);
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const before = options.before;
    // Versions' TIDs strictly decrease down the list, so `before` resumes a page: the query starts
    // at the record committed at `before` (keys are inverted TIDs), not at the newest one.
    const sk = before
      ? { op: "between" as const, low: VERSION_PREFIX + invertTid(before), high: `${VERSION_PREFIX}${HIGH}` }
      : { op: "beginsWith" as const, value: VERSION_PREFIX };
    const out: Version[] = [];
    const push = (v: Version) => {
      if (out.length < limit && (before === undefined || v.tid < before)) out.push(v);
    };
    let cursor: string | undefined;
    let newerCtid: Tid | undefined;
    do {
      const page = await this.engine.store.query(inoPk(ctx.id, ino), { sk, ...(cursor ? { cursor } : {}) });
      for (const item of page.items) {
        verify(item, this.pfs);
        const ctid = String(item.ctid);
        if (item.dtid !== undefined && item.dtid !== newerCtid)
          push({
            tid: String(item.dtid),
            time: tidToDate(String(item.dtid)),
            change: String(item.dchange ?? "delete"),
          });
        push({
          tid: ctid,
          time: tidToDate(ctid),
          stat: toStat(this.pfs, ino, item),
          change: String(item.change),
        });
        newerCtid = ctid;
      }
      cursor = out.length < limit ? page.cursor : undefined;
    } while (cursor);
    return out;
  }

  revert(path: string, asOf: AsOf, options: RevertOptions & { dryRun: true }): Promise<RevertPlan>;
  revert(path: string, asOf: AsOf, options?: RevertOptions): Promise<Tid>;
  /** By identity, by path or a dry run: core/namespace/revert.ts (confined and fenced like every write here). */
  async revert(path: string, asOf: AsOf, options: RevertOptions = {}): Promise<Tid | RevertPlan> {
    // A dry run writes nothing: no idempotency key of its own.
    const idem =
      options.dryRun === true
        ? undefined
        : this.idem({ op: "revert", path, asOf, recursive: options.recursive, byPath: options.byPath });
    return runRevert(
      this.engine,
      {
        pfs: this.pfs,
        ctx: await this.context(),
        write: (plan) => this.write(plan, revertFence(this.engine), idem),
        // The step-by-step fallback is not confined: a confined view reverts in one transaction only.
        confined: this.beneath !== undefined,
      },
      path,
      asOf,
      options,
    );
  }

  async batch(ops: BatchOp[]): Promise<Tid> {
    if (!Array.isArray(ops) || ops.length === 0) throw strataError("EINVAL", "a batch needs at least one op");
    if (ops.length > 100) throw strataError("E2BIG", "a batch holds at most 100 ops (one transaction)");
    const parsed = ops.map(parseOp);
    const { tid } = await this.write(
      async (tx) => {
        // Blind creates only for a single op: later ops must see what the name really holds.
        for (const op of parsed) await planOp(this.engine, tx, op, parsed.length === 1);
      },
      undefined,
      this.idem({ op: "batch", ops: parsed }),
    );
    return tid ?? (await this.currentTid());
  }

  asOf(point: AsOf): ReadableFileSystem {
    return new AsOfView(this, point);
  }

  async createSnapshot(name: string, options: { asOf?: AsOf } = {}): Promise<Snapshot> {
    this.wholePfs("creating a snapshot");
    const ctx = await this.engine.context(this.pfs);
    checkSnapshotName(name, this.pfs);
    // A snapshot at a past point pins history only once written: until then a TID lease does.
    const { tid, lease } =
      options.asOf !== undefined
        ? await this.engine.leaseTid(ctx, options.asOf)
        : { tid: await this.engine.currentTid(ctx), lease: undefined };
    const createdAt = new Date(this.engine.clock());
    const idem = this.idem({ op: "createSnapshot", name, asOf: options.asOf });
    // With a key the snapshot item carries it: a retry of this call recognises its own snapshot.
    const item = seal({
      pk: snapshotPk(ctx.id),
      sk: name,
      tid,
      created: createdAt.getTime(),
      ...(idem && this.engine.opts.idempotentCommits ? { idem: idem.key } : {}),
    });
    const key = { pk: item.pk, sk: item.sk };
    try {
      try {
        await this.engine.writeOnce({ kind: "put", item, condition: { op: "notExists" } });
      } catch (err) {
        if (isStrataError(err, "ECONFLICT")) {
          const mine = err.details.item;
          if (idem && mine?.idem === idem.key)
            return { name, tid: String(mine.tid), createdAt: new Date(Number(mine.created)) };
          throw strataError("EEXIST", `snapshot ${name} already exists`, { pfs: this.pfs, snapshot: name });
        }
        throw err;
      }
      // Held until the snapshot was written: every vacuum saw the lease or sees the snapshot.
      await lease?.keep().catch(async (err) => {
        await this.engine.store
          .delete(key, { condition: { op: "eq", attr: "tid", value: tid } })
          .catch(() => {});
        throw err;
      });
    } finally {
      await lease?.release();
    }
    return { name, tid, createdAt };
  }

  async listSnapshots(): Promise<Snapshot[]> {
    const ctx = await this.engine.context(this.pfs);
    const out: Snapshot[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.engine.store.query(snapshotPk(ctx.id), cursor ? { cursor } : {});
      for (const item of page.items) {
        verify(item, this.pfs);
        out.push({ name: item.sk, tid: String(item.tid), createdAt: new Date(Number(item.created)) });
      }
      cursor = page.cursor;
    } while (cursor);
    return out;
  }

  async deleteSnapshot(name: string): Promise<void> {
    this.wholePfs("deleting a snapshot");
    const ctx = await this.engine.context(this.pfs);
    checkSnapshotName(name, this.pfs);
    const key = { pk: snapshotPk(ctx.id), sk: name };
    try {
      // Read first: "gone" after an ambiguous failure then means "deleted by this call", not
      // "never existed" (1 GetItem more).
      const snap = verify(await this.engine.store.get(key), this.pfs);
      if (!snap) throw strataError("ECONFLICT", "no such snapshot");
      await this.engine.writeOnce({
        kind: "delete",
        key,
        condition: { op: "eq", attr: "tid", value: String(snap.tid) },
      });
    } catch (err) {
      if (isStrataError(err, "ECONFLICT"))
        throw strataError("ENOENT", `snapshot ${name} does not exist`, { pfs: this.pfs, snapshot: name });
      throw err;
    }
  }

  async currentTid(): Promise<Tid> {
    return this.engine.currentTid(await this.engine.context(this.pfs));
  }
}

/** A read-only view at a fixed point; its TID is fixed (and closed) on first use. */
export class AsOfView implements ReadableFileSystem {
  private tid: Promise<Tid> | undefined;

  constructor(
    private readonly fs: PfsFileSystem,
    private readonly point: AsOf,
  ) {}

  get pfs(): string {
    return this.fs.pfs;
  }

  private async at(): Promise<ReadOptions> {
    if (!this.tid) {
      const p = (async () => {
        const engine = this.fs.engine;
        return engine.readTid(await engine.context(this.fs.pfs), this.point);
      })();
      this.tid = p;
      p.catch(() => {
        if (this.tid === p) this.tid = undefined;
      });
    }
    return { asOf: await this.tid };
  }

  async stat(path: string, options?: ReadOptions) {
    return this.fs.stat(path, { ...options, ...(await this.at()) });
  }
  async lstat(path: string, options?: ReadOptions) {
    return this.fs.lstat(path, { ...options, ...(await this.at()) });
  }
  async readdir(path: string, options: ReadOptions & { cursor?: string; limit?: number } = {}) {
    return this.fs.readdir(path, { ...options, ...(await this.at()) });
  }
  async readlink(path: string) {
    return this.fs.readlink(path, await this.at());
  }
  async getXattr(path: string, name: string) {
    return this.fs.getXattr(path, name, await this.at());
  }
  async listXattrs(path: string) {
    return this.fs.listXattrs(path, await this.at());
  }
  async getTags(path: string) {
    return this.fs.getTags(path, await this.at());
  }

  private readonly: () => never = () => {
    throw strataError("EROFS", `an as-of view of PFS ${this.fs.pfs} is read-only`, { pfs: this.fs.pfs });
  };
  mkdir = async (..._args: unknown[]): Promise<never> => this.readonly();
  create = async (..._args: unknown[]): Promise<never> => this.readonly();
  writeContent = async (..._args: unknown[]): Promise<never> => this.readonly();
  rename = async (..._args: unknown[]): Promise<never> => this.readonly();
  unlink = async (..._args: unknown[]): Promise<never> => this.readonly();
  rmdir = async (..._args: unknown[]): Promise<never> => this.readonly();
  symlink = async (..._args: unknown[]): Promise<never> => this.readonly();
  link = async (..._args: unknown[]): Promise<never> => this.readonly();
  setattr = async (..._args: unknown[]): Promise<never> => this.readonly();
  setXattr = async (..._args: unknown[]): Promise<never> => this.readonly();
  removeXattr = async (..._args: unknown[]): Promise<never> => this.readonly();
  setTag = async (..._args: unknown[]): Promise<never> => this.readonly();
  removeTag = async (..._args: unknown[]): Promise<never> => this.readonly();
  revert = async (..._args: unknown[]): Promise<never> => this.readonly();
  batch = async (..._args: unknown[]): Promise<never> => this.readonly();
  createSnapshot = async (..._args: unknown[]): Promise<never> => this.readonly();
  deleteSnapshot = async (..._args: unknown[]): Promise<never> => this.readonly();
}
