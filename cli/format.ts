/** Human output helpers: `ls -l` columns, modes, sizes, times, and plain JSON views of SDK values. */
import type { Snapshot, StrataStats, Version } from "../sdk/index.ts";

const TYPE_CHAR = { file: "-", dir: "d", symlink: "l" } as const;

/** "drwxr-xr-x" from a type and permission bits. */
export function modeString(type: keyof typeof TYPE_CHAR, mode: number): string {
  const bits = "rwxrwxrwx";
  let out: string = TYPE_CHAR[type];
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? bits[i] : "-";
  return out;
}

/** Permission bits as 4 octal digits ("0644"). */
export function permOctal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/** "1.5 MiB" (for progress and summaries; `ls -l` prints exact bytes). */
export function humanBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** "2026-11-21 07:12" in local time: the `ls -l` column. */
export function shortTime(date: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())} ${p(date.getHours())}:${p(date.getMinutes())}`;
}

/** Rows of cells → lines with each column padded (numbers right-aligned when `right` says so). */
export function columns(rows: string[][], right: boolean[] = []): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) =>
        i === row.length - 1 ? cell : right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!),
      )
      .join("  "),
  );
}

/** The `--json` view of a stat (documented in docs/cli.md). */
export function statJson(path: string, st: StrataStats, target?: string) {
  return {
    path,
    type: st.type,
    size: st.size,
    mode: permOctal(st.mode),
    ino: st.ino,
    uid: st.uid,
    gid: st.gid,
    nlink: st.nlink,
    atime: st.atime.toISOString(),
    mtime: st.mtime.toISOString(),
    ctime: st.ctime.toISOString(),
    birthtime: st.birthtime.toISOString(),
    tid: st.tid,
    pfs: st.pfs,
    ...(target !== undefined ? { target } : {}),
  };
}

export function versionJson(v: Version) {
  return {
    tid: v.tid,
    time: new Date(v.time).toISOString(),
    change: v.change,
    ...(v.stat
      ? {
          type: v.stat.type,
          size: v.stat.size,
          mode: permOctal(v.stat.mode),
          mtime: new Date(v.stat.mtimeMs).toISOString(),
        }
      : { deleted: true }),
  };
}

export function snapshotJson(s: Snapshot) {
  return { name: s.name, tid: s.tid, createdAt: new Date(s.createdAt).toISOString() };
}

/** Join a child name to a directory path inside the PFS. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

/** Last component of a PFS path ("/" for the root). */
export function baseName(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1) || "/";
}
