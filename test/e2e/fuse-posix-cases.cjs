// POSIX cases run THROUGH a strata FUSE mount, modelled on pjdfstest's coverage (chmod, chown,
// link, mkdir, open, rename, rmdir, symlink, truncate, unlink, utimensat), error codes included.
// Run as a child process (node fuse-posix-cases.cjs <mountpoint>): it uses synchronous fs calls,
// which would deadlock inside the process that serves the mount. Prints one JSON line:
// { passed: [names], failed: [{ name, why }] }.
const fs = require("node:fs");
const path = require("node:path");

const root = process.argv[2];
const C = fs.constants;
let n = 0;
const passed = [];
const failed = [];

function errOf(fn) {
  try {
    fn();
  } catch (e) {
    return e.code;
  }
  return "OK";
}
function expectErr(code, fn, what) {
  const got = errOf(fn);
  if (got !== code) throw new Error(`${what}: expected ${code}, got ${got}`);
}
function eq(a, b, what) {
  if (a !== b) throw new Error(`${what}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
}
function cas(name, body) {
  const dir = path.join(root, `t${n++}`);
  try {
    fs.mkdirSync(dir);
    body(dir, (p) => path.join(dir, p));
    passed.push(name);
  } catch (e) {
    failed.push({ name, why: String(e?.message ? e.message : e) });
  }
}
const perm = (p) => fs.lstatSync(p).mode & 0o7777;

// chmod
cas("chmod sets the permission bits", (_d, p) => {
  fs.writeFileSync(p("f"), "x");
  fs.chmodSync(p("f"), 0o640);
  eq(perm(p("f")), 0o640, "mode");
  fs.mkdirSync(p("d"));
  fs.chmodSync(p("d"), 0o711);
  eq(perm(p("d")), 0o711, "dir mode");
});
cas("chmod keeps setuid, setgid and sticky bits", (_d, p) => {
  fs.writeFileSync(p("f"), "x");
  fs.chmodSync(p("f"), 0o4755);
  eq(perm(p("f")), 0o4755, "setuid");
  fs.mkdirSync(p("d"));
  fs.chmodSync(p("d"), 0o1777);
  eq(perm(p("d")), 0o1777, "sticky");
});
cas("chmod follows a symlink to its target", (_d, p) => {
  fs.writeFileSync(p("f"), "x");
  fs.symlinkSync("f", p("l"));
  fs.chmodSync(p("l"), 0o600);
  eq(perm(p("f")), 0o600, "target mode");
  eq(fs.lstatSync(p("l")).isSymbolicLink(), true, "still a link");
});
cas("chmod errors: ENOENT, ENOTDIR", (_d, p) => {
  fs.writeFileSync(p("f"), "x");
  expectErr("ENOENT", () => fs.chmodSync(p("missing"), 0o644), "missing");
  expectErr("ENOTDIR", () => fs.chmodSync(p("f/x"), 0o644), "file as dir");
});
cas("chmod changes ctime, not mtime", (_d, p) => {
  fs.writeFileSync(p("f"), "x");
  const before = fs.statSync(p("f"));
  fs.chmodSync(p("f"), 0o600);
  const after = fs.statSync(p("f"));
  eq(after.mtimeMs, before.mtimeMs, "mtime");
  if (after.ctimeMs < before.ctimeMs) throw new Error("ctime went back");
});

// chown
cas("chown sets owner and group; -1 keeps one", (_d, p) => {
  fs.writeFileSync(p("f"), "x");
  fs.chownSync(p("f"), 1234, 5678);
  let st = fs.statSync(p("f"));
  eq(`${st.uid}:${st.gid}`, "1234:5678", "owner");
  fs.chownSync(p("f"), -1, 42);
  st = fs.statSync(p("f"));
  eq(`${st.uid}:${st.gid}`, "1234:42", "group only");
  fs.chownSync(p("f"), 7, -1);
  st = fs.statSync(p("f"));
  eq(`${st.uid}:${st.gid}`, "7:42", "owner only");
});
cas("lchown of a symlink is refused (ENOTSUP), never applied to its target; chown follows", (_d, p) => {
  fs.writeFileSync(p("f"), "x");
  fs.symlinkSync("f", p("l"));
  const got = errOf(() => fs.lchownSync(p("l"), 11, 12));
  if (got !== "ENOTSUP" && got !== "EOPNOTSUPP") throw new Error(`lchown: ${got}`);
  eq(fs.statSync(p("f")).uid, 0, "target untouched");
  fs.chownSync(p("l"), 21, 22);
  eq(fs.statSync(p("f")).uid, 21, "target uid");
});
cas("chown errors: ENOENT, ENOTDIR", (_d, p) => {
  fs.writeFileSync(p("f"), "x");
  expectErr("ENOENT", () => fs.chownSync(p("missing"), 1, 1), "missing");
  expectErr("ENOTDIR", () => fs.chownSync(p("f/x"), 1, 1), "file as dir");
});

// link
cas("link: two names, one inode, shared contents, nlink counts", (_d, p) => {
  fs.writeFileSync(p("a"), "one");
  fs.linkSync(p("a"), p("b"));
  const a = fs.statSync(p("a"));
  const b = fs.statSync(p("b"));
  eq(a.ino, b.ino, "same inode");
  eq(a.nlink, 2, "nlink");
  fs.writeFileSync(p("b"), "two");
  eq(fs.readFileSync(p("a"), "utf8"), "two", "write through the other name");
  fs.unlinkSync(p("a"));
  eq(fs.statSync(p("b")).nlink, 1, "nlink after unlink");
  eq(fs.readFileSync(p("b"), "utf8"), "two", "contents survive");
});
cas("link errors: EEXIST, ENOENT, EPERM on a directory, ENOTDIR", (_d, p) => {
  fs.writeFileSync(p("a"), "x");
  fs.writeFileSync(p("b"), "y");
  fs.mkdirSync(p("dir"));
  expectErr("EEXIST", () => fs.linkSync(p("a"), p("b")), "existing target");
  expectErr("ENOENT", () => fs.linkSync(p("missing"), p("c")), "missing source");
  expectErr("EPERM", () => fs.linkSync(p("dir"), p("dir2")), "directory");
  expectErr("ENOTDIR", () => fs.linkSync(p("a"), p("b/c")), "file as dir");
});

// mkdir
cas("mkdir creates with the given mode", (_d, p) => {
  fs.mkdirSync(p("m"), 0o700);
  const st = fs.statSync(p("m"));
  eq(st.isDirectory(), true, "is dir");
  eq(perm(p("m")), 0o700, "mode");
});
cas("mkdir errors: EEXIST, ENOENT, ENOTDIR, ENAMETOOLONG", (_d, p) => {
  fs.mkdirSync(p("m"));
  fs.writeFileSync(p("f"), "x");
  expectErr("EEXIST", () => fs.mkdirSync(p("m")), "existing dir");
  expectErr("EEXIST", () => fs.mkdirSync(p("f")), "existing file");
  expectErr("ENOENT", () => fs.mkdirSync(p("no/m")), "missing parent");
  expectErr("ENOTDIR", () => fs.mkdirSync(p("f/m")), "file parent");
  expectErr("ENAMETOOLONG", () => fs.mkdirSync(p("n".repeat(256))), "256-byte name");
  fs.mkdirSync(p("n".repeat(255)));
});

// open
cas("open O_CREAT|O_EXCL fails with EEXIST on an existing name", (_d, p) => {
  fs.closeSync(fs.openSync(p("f"), C.O_CREAT | C.O_EXCL | C.O_WRONLY, 0o600));
  eq(perm(p("f")), 0o600, "mode of the new file");
  expectErr("EEXIST", () => fs.openSync(p("f"), C.O_CREAT | C.O_EXCL | C.O_WRONLY), "second create");
  fs.symlinkSync("f", p("l"));
  expectErr("EEXIST", () => fs.openSync(p("l"), C.O_CREAT | C.O_EXCL | C.O_WRONLY), "through a symlink");
});
cas("open O_TRUNC empties, O_APPEND appends at the end", (_d, p) => {
  fs.writeFileSync(p("f"), "hello world");
  let fd = fs.openSync(p("f"), C.O_WRONLY | C.O_TRUNC);
  eq(fs.fstatSync(fd).size, 0, "size after O_TRUNC");
  fs.writeSync(fd, "abc");
  fs.closeSync(fd);
  fd = fs.openSync(p("f"), C.O_WRONLY | C.O_APPEND);
  fs.writeSync(fd, "def", 0); // position is ignored with O_APPEND
  fs.closeSync(fd);
  eq(fs.readFileSync(p("f"), "utf8"), "abcdef", "contents");
});
cas("open errors: ENOENT, EISDIR, ENOTDIR", (_d, p) => {
  fs.writeFileSync(p("f"), "x");
  fs.mkdirSync(p("dir"));
  expectErr("ENOENT", () => fs.openSync(p("missing"), C.O_RDONLY), "missing");
  expectErr("EISDIR", () => fs.openSync(p("dir"), C.O_WRONLY), "dir for writing");
  expectErr("ENOTDIR", () => fs.openSync(p("f/x"), C.O_RDONLY), "file as dir");
  expectErr("ENOTDIR", () => fs.openSync(p("f"), C.O_RDONLY | C.O_DIRECTORY), "O_DIRECTORY on a file");
});
cas("writes through one descriptor are read through another before close", (_d, p) => {
  const w = fs.openSync(p("f"), "w");
  fs.writeSync(w, "shared");
  const r = fs.openSync(p("f"), "r");
  const buf = Buffer.alloc(16);
  eq(buf.subarray(0, fs.readSync(r, buf, 0, 16, 0)).toString(), "shared", "read before close");
  fs.closeSync(w);
  fs.closeSync(r);
});
cas("sparse writes read back zeros in the hole", (_d, p) => {
  const fd = fs.openSync(p("f"), "w");
  fs.writeSync(fd, "end", 100000);
  fs.closeSync(fd);
  const b = fs.readFileSync(p("f"));
  eq(b.length, 100003, "size");
  eq(
    b.subarray(0, 100000).every((x) => x === 0),
    true,
    "hole is zero",
  );
});

// rename
cas("rename replaces a file atomically and keeps the inode", (_d, p) => {
  fs.writeFileSync(p("a"), "A");
  fs.writeFileSync(p("b"), "B");
  const ino = fs.statSync(p("a")).ino;
  fs.renameSync(p("a"), p("b"));
  eq(fs.readFileSync(p("b"), "utf8"), "A", "contents");
  eq(fs.statSync(p("b")).ino, ino, "inode");
  expectErr("ENOENT", () => fs.statSync(p("a")), "old name");
});
cas("rename a directory over an empty directory; ENOTEMPTY over a full one", (_d, p) => {
  fs.mkdirSync(p("x"));
  fs.writeFileSync(p("x/f"), "1");
  fs.mkdirSync(p("empty"));
  fs.renameSync(p("x"), p("empty"));
  eq(fs.readFileSync(p("empty/f"), "utf8"), "1", "moved tree");
  fs.mkdirSync(p("y"));
  const got = errOf(() => fs.renameSync(p("y"), p("empty")));
  if (got !== "ENOTEMPTY" && got !== "EEXIST") throw new Error(`over non-empty: ${got}`);
});
cas("rename errors: EINVAL into itself, EISDIR, ENOTDIR, ENOENT", (_d, p) => {
  fs.mkdirSync(p("a/b"), { recursive: true });
  fs.writeFileSync(p("f"), "x");
  expectErr("EINVAL", () => fs.renameSync(p("a"), p("a/b/c")), "into own subtree");
  expectErr("EISDIR", () => fs.renameSync(p("f"), p("a")), "file over dir");
  expectErr("ENOTDIR", () => fs.renameSync(p("a"), p("f")), "dir over file");
  expectErr("ENOENT", () => fs.renameSync(p("missing"), p("z")), "missing source");
});
cas("rename of a directory carries its tree", (_d, p) => {
  fs.mkdirSync(p("s/t"), { recursive: true });
  fs.writeFileSync(p("s/t/f"), "deep");
  fs.renameSync(p("s"), p("r"));
  eq(fs.readFileSync(p("r/t/f"), "utf8"), "deep", "deep file");
  expectErr("ENOENT", () => fs.statSync(p("s")), "old dir");
});
cas("rename of an open file keeps its pending writes", (_d, p) => {
  const fd = fs.openSync(p("a"), "w");
  fs.writeSync(fd, "pending");
  fs.renameSync(p("a"), p("b"));
  fs.closeSync(fd);
  eq(fs.readFileSync(p("b"), "utf8"), "pending", "contents under the new name");
  expectErr("ENOENT", () => fs.statSync(p("a")), "old name");
});

// rmdir
cas("rmdir removes an empty directory", (_d, p) => {
  fs.mkdirSync(p("e"));
  fs.rmdirSync(p("e"));
  expectErr("ENOENT", () => fs.statSync(p("e")), "gone");
});
cas("rmdir errors: ENOTEMPTY, ENOTDIR, ENOENT", (_d, p) => {
  fs.mkdirSync(p("full"));
  fs.writeFileSync(p("full/f"), "x");
  fs.writeFileSync(p("f"), "x");
  expectErr("ENOTEMPTY", () => fs.rmdirSync(p("full")), "non-empty");
  expectErr("ENOTDIR", () => fs.rmdirSync(p("f")), "file");
  expectErr("ENOENT", () => fs.rmdirSync(p("missing")), "missing");
});

// symlink
cas("symlink stores its target text; lstat sees the link", (_d, p) => {
  fs.writeFileSync(p("f"), "via link");
  fs.symlinkSync("f", p("l"));
  eq(fs.readlinkSync(p("l")), "f", "readlink");
  eq(fs.lstatSync(p("l")).isSymbolicLink(), true, "lstat");
  eq(fs.readFileSync(p("l"), "utf8"), "via link", "followed");
  fs.symlinkSync("no/such/target", p("dangling"));
  eq(fs.readlinkSync(p("dangling")), "no/such/target", "dangling readlink");
});
cas("symlink errors: EEXIST, ENOENT through a dangling link, ELOOP", (_d, p) => {
  fs.writeFileSync(p("f"), "x");
  expectErr("EEXIST", () => fs.symlinkSync("x", p("f")), "existing name");
  fs.symlinkSync("nowhere", p("dangling"));
  expectErr("ENOENT", () => fs.statSync(p("dangling")), "dangling");
  fs.symlinkSync("loop2", p("loop1"));
  fs.symlinkSync("loop1", p("loop2"));
  expectErr("ELOOP", () => fs.statSync(p("loop1")), "loop");
  expectErr("EINVAL", () => fs.readlinkSync(p("f")), "readlink of a file");
});

// truncate
cas("truncate shrinks and grows with zeros", (_d, p) => {
  fs.writeFileSync(p("f"), "hello world");
  fs.truncateSync(p("f"), 5);
  eq(fs.readFileSync(p("f"), "utf8"), "hello", "shrunk");
  fs.truncateSync(p("f"), 8);
  eq(fs.readFileSync(p("f")).toString("hex"), "68656c6c6f000000", "grown");
  const fd = fs.openSync(p("f"), "r+");
  fs.ftruncateSync(fd, 2);
  fs.closeSync(fd);
  eq(fs.readFileSync(p("f"), "utf8"), "he", "ftruncate");
});
cas("truncate errors: EISDIR, ENOENT, ENOTDIR", (_d, p) => {
  fs.mkdirSync(p("dir"));
  fs.writeFileSync(p("f"), "x");
  expectErr("EISDIR", () => fs.truncateSync(p("dir"), 0), "dir");
  expectErr("ENOENT", () => fs.truncateSync(p("missing"), 0), "missing");
  expectErr("ENOTDIR", () => fs.truncateSync(p("f/x"), 0), "file as dir");
});

// unlink
cas("unlink removes a name; a symlink, not its target", (_d, p) => {
  fs.writeFileSync(p("f"), "x");
  fs.symlinkSync("f", p("l"));
  fs.unlinkSync(p("l"));
  eq(fs.readFileSync(p("f"), "utf8"), "x", "target stays");
  fs.unlinkSync(p("f"));
  expectErr("ENOENT", () => fs.statSync(p("f")), "gone");
});
cas("unlink errors: EISDIR, ENOENT, ENOTDIR", (_d, p) => {
  fs.mkdirSync(p("dir"));
  fs.writeFileSync(p("f"), "x");
  expectErr("EISDIR", () => fs.unlinkSync(p("dir")), "dir");
  expectErr("ENOENT", () => fs.unlinkSync(p("missing")), "missing");
  expectErr("ENOTDIR", () => fs.unlinkSync(p("f/x")), "file as dir");
});
cas("an unlinked open file stays readable until closed", (_d, p) => {
  fs.writeFileSync(p("f"), "still here");
  const fd = fs.openSync(p("f"), "r");
  fs.unlinkSync(p("f"));
  const buf = Buffer.alloc(32);
  eq(buf.subarray(0, fs.readSync(fd, buf, 0, 32, 0)).toString(), "still here", "read after unlink");
  fs.closeSync(fd);
  expectErr("ENOENT", () => fs.statSync(p("f")), "gone");
});

// utimensat (both times set together: see docs/mount.md for the binding's limit)
cas("utimes sets the modification time", (_d, p) => {
  fs.writeFileSync(p("f"), "x");
  const t = new Date("2020-02-03T04:05:06.000Z");
  fs.utimesSync(p("f"), t, t);
  eq(fs.statSync(p("f")).mtimeMs, t.getTime(), "mtime");
  fs.mkdirSync(p("dir"));
  fs.utimesSync(p("dir"), t, t);
  eq(fs.statSync(p("dir")).mtimeMs, t.getTime(), "dir mtime");
  expectErr("ENOENT", () => fs.utimesSync(p("missing"), t, t), "missing");
});
cas("a write updates the modification time", (_d, p) => {
  fs.writeFileSync(p("f"), "x");
  const t = new Date("2001-01-01T00:00:00Z");
  fs.utimesSync(p("f"), t, t);
  fs.writeFileSync(p("f"), "y");
  if (fs.statSync(p("f")).mtimeMs <= t.getTime()) throw new Error("mtime not updated by a write");
});

// readdir / statfs
cas("readdir lists every entry once", (d, p) => {
  for (let i = 0; i < 50; i++) fs.writeFileSync(p(`e${i}`), "");
  fs.mkdirSync(p("sub"));
  const names = fs.readdirSync(d).sort();
  eq(names.length, 51, "count");
  eq(new Set(names).size, 51, "unique");
});
cas("mknod of a fifo is not supported", (_d, p) => {
  const { spawnSync } = require("node:child_process");
  const r = spawnSync("mkfifo", [p("fifo")], { encoding: "utf8" });
  if (r.status === 0) throw new Error("mkfifo succeeded");
  if (!/not supported/i.test(r.stderr)) throw new Error(`mkfifo: ${r.stderr}`);
});

process.stdout.write(`${JSON.stringify({ passed, failed })}\n`);
