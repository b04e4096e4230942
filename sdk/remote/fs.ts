/**
 * The remote SDK's namespace calls: a {@link FileSystem} (or a read-only as-of view) and the
 * {@link Namespace} whose every call is one RPC (sdk/remote/rpc.ts).
 */
import { strataError } from "../../core/errors.ts";
import type {
  AsOf,
  BatchOp,
  CreateOptions,
  FileContent,
  FileSystem,
  Namespace,
  PfsInfo,
  ReaddirPage,
  ReadOptions,
  RevertOptions,
  RevertPlan,
  SetAttrs,
  Snapshot,
  Stat,
  Tid,
  Version,
} from "../../core/namespace/api.ts";
import { allPages, asOfToWire, type Rpc } from "./rpc.ts";

/** The most versions one `fs.history` page may ask for (the server's LIST_PAGE.limit). */
const HISTORY_PAGE = 1000;

/** A FileSystem (or, with `point`, a read-only as-of view) whose calls are RPCs. */
export class RemoteFs implements FileSystem {
  constructor(
    readonly rpc: Rpc,
    readonly pfs: string,
    readonly point?: AsOf,
  ) {}

  call<T>(op: string, input: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    return this.rpc.call<T>(op, input, { pfs: this.pfs, signal });
  }

  /** Read input: the view's point (an explicit `asOf` wins). */
  private at(input: Record<string, unknown>, options?: ReadOptions): Record<string, unknown> {
    const point = options?.asOf ?? this.point;
    return point === undefined ? input : { ...input, asOf: asOfToWire(point) };
  }

  private writable(path: string): void {
    if (this.point !== undefined)
      throw strataError("EROFS", `cannot change ${path}: this is a read-only as-of view`, {
        path,
        pfs: this.pfs,
      });
  }

  stat(path: string, options?: ReadOptions): Promise<Stat> {
    return this.call("fs.stat", this.at({ path }, options));
  }
  lstat(path: string, options?: ReadOptions): Promise<Stat> {
    return this.call("fs.lstat", this.at({ path }, options));
  }
  readdir(path: string, options?: ReadOptions & { cursor?: string; limit?: number }): Promise<ReaddirPage> {
    return this.call(
      "fs.readdir",
      this.at({ path, cursor: options?.cursor, limit: options?.limit }, options),
    );
  }
  async readlink(path: string, options?: ReadOptions): Promise<string> {
    return (await this.call<{ target: string }>("fs.readlink", this.at({ path }, options))).target;
  }
  async getXattr(path: string, name: string, options?: ReadOptions): Promise<Uint8Array> {
    return (await this.call<{ value: Uint8Array }>("fs.getXattr", this.at({ path, name }, options))).value;
  }
  async listXattrs(path: string, options?: ReadOptions): Promise<string[]> {
    return (await this.call<{ names: string[] }>("fs.listXattrs", this.at({ path }, options))).names;
  }
  async getTags(path: string, options?: ReadOptions): Promise<Record<string, string>> {
    return (await this.call<{ tags: Record<string, string> }>("fs.getTags", this.at({ path }, options))).tags;
  }

