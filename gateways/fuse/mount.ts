/**
 * `strata mount`: a strata client as a FUSE file system, through fuse-native 2.2.6 (libfuse 2.9,
 * bundled as a prebuild; it mounts through /dev/fuse). The binding calls back into this process's
 * event loop, so this process must never touch the mount with a synchronous fs call (it would
 * wait for itself): tests and tools drive the mount from other processes.
 *
 * Operations live in ops.ts; this file only adapts the binding's callback convention and maps
 * errors to errnos (errno.ts, one table).
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { strataError } from "../../core/errors.ts";
import type { Strata } from "../../sdk/index.ts";
import { toErrno } from "./errno.ts";
import { StrataFuseOps, type StrataFuseOptions } from "./ops.ts";

/** The part of fuse-native's class this module uses (the package ships no types). */
interface FuseInstance {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
}
type FuseClass = new (
  mnt: string,
  ops: Record<string, unknown>,
  opts: Record<string, unknown>,
) => FuseInstance;

export interface MountOptions {
  client: Strata;
  /** An existing, empty directory. */
  mountpoint: string;
  /** The namespace directory shown as the mount root (default "/"). */
  root?: string;
  /** Where write buffers go (default: a fresh directory under the OS temp dir, removed at unmount). */
  cacheDir?: string;
  /** Attribute/listing cache lifetime in ms, in this process and in the kernel (default 1,000). */
  cacheTtlMs?: number;
  /** libfuse debug output on stderr. */
  debug?: boolean;
  /** Test-only: see StrataFuseOptions.testOnly; `errno` replaces the error table. */
  testOnly?: StrataFuseOptions["testOnly"] & { errno?: (err: unknown) => number };
}

export interface StrataMount {
  readonly mountpoint: string;
  readonly ops: StrataFuseOps;
  /** Unmount (lazily when busy) and drop the write buffers. */
  unmount(): Promise<void>;
}

type Cb = (code: number, ...values: unknown[]) => void;

/** fuse-native's operation table over {@link StrataFuseOps}; `errno` maps a rejection to the reply. */
export function fuseOperations(
  ops: StrataFuseOps,
  errno: (err: unknown) => number = toErrno,
): Record<string, unknown> {
  /** Run `body` and answer the binding: 0 + values on success, a negative errno on failure. */
  function answer<T>(cb: Cb, body: () => Promise<T> | T, reply: (value: T) => unknown[] = () => []): void {
    Promise.resolve()
      .then(body)
      .then(
        (value) => cb(0, ...reply(value)),
        (err: unknown) => cb(errno(err)),
      );
  }
  /** Byte-count answers (read, write): the count itself is the result, a negative errno on failure. */
  function count(cb: (n: number) => void, body: () => Promise<number>): void {
    body().then(cb, (err: unknown) => cb(errno(err)));
  }
  return {
    init: (cb: Cb) => cb(0),
    getattr: (path: string, cb: Cb) =>
      answer(
        cb,
        () => ops.getattr(path),
        (st) => [st],
      ),
    fgetattr: (path: string, _fd: number, cb: Cb) =>
      answer(
        cb,
        () => ops.getattr(path),
        (st) => [st],
      ),
    readdir: (path: string, cb: Cb) =>
      answer(
        cb,
        () => ops.readdir(path),
        (names) => [names],
      ),
    readlink: (path: string, cb: Cb) =>
      answer(
        cb,
        () => ops.readlink(path),
        (target) => [target],
      ),
    statfs: (_path: string, cb: Cb) =>
      answer(
        cb,
        () => ops.statfs(),
        (s) => [s],
      ),
    open: (path: string, flags: number, cb: Cb) =>
      answer(
        cb,
        () => ops.open(path, flags),
        (fh) => [fh],
      ),
    create: (path: string, mode: number, cb: Cb) =>
      answer(
        cb,
        () => ops.create(path, mode),
        (fh) => [fh],
      ),
    mknod: (path: string, mode: number, _dev: number, cb: Cb) => answer(cb, () => ops.mknod(path, mode)),
    read: (_path: string, fh: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) =>
      count(cb, () => ops.read(fh, buf, len, pos)),
    write: (_path: string, fh: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) =>
      count(cb, () => ops.write(fh, buf, len, pos)),
    flush: (_path: string, fh: number, cb: Cb) => answer(cb, () => ops.flush(fh)),
    fsync: (_path: string, _datasync: number, fh: number, cb: Cb) => answer(cb, () => ops.fsync(fh)),
    release: (_path: string, fh: number, cb: Cb) => answer(cb, () => ops.release(fh)),
    truncate: (path: string, size: number, cb: Cb) => answer(cb, () => ops.truncate(path, size)),
    ftruncate: (_path: string, fh: number, size: number, cb: Cb) => answer(cb, () => ops.ftruncate(fh, size)),
    unlink: (path: string, cb: Cb) => answer(cb, () => ops.unlink(path)),
    rename: (from: string, to: string, cb: Cb) => answer(cb, () => ops.rename(from, to)),
    mkdir: (path: string, mode: number, cb: Cb) => answer(cb, () => ops.mkdir(path, mode)),
    rmdir: (path: string, cb: Cb) => answer(cb, () => ops.rmdir(path)),
    symlink: (target: string, path: string, cb: Cb) => answer(cb, () => ops.symlink(target, path)),
    link: (existing: string, path: string, cb: Cb) => answer(cb, () => ops.link(existing, path)),
    chmod: (path: string, mode: number, cb: Cb) => answer(cb, () => ops.chmod(path, mode)),
    chown: (path: string, uid: number, gid: number, cb: Cb) => answer(cb, () => ops.chown(path, uid, gid)),
    utimens: (path: string, atime: number, mtime: number, cb: Cb) =>
      answer(cb, () => ops.utimens(path, atime, mtime)),
    getxattr: (path: string, name: string, _position: number, cb: Cb) =>
      answer(
        cb,
        () => ops.getxattr(path, name),
        (value) => [Buffer.from(value.buffer, value.byteOffset, value.byteLength)],
      ),
    listxattr: (path: string, cb: Cb) =>
      answer(
        cb,
        () => ops.listxattr(path),
        (names) => [names],
      ),
    setxattr: (path: string, name: string, value: Buffer, _position: number, flags: number, cb: Cb) =>
      answer(cb, () => ops.setxattr(path, name, value, flags)),
    removexattr: (path: string, name: string, cb: Cb) => answer(cb, () => ops.removexattr(path, name)),
  };
}

