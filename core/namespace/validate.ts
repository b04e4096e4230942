/**
 * Input validation and record decoding for the namespace engine: every check runs before
 * anything is read or written (docs/namespace.md, "Size bounds").
 */
import { strataError } from "../errors.ts";
import type { Item, Value } from "../metadata/port.ts";
import { utf8Length, wellFormed } from "../metadata/values.ts";
import type { BatchOp, FileContent, FileType, ObjectId, SetAttrs, Stat } from "./api.ts";
import { PATH_DEPTH_MAX, PATH_MAX, parsePath } from "./path.ts";

/** Bounds the engine enforces (docs/namespace.md, "Size bounds"). */
export const NS_LIMITS = {
  /** Symlinks followed while resolving one path before ELOOP (Linux's MAXSYMLINKS). */
  symlinkFollow: 40,
  tagKeyBytes: 128,
  tagValueBytes: 1024,
  tagsPerInode: 64,
  xattrNameBytes: 255,
  xattrValueBytes: 64 * 1024,
  /** Sum of xattr name + value bytes per inode (keeps a version inside the 400 KB item limit). */
  xattrTotalBytes: 192 * 1024,
  /** Inline content bytes per file version. */
  inlineBytes: 64 * 1024,
  extentsPerVersion: 1000,
  symlinkTargetBytes: PATH_MAX,
  /** Components of a path once cleaned (core/namespace/path.ts). */
  pathDepth: PATH_DEPTH_MAX,
} as const;

export function toStat(pfs: string, ino: ObjectId, v: Item): Stat {
  const stat: Stat = {
    pfs,
    ino,
    type: String(v.type) as FileType,
    mode: Number(v.mode),
    uid: Number(v.uid),
    gid: Number(v.gid),
    size: Number(v.size),
    nlink: Number(v.nlink),
    atimeMs: Number(v.atime),
    mtimeMs: Number(v.mtime),
    ctimeMs: Number(v.ctime),
    birthtimeMs: Number(v.btime),
    tid: String(v.ctid),
  };
  if (typeof v.target === "string") stat.target = v.target;
  if (v.content && typeof v.content === "object")
    stat.content = decodeContent(v.content as Record<string, Value>);
  return stat;
}

export function decodeContent(v: Record<string, Value>): FileContent {
  const out: FileContent = { size: Number(v.size) };
  if (v.inline instanceof Uint8Array) out.inline = new Uint8Array(v.inline);
  if (Array.isArray(v.extents))
    out.extents = v.extents.map((e) => {
      const x = e as Record<string, Value>;
      return {
        offset: Number(x.offset),
        length: Number(x.length),
        chunk: String(x.chunk),
        crc32c: Number(x.crc32c),
      };
    });
  return out;
}

export function isNonNegInt(n: unknown, max = Number.MAX_SAFE_INTEGER): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= max;
}

export function checkContent(content: FileContent, path: string): Record<string, Value> {
  if (!content || typeof content !== "object")
    throw strataError("EINVAL", "content must be an object", { path });
  if (!isNonNegInt(content.size))
    throw strataError("EINVAL", "content.size must be a non-negative integer", { path });
  const out: Record<string, Value> = { size: content.size };
  if (content.inline !== undefined) {
    if (!(content.inline instanceof Uint8Array))
      throw strataError("EINVAL", "content.inline must be a Uint8Array", { path });
    if (content.inline.length > NS_LIMITS.inlineBytes)
      throw strataError("E2BIG", `inline content is limited to ${NS_LIMITS.inlineBytes} bytes`, { path });
    if (content.inline.length !== content.size)
      throw strataError("EINVAL", "content.inline.length must equal content.size", { path });
    out.inline = new Uint8Array(content.inline);
  }
  if (content.extents !== undefined) {
    if (!Array.isArray(content.extents))
      throw strataError("EINVAL", "content.extents must be an array", { path });
    if (content.extents.length > NS_LIMITS.extentsPerVersion)
      throw strataError("E2BIG", `at most ${NS_LIMITS.extentsPerVersion} extents per version`, { path });
    out.extents = content.extents.map((e) => {
      if (
        !e ||
        !isNonNegInt(e.offset) ||
        !isNonNegInt(e.length) ||
        typeof e.chunk !== "string" ||
        e.chunk.length === 0 ||
        !isNonNegInt(e.crc32c, 0xffffffff)
      )
        throw strataError("EINVAL", "each extent needs offset, length, chunk and crc32c", { path });
      return { offset: e.offset, length: e.length, chunk: e.chunk, crc32c: e.crc32c };
    });
  }
  return out;
}