  mkdir(path: string, options?: { mode?: number; recursive?: boolean }): Promise<Stat> {
    this.writable(path);
    return this.call("fs.mkdir", { path, mode: options?.mode, recursive: options?.recursive });
  }
  /** Files are created through the data plane (upload.commit) or `batch`; this covers inline contents. */
  async create(path: string, options?: CreateOptions): Promise<Stat> {
    await this.batch([{ op: "create", path, options }]);
    return this.lstat(path);
  }
  async writeContent(path: string, content: FileContent): Promise<Stat> {
    await this.batch([{ op: "writeContent", path, content }]);
    return this.lstat(path);
  }
  async rename(from: string, to: string, options?: { noReplace?: boolean }): Promise<void> {
    this.writable(from);
    await this.call("fs.rename", { from, to, noReplace: options?.noReplace });
  }
  async unlink(path: string): Promise<void> {
    this.writable(path);
    await this.call("fs.unlink", { path });
  }
  async rmdir(path: string): Promise<void> {
    this.writable(path);
    await this.call("fs.rmdir", { path });
  }
  symlink(target: string, path: string): Promise<Stat> {
    this.writable(path);
    return this.call("fs.symlink", { target, path });
  }
  link(existing: string, path: string): Promise<Stat> {
    this.writable(path);
    return this.call("fs.link", { existing, path });
  }
  setattr(path: string, attrs: SetAttrs): Promise<Stat> {
    this.writable(path);
    return this.call("fs.setattr", { path, attrs });
  }
  async setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options?: { create?: boolean; replace?: boolean },
  ): Promise<void> {
    this.writable(path);
    await this.call("fs.setXattr", { path, name, value, create: options?.create, replace: options?.replace });
  }
  async removeXattr(path: string, name: string): Promise<void> {
    this.writable(path);
    await this.call("fs.removeXattr", { path, name });
  }
  async setTag(path: string, key: string, value: string): Promise<void> {
    this.writable(path);
    await this.call("fs.setTag", { path, key, value });
  }
  async removeTag(path: string, key: string): Promise<void> {
    this.writable(path);
    await this.call("fs.removeTag", { path, key });
  }
  /** Follows `fs.history`'s pages (each reply ≤ 1 MB) until `limit` versions or the oldest. */
  async history(path: string, options: { limit?: number; before?: Tid } = {}): Promise<Version[]> {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const out: Version[] = [];
    let cursor = options.before;
    do {
      const page = await this.call<{ versions: Version[]; next?: string }>("fs.history", {
        path,
        limit: Math.min(limit - out.length, HISTORY_PAGE),
        ...(cursor !== undefined ? { cursor } : {}),
      });
      out.push(...page.versions);
      cursor = page.next;
    } while (cursor !== undefined && out.length < limit);
    return out;
  }
  revert(path: string, asOf: AsOf, options: RevertOptions & { dryRun: true }): Promise<RevertPlan>;
  revert(path: string, asOf: AsOf, options?: RevertOptions): Promise<Tid>;
  async revert(path: string, asOf: AsOf, options: RevertOptions = {}): Promise<Tid | RevertPlan> {
    this.writable(path);
    const out = await this.call<{ tid?: Tid; plan?: RevertPlan }>("fs.revert", {
      path,
      asOf: asOfToWire(asOf),
      recursive: options.recursive,
      byPath: options.byPath,
      dryRun: options.dryRun,
    });
    return options.dryRun === true ? out.plan! : out.tid!;
  }
  async batch(ops: BatchOp[]): Promise<Tid> {
    this.writable("/");
    return (await this.call<{ tid: Tid }>("fs.batch", { ops })).tid;
  }
  asOf(point: AsOf): RemoteFs {
    return new RemoteFs(this.rpc, this.pfs, point);
  }
  createSnapshot(name: string, options?: { asOf?: AsOf }): Promise<Snapshot> {
    return this.call("snapshot.create", {
      name,
      asOf: options?.asOf === undefined ? undefined : asOfToWire(options.asOf),
    });
  }
  async listSnapshots(): Promise<Snapshot[]> {
    return allPages(
      (cursor) => this.call<{ snapshots: Snapshot[]; next?: string }>("snapshot.list", { cursor }),
      (p) => p.snapshots,
    );
  }
  async deleteSnapshot(name: string): Promise<void> {
    await this.call("snapshot.delete", { name });
  }
  async currentTid(): Promise<Tid> {
    return (await this.call<{ tid: Tid }>("fs.currentTid", {})).tid;
  }
}

/** The namespace (PFS list and lifecycle) over the API. */
export class RemoteNamespace implements Namespace {
  constructor(private readonly rpc: Rpc) {}
  createPfs(name: string): Promise<PfsInfo> {
    return this.rpc.call("pfs.create", { name });
  }
  async listPfs(): Promise<PfsInfo[]> {
    return allPages(
      (cursor) => this.rpc.call<{ pfs: PfsInfo[]; next?: string }>("pfs.list", { cursor }),
      (p) => p.pfs,
    );
  }
  async deletePfs(name: string): Promise<void> {
    await this.rpc.call("pfs.delete", { name });
  }
  pfs(name: string): FileSystem {
    return new RemoteFs(this.rpc, name);
  }
}

/** The RemoteFs behind a FileSystem the remote data plane is handed (EINVAL for any other). */
export function remoteFs(fs: unknown): RemoteFs {
  if (fs instanceof RemoteFs) return fs;
  throw strataError("EINVAL", "the remote data plane works on file systems of the same remote deployment");
}
