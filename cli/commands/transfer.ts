/**
 * put and get: copy files and (with -r) directory trees between this machine and strata.
 * Bytes are streamed (SDK createReadStream / createWriteStream), never held whole in memory; up
 * to TRANSFER_CONCURRENCY files move at once. A put file appears in strata only when complete;
 * a get file is written to "<name>.strata-part-<pid>" and renamed into place when complete.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, mkdir, readdir, readlink, rename, stat, symlink, unlink } from "node:fs/promises";
import { basename, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { mapLimit } from "../../core/concurrency.ts";
import { isStrataError, type StrataError, strataError } from "../../core/errors.ts";
import type { Strata, StrataReader } from "../../sdk/index.ts";
import type { CommandContext, CommandSpec } from "../command.ts";
import { baseName, humanBytes, joinPath } from "../format.ts";
import { Progress } from "../progress.ts";
import { destinationIn, pfsPath } from "./files.ts";
import { AS_OF_OPTION, flag, readerOf } from "./options.ts";

const TRANSFER_CONCURRENCY = 4;
const STAT_CONCURRENCY = 8;

interface Plan {
  dirs: string[];
  files: Array<{ from: string; to: string; size: number; mode: number }>;
  links: Array<{ to: string; target: string }>;
}

/** A local file-system failure as a StrataError (same code classes as strata's own). */
function localError(err: unknown, what: string, local: string): StrataError {
  const code = (err as NodeJS.ErrnoException)?.code;
  const known = ["ENOENT", "EEXIST", "EACCES", "ENOTDIR", "EISDIR", "ENOTEMPTY"] as const;
  const mapped = code === "EPERM" ? "EACCES" : (known.find((k) => k === code) ?? "EIO");
  return strataError(mapped, `${what} ${local}: ${(err as Error)?.message ?? err}`, { local }, err);
}

/** The EABORTED error of an interrupted transfer (Node's pipeline rejects with a plain AbortError). */
function abortedError(ctx: CommandContext, err: unknown): StrataError | undefined {
  if (!ctx.signal.aborted) return undefined;
  return strataError("EABORTED", "interrupted: the file was not written (no partial file is left)", {}, err);
}

/**
 * `fn` with a signal of its own that follows the command's (Ctrl-C): each file's streams hang
 * their abort listeners (the pipeline's, the SDK stream's, the data plane's) on it, so the
 * command's signal carries one listener per file in flight, not three — TRANSFER_CONCURRENCY
 * files at once stay under Node's MaxListeners (10) and a real leak would still be reported.
 */
export async function withFileSignal<T>(
  parent: AbortSignal,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const follow = () => controller.abort(parent.reason);
  if (parent.aborted) follow();
  else parent.addEventListener("abort", follow, { once: true });
  try {
    return await fn(controller.signal);
  } finally {
    parent.removeEventListener("abort", follow);
  }
}

async function localStat(local: string) {
  try {
    return await stat(local);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw localError(err, "cannot stat", local);
  }
}

function summary(verb: string, plan: Plan, progress: Progress): string {
  const parts = [`${plan.files.length} file${plan.files.length === 1 ? "" : "s"}`];
  if (plan.dirs.length > 0) parts.push(`${plan.dirs.length} director${plan.dirs.length === 1 ? "y" : "ies"}`);
  if (plan.links.length > 0) parts.push(`${plan.links.length} symlink${plan.links.length === 1 ? "" : "s"}`);
  return `${verb} ${parts.join(", ")}, ${humanBytes(progress.moved)} in ${progress.seconds.toFixed(1)} s`;
}

function planJson(plan: Plan, progress: Progress) {
  return {
    files: plan.files.map((f) => ({ from: f.from, to: f.to, size: f.size })),
    dirs: plan.dirs,
    links: plan.links,
    bytes: progress.moved,
  };
}

const JSON_NOTE =
  'JSON: {"files":[{"from","to","size"}],"dirs":["…"],"links":[{"to","target"}],"bytes"} (paths after the copy: strata paths for put, local paths for get).';

/** Walk a local tree: directories parents first, files, symlinks (kept as symlinks, target verbatim). */
async function planPut(localRoot: string, remoteRoot: string): Promise<Plan> {
  const plan: Plan = { dirs: [remoteRoot], files: [], links: [] };
  const walk = async (local: string, remote: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(local, { withFileTypes: true });
    } catch (err) {
      throw localError(err, "cannot read the directory", local);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const from = join(local, e.name);
      const to = joinPath(remote, e.name);
      if (e.isDirectory()) {
        plan.dirs.push(to);
        await walk(from, to);
      } else if (e.isSymbolicLink()) {
        plan.links.push({ to, target: await readlink(from) });
      } else if (e.isFile()) {
        const st = await lstat(from);
        plan.files.push({ from, to, size: st.size, mode: st.mode & 0o777 });
      }
      // Sockets, FIFOs and devices have no meaning in strata: skipped.
    }
  };
  await walk(localRoot, remoteRoot);
  return plan;
}