export function checkMode(mode: unknown, path: string): number {
  if (!isNonNegInt(mode, 0o7777))
    throw strataError("EINVAL", "mode must be an integer in 0..0o7777", { path });
  return mode;
}

export function checkId(id: unknown, what: string, path: string): number {
  if (!isNonNegInt(id, 0xffffffff))
    throw strataError("EINVAL", `${what} must be an integer in 0..2^32-1`, { path });
  return id;
}

export function checkAttrs(attrs: SetAttrs, path: string): SetAttrs {
  if (!attrs || typeof attrs !== "object") throw strataError("EINVAL", "attrs must be an object", { path });
  const out: SetAttrs = {};
  if (attrs.mode !== undefined) out.mode = checkMode(attrs.mode, path);
  if (attrs.uid !== undefined) out.uid = checkId(attrs.uid, "uid", path);
  if (attrs.gid !== undefined) out.gid = checkId(attrs.gid, "gid", path);
  for (const t of ["atimeMs", "mtimeMs"] as const) {
    const v = attrs[t];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isFinite(v))
      throw strataError("EINVAL", `${t} must be a finite number`, { path });
    out[t] = v;
  }
  return out;
}

export function checkTag(key: string, value: string | undefined, path: string): void {
  if (typeof key !== "string" || key.length === 0)
    throw strataError("EINVAL", "a tag key must be a non-empty string", { path });
  if (key.includes("\u0000")) throw strataError("EINVAL", "a tag key cannot contain NUL", { path });
  if (!wellFormed(key))
    throw strataError("EINVAL", "a tag key cannot hold a lone UTF-16 surrogate", { path });
  if (utf8Length(key) > NS_LIMITS.tagKeyBytes)
    throw strataError("E2BIG", `a tag key is limited to ${NS_LIMITS.tagKeyBytes} UTF-8 bytes`, { path, key });
  if (value === undefined) return;
  if (typeof value !== "string") throw strataError("EINVAL", "a tag value must be a string", { path, key });
  if (!wellFormed(value))
    throw strataError("EINVAL", "a tag value cannot hold a lone UTF-16 surrogate", { path, key });
  if (utf8Length(value) > NS_LIMITS.tagValueBytes)
    throw strataError("E2BIG", `a tag value is limited to ${NS_LIMITS.tagValueBytes} UTF-8 bytes`, {
      path,
      key,
    });
}

export function checkXattrName(name: string, path: string): void {
  if (typeof name !== "string" || name.length === 0)
    throw strataError("EINVAL", "an xattr name must be a non-empty string", { path });
  if (name.includes("\u0000")) throw strataError("EINVAL", "an xattr name cannot contain NUL", { path });
  if (!wellFormed(name))
    throw strataError("EINVAL", "an xattr name cannot hold a lone UTF-16 surrogate", { path });
  if (utf8Length(name) > NS_LIMITS.xattrNameBytes)
    throw strataError("ENAMETOOLONG", `an xattr name is limited to ${NS_LIMITS.xattrNameBytes} UTF-8 bytes`, {
      path,
      name,
    });
}

export function checkTarget(target: string, path: string): void {
  if (typeof target !== "string") throw strataError("EINVAL", "a symlink target must be a string", { path });
  // Linux: symlink("") is ENOENT; a target of PATH_MAX bytes or more is ENAMETOOLONG.
  if (target.length === 0) throw strataError("ENOENT", "a symlink target cannot be empty", { path });
  if (target.includes("\u0000")) throw strataError("EINVAL", "a symlink target cannot contain NUL", { path });
  if (!wellFormed(target))
    throw strataError("EINVAL", "a symlink target cannot hold a lone UTF-16 surrogate", { path });
  if (utf8Length(target) >= NS_LIMITS.symlinkTargetBytes)
    throw strataError(
      "ENAMETOOLONG",
      `a symlink target must be shorter than ${NS_LIMITS.symlinkTargetBytes} bytes`,
      {
        path,
      },
    );
}

/** A name-like string: 1..255 UTF-8 bytes, no NUL, well-formed (a lone surrogate has no UTF-8 form). */
const goodName = (name: unknown): name is string =>
  typeof name === "string" &&
  name.length > 0 &&
  !name.includes("\u0000") &&
  wellFormed(name) &&
  utf8Length(name) <= 255;

