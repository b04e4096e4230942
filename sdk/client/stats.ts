/** The SDK's stat and directory-entry objects, shaped like node:fs's `Stats` and `Dirent`. */
import type { DirEntry, FileType, Stat, Tid } from "../../core/namespace/api.ts";
import type { StrataDirent, StrataStats } from "../types.ts";

const TYPE_BITS: Record<FileType, number> = { file: 0o100000, dir: 0o040000, symlink: 0o120000 };

export class Stats implements StrataStats {
  readonly mode: number;
  readonly type: FileType;
  readonly ino: string;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly nlink: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;
  readonly pfs: string;
  readonly tid: Tid;

  constructor(st: Stat) {
    this.mode = TYPE_BITS[st.type] | (st.mode & 0o7777);
    this.type = st.type;
    this.ino = st.ino;
    this.uid = st.uid;
    this.gid = st.gid;
    this.size = st.size;
    this.nlink = st.nlink;
    this.atimeMs = st.atimeMs;
    this.mtimeMs = st.mtimeMs;
    this.ctimeMs = st.ctimeMs;
    this.birthtimeMs = st.birthtimeMs;
    this.pfs = st.pfs;
    this.tid = st.tid;
  }
  get atime(): Date {
    return new Date(this.atimeMs);
  }
  get mtime(): Date {
    return new Date(this.mtimeMs);
  }
  get ctime(): Date {
    return new Date(this.ctimeMs);
  }
  get birthtime(): Date {
    return new Date(this.birthtimeMs);
  }
  isFile(): boolean {
    return this.type === "file";
  }
  isDirectory(): boolean {
    return this.type === "dir";
  }
  isSymbolicLink(): boolean {
    return this.type === "symlink";
  }
}

export class Dirent implements StrataDirent {
  readonly name: string;
  readonly type: FileType;
  readonly ino: string;
  constructor(
    entry: DirEntry,
    readonly parentPath: string,
  ) {
    this.name = entry.name;
    this.type = entry.type;
    this.ino = entry.ino;
  }
  isFile(): boolean {
    return this.type === "file";
  }
  isDirectory(): boolean {
    return this.type === "dir";
  }
  isSymbolicLink(): boolean {
    return this.type === "symlink";
  }
}