async function putSymlink(client: Strata, target: string, path: string): Promise<void> {
  try {
    await client.symlink(target, path);
  } catch (err) {
    // A second put of the same tree replaces its own earlier symlinks, as it replaces files.
    if (!isStrataError(err, "EEXIST") || !(await client.lstat(path)).isSymbolicLink()) throw err;
    await client.unlink(path);
    await client.symlink(target, path);
  }
}

const put: CommandSpec = {
  name: "put",
  summary: "upload a local file (or with -r a directory) into strata",
  args: "<local|-> <path>",
  positionals: { min: 2, max: 2 },
  options: { recursive: { type: "boolean", short: "r", description: "upload a directory tree" } },
  examples: [
    "strata put ./frame-0001.exr /renders/",
    "strata put ./notes.txt /notes.txt",
    "strata put -r ./shot42 /show/shot42",
    "tar c ./logs | strata put - /archive/logs.tar",
  ],
  notes: [
    "When <path> is an existing directory the file (or tree) goes inside it under its own name. An existing file is replaced (a new version; the old one stays in history). Local symlinks are recreated as symlinks with the same target.",
    JSON_NOTE,
  ],
  async run(ctx, { positionals, options }) {
    const local = positionals[0]!;
    if (local === "-") return putStdin(ctx, pfsPath(positionals[1]!));
    const st = await localStat(local);
    if (!st) {
      throw strataError("ENOENT", `no local file or directory ${local}`, { local });
    }
    const client = await ctx.client();
    const remote = await destinationIn(client, pfsPath(positionals[1]!), basename(local));
    let plan: Plan;
    if (st.isDirectory()) {
      if (!flag(options, "recursive")) {
        throw strataError(
          "EISDIR",
          `${local} is a directory: \`strata put -r ${local} ${positionals[1]}\` uploads it`,
          {
            local,
          },
        );
      }
      plan = await planPut(local, remote);
    } else {
      plan = {
        dirs: [],
        files: [{ from: local, to: remote, size: st.size, mode: st.mode & 0o777 }],
        links: [],
      };
    }
    const progress = transferProgress(ctx, "put", plan);
    try {
      for (const dir of plan.dirs) await client.mkdir(dir, { recursive: true });
      await mapLimit(plan.files, TRANSFER_CONCURRENCY, (f) =>
        withFileSignal(ctx.signal, (signal) =>
          pipeline(
            createReadStream(f.from),
            progress.counter(),
            client.createWriteStream(f.to, { mode: f.mode, signal }),
            { signal },
          ).catch((err) => {
            throw isStrataError(err)
              ? err
              : (abortedError(ctx, err) ?? localError(err, "cannot read", f.from));
          }),
        ),
      );
      for (const l of plan.links) await putSymlink(client, l.target, l.to);
    } finally {
      progress.finish();
    }
    ctx.emit(planJson(plan, progress), () => summary(`put ${remote}:`, plan, progress));
    return 0;
  },
};

/** `put - <path>`: stdin streamed into one file (its size is known only at the end). */
async function putStdin(ctx: CommandContext, remote: string): Promise<number> {
  const stdin = ctx.io.stdin;
  if (!stdin) throw strataError("EINVAL", "put - reads standard input, which this process does not have", {});
  const client = await ctx.client();
  const plan: Plan = { dirs: [], files: [{ from: "-", to: remote, size: 0, mode: 0o644 }], links: [] };
  const progress = transferProgress(ctx, "put", plan);
  try {
    await pipeline(stdin, progress.counter(), client.createWriteStream(remote, { signal: ctx.signal }), {
      signal: ctx.signal,
    }).catch((err) => {
      throw isStrataError(err)
        ? err
        : (abortedError(ctx, err) ?? localError(err, "cannot read", "standard input"));
    });
  } finally {
    progress.finish();
  }
  plan.files[0]!.size = progress.moved;
  ctx.emit(planJson(plan, progress), () => summary(`put ${remote}:`, plan, progress));
  return 0;
}