export function checkPfsName(name: string): void {
  if (!goodName(name))
    throw strataError("EINVAL", "a PFS name is 1..255 UTF-8 bytes without NUL or lone surrogates", {
      pfs: typeof name === "string" ? name : String(typeof name),
    });
}

export function checkSnapshotName(name: string, pfs: string): void {
  // Checked before anything else: a name the store refuses after the TID was closed would
  // otherwise leave that write behind a rejected call.
  if (!goodName(name))
    throw strataError("EINVAL", "a snapshot name is 1..255 UTF-8 bytes without NUL or lone surrogates", {
      pfs,
      snapshot: typeof name === "string" ? name : String(typeof name),
    });
}

export function stripVersion(v: Item): Record<string, Value> {
  const { pk: _pk, sk: _sk, crc: _crc, ctid: _c, dtid: _d, dchange: _dc, change: _ch, ...rest } = v;
  return rest as Record<string, Value>;
}

export type Op =
  | { op: "mkdir"; comps: string[]; path: string; mode: number; uid: number; gid: number }
  | {
      op: "create";
      comps: string[];
      path: string;
      mode: number;
      uid: number;
      gid: number;
      content?: Record<string, Value>;
    }
  | { op: "writeContent"; comps: string[]; path: string; content: Record<string, Value> }
  | { op: "unlink"; comps: string[]; path: string }
  | { op: "rmdir"; comps: string[]; path: string }
  | { op: "rename"; from: string[]; to: string[]; path: string; noReplace: boolean }
  | { op: "symlink"; target: string; comps: string[]; path: string }
  | { op: "link"; existing: string[]; comps: string[]; path: string }
  | { op: "setattr"; comps: string[]; path: string; attrs: SetAttrs }
  | { op: "setTag"; comps: string[]; path: string; key: string; value: string }
  | { op: "removeTag"; comps: string[]; path: string; key: string }
  | {
      op: "setXattr";
      comps: string[];
      path: string;
      name: string;
      value: Uint8Array;
      create: boolean;
      replace: boolean;
    }
  | { op: "removeXattr"; comps: string[]; path: string; name: string };

/** Validate a public batch op into a planned op (throws before anything is read or written). */
export function parseOp(op: BatchOp): Op {
  if (!op || typeof op !== "object") throw strataError("EINVAL", "a batch op must be an object");
  switch (op.op) {
    case "mkdir":
      return {
        op: "mkdir",
        comps: parsePath(op.path),
        path: op.path,
        mode: checkMode(op.mode ?? 0o755, op.path),
        uid: 0,
        gid: 0,
      };
    case "create": {
      const o = op.options ?? {};
      return {
        op: "create",
        comps: parsePath(op.path),
        path: op.path,
        mode: checkMode(o.mode ?? 0o644, op.path),
        uid: checkId(o.uid ?? 0, "uid", op.path),
        gid: checkId(o.gid ?? 0, "gid", op.path),
        ...(o.content ? { content: checkContent(o.content, op.path) } : {}),
      };
    }
    case "writeContent":
      return {
        op: "writeContent",
        comps: parsePath(op.path),
        path: op.path,
        content: checkContent(op.content, op.path),
      };
    case "unlink":
      return { op: "unlink", comps: parsePath(op.path), path: op.path };
    case "rmdir":
      return { op: "rmdir", comps: parsePath(op.path), path: op.path };
    case "rename":
      return {
        op: "rename",
        from: parsePath(op.from),
        to: parsePath(op.to),
        path: op.from,
        noReplace: false,
      };
    case "symlink":
      checkTarget(op.target, op.path);
      return { op: "symlink", target: op.target, comps: parsePath(op.path), path: op.path };
    case "link":
      return { op: "link", existing: parsePath(op.existing), comps: parsePath(op.path), path: op.path };
    case "setattr":
      return {
        op: "setattr",
        comps: parsePath(op.path),
        path: op.path,
        attrs: checkAttrs(op.attrs, op.path),
      };
    case "setTag":
      checkTag(op.key, op.value, op.path);
      return { op: "setTag", comps: parsePath(op.path), path: op.path, key: op.key, value: op.value };
    case "removeTag":
      checkTag(op.key, undefined, op.path);
      return { op: "removeTag", comps: parsePath(op.path), path: op.path, key: op.key };
    default:
      throw strataError("EINVAL", `unknown batch op ${JSON.stringify((op as { op: unknown }).op)}`);
  }
}