let seq = 0;

/**
 * Mount `client` at `mountpoint`. Resolves once the kernel has the mount.
 * @example const m = await mountStrata({ client, mountpoint: "/mnt/strata" }); … await m.unmount();
 */
export async function mountStrata(options: MountOptions): Promise<StrataMount> {
  const mountpoint = resolve(options.mountpoint);
  const ttl = options.cacheTtlMs ?? 1000;
  const cacheDir = options.cacheDir ?? join(tmpdir(), `strata-mount-${process.pid}-${Date.now()}-${seq++}`);
  const ops = new StrataFuseOps({
    client: options.client,
    cacheDir,
    root: options.root,
    cacheTtlMs: ttl,
    testOnly: options.testOnly,
  });
  await ops.init();
  const Fuse = createRequire(import.meta.url)("fuse-native") as FuseClass;
  const seconds = Math.max(0, ttl / 1000);
  const fuse = new Fuse(mountpoint, fuseOperations(ops, options.testOnly?.errno), {
    // use_ino: st_ino comes from strata (hard links share it). fuse-native has no option for
    // it, so it rides along in fsname's comma-separated option list.
    fsname: "strata,use_ino",
    subtype: "strata",
    // The kernel checks permission bits against the caller (as a local file system does).
    defaultPermissions: true,
    attrTimeout: seconds,
    entryTimeout: seconds,
    debug: options.debug === true,
    // Commits (flush, fsync, release) and large reads may take long: no binding timeout there.
    timeout: { default: 60_000, flush: false, fsync: false, release: false, read: false, write: false },
  });
  await new Promise<void>((ok, fail) =>
    fuse.mount((err) =>
      err
        ? fail(strataError("EIO", `cannot mount at ${mountpoint}: ${err.message}`, { mountpoint }, err))
        : ok(),
    ),
  );
  let unmounted = false;
  return {
    mountpoint,
    ops,
    async unmount() {
      if (unmounted) return;
      unmounted = true;
      if (await isMounted(mountpoint)) {
        const viaBinding = await new Promise<boolean>((ok) => fuse.unmount((err) => ok(!err)));
        if (!viaBinding && (await isMounted(mountpoint))) await forceUnmount(mountpoint);
      } else {
        // Unmounted from elsewhere (fusermount3 -u): the binding's own unmount would fail on
        // `fusermount -uz` before releasing its hold on the event loop; release it directly.
        releaseBinding(fuse, mountpoint);
      }
      await ops.close();
    },
  };
}

/** fuse-native's native unmount: it only lets go of the event loop (the kernel mount is gone). */
function releaseBinding(fuse: FuseInstance, mountpoint: string): void {
  const require = createRequire(createRequire(import.meta.url).resolve("fuse-native"));
  const binding = require("node-gyp-build")(dirname(require.resolve("fuse-native"))) as {
    fuse_native_unmount(mnt: string, thread: unknown): void;
  };
  const thread = (fuse as unknown as { _thread?: unknown })._thread;
  if (thread !== undefined) binding.fuse_native_unmount(mountpoint, thread);
}

/** Is `mountpoint` a mount point now (from /proc/self/mountinfo; never touches the mount itself)? */
export async function isMounted(mountpoint: string): Promise<boolean> {
  const info = await readFile("/proc/self/mountinfo", "utf8");
  // Field 5 is the mount point, with spaces etc. escaped as \040.
  return info.split("\n").some((line) => line.split(" ")[4]?.replace(/\\040/g, " ") === mountpoint);
}

/** `fusermount3 -u`, then a lazy `umount -l` (for a mount still busy or whose process died). */
export async function forceUnmount(mountpoint: string): Promise<void> {
  const run = promisify(execFile);
  for (const [cmd, args] of [
    ["fusermount3", ["-u", mountpoint]],
    ["fusermount", ["-u", mountpoint]],
    ["umount", ["-l", mountpoint]],
  ] as const) {
    try {
      await run(cmd, [...args]);
      return;
    } catch {
      // try the next way
    }
  }
  throw strataError("EIO", `cannot unmount ${mountpoint}: fusermount3 -u and umount -l failed`, {
    mountpoint,
  });
}