async function planGet(reader: StrataReader, remoteRoot: string, localRoot: string, signal: AbortSignal) {
  const plan: Plan = { dirs: [localRoot], files: [], links: [] };
  const walk = async (remote: string, local: string) => {
    const dirents = [];
    for await (const d of reader.opendir(remote, { signal })) dirents.push(d);
    const subdirs: Array<[string, string]> = [];
    const files = dirents.filter((d) => d.isFile());
    const sized = await mapLimit(files, STAT_CONCURRENCY, async (d) => {
      const st = await reader.lstat(joinPath(remote, d.name));
      return {
        from: joinPath(remote, d.name),
        to: join(local, d.name),
        size: st.size,
        mode: st.mode & 0o777,
      };
    });
    plan.files.push(...sized);
    for (const d of dirents) {
      if (d.isDirectory()) {
        plan.dirs.push(join(local, d.name));
        subdirs.push([joinPath(remote, d.name), join(local, d.name)]);
      } else if (d.isSymbolicLink()) {
        plan.links.push({ to: join(local, d.name), target: await reader.readlink(joinPath(remote, d.name)) });
      }
    }
    for (const [r, l] of subdirs) await walk(r, l);
  };
  await walk(remoteRoot, localRoot);
  return plan;
}

async function getFile(
  reader: StrataReader,
  from: string,
  to: string,
  mode: number,
  ctx: CommandContext,
  progress: Progress,
) {
  const partial = `${to}.strata-part-${process.pid}`;
  try {
    await withFileSignal(ctx.signal, (signal) =>
      pipeline(
        reader.createReadStream(from, { signal }),
        progress.counter(),
        createWriteStream(partial, { mode }),
        { signal },
      ),
    );
    await rename(partial, to);
  } catch (err) {
    await unlink(partial).catch(() => {});
    throw isStrataError(err) ? err : (abortedError(ctx, err) ?? localError(err, "cannot write", to));
  }
}

async function getSymlink(target: string, local: string): Promise<void> {
  try {
    await symlink(target, local);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST")
      throw localError(err, "cannot create the symlink", local);
    const existing = await lstat(local);
    if (!existing.isSymbolicLink()) throw localError(err, "cannot create the symlink", local);
    await unlink(local);
    await symlink(target, local);
  }
}

const get: CommandSpec = {
  name: "get",
  summary: "download a file (or with -r a directory) from strata",
  args: "<path> <local>",
  positionals: { min: 2, max: 2 },
  options: {
    recursive: { type: "boolean", short: "r", description: "download a directory tree" },
    ...AS_OF_OPTION,
  },
  examples: [
    "strata get /renders/frame-0001.exr .",
    "strata get -r /show/shot42 ./shot42-copy",
    "strata get /config/app.yaml ./app.yaml --as-of @before-migration",
  ],
  notes: [
    "When <local> is an existing directory the file (or tree) goes inside it under its own name. Each file is written to <name>.strata-part-<pid> and renamed when complete. Symlinks are recreated as symlinks with the same target.",
    JSON_NOTE,
  ],
  async run(ctx, { positionals, options }) {
    const reader = readerOf(await ctx.client(), options);
    const remote = pfsPath(positionals[0]!);
    const st = await reader.stat(remote);
    const localArg = positionals[1]!;
    const existing = await localStat(localArg);
    const local = existing?.isDirectory() ? join(localArg, baseName(remote)) : localArg;
    let plan: Plan;
    if (st.isDirectory()) {
      if (!flag(options, "recursive")) {
        throw strataError(
          "EISDIR",
          `${remote} is a directory: \`strata get -r ${remote} ${localArg}\` downloads it`,
          {
            path: remote,
          },
        );
      }
      plan = await planGet(reader, remote, local, ctx.signal);
    } else {
      plan = {
        dirs: [],
        files: [{ from: remote, to: local, size: st.size, mode: st.mode & 0o777 }],
        links: [],
      };
    }
    const progress = transferProgress(ctx, "get", plan);
    try {
      for (const dir of plan.dirs) {
        await mkdir(dir, { recursive: true }).catch((err) => {
          throw localError(err, "cannot create the directory", dir);
        });
      }
      await mapLimit(plan.files, TRANSFER_CONCURRENCY, (f) =>
        getFile(reader, f.from, f.to, f.mode, ctx, progress),
      );
      for (const l of plan.links) await getSymlink(l.target, l.to);
    } finally {
      progress.finish();
    }
    ctx.emit(planJson(plan, progress), () => summary(`get ${local}:`, plan, progress));
    return 0;
  },
};

function transferProgress(ctx: CommandContext, label: string, plan: Plan): Progress {
  const total = plan.files.reduce((sum, f) => sum + f.size, 0);
  return new Progress(ctx.io.stderr, label, total, ctx.io.stderr.isTTY === true && !ctx.json);
}

export const transferCommands: CommandSpec[] = [put, get];
