/**
 * The FUSE mount (`strata mount`, gateways/fuse/) driven by unmodified programs in child
 * processes: a POSIX suite modelled on pjdfstest's coverage with exact error codes, xattrs,
 * as-of names, one version per close, and cache invalidation by the mount's own changes. Each
 * property has a counter-check that disables its mechanism through a test-only switch and shows
 * the same check then fails.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERRNO } from "../../gateways/fuse/errno.ts";
import { fuseAvailable, has, type MountFixture, mountFixture, run, sh } from "./fuse-support.ts";

const CASES = join(import.meta.dirname, "fuse-posix-cases.cjs");

interface CaseReport {
  passed: string[];
  failed: { name: string; why: string }[];
}

async function posixSuite(mnt: string): Promise<CaseReport> {
  const r = await run(process.execPath, [CASES, mnt]);
  if (r.stdout.trim() === "") throw new Error(`the POSIX cases did not report: ${r.stderr}`);
  return JSON.parse(r.stdout) as CaseReport;
}

describe.skipIf(!fuseAvailable)("FUSE mount: POSIX behaviour through the kernel", () => {
  let fx: MountFixture;
  beforeAll(async () => {
    fx = await mountFixture();
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it("passes every POSIX case (chmod, chown, link, mkdir, open, rename, rmdir, symlink, truncate, unlink, utimes) with exact errnos", async () => {
    const report = await posixSuite(fx.mnt);
    console.log(
      `POSIX cases through the mount: ${report.passed.length} passed, ${report.failed.length} failed`,
    );
    expect(report.failed).toEqual([]);
    expect(report.passed.length).toBeGreaterThanOrEqual(35);
  });

  it.skipIf(!has("python3"))(
    "xattrs: set/get/list/remove with ENODATA and EEXIST; tags and TID as user.strata.*",
    async () => {
      await fx.ok("echo data > x.txt");
      const script = `
import os, errno, json, sys
p = sys.argv[1]
out = {}
os.setxattr(p, "user.color", b"blue")
out["get"] = os.getxattr(p, "user.color").decode()
try: os.setxattr(p, "user.color", b"red", os.XATTR_CREATE); out["create"] = "OK"
except OSError as e: out["create"] = errno.errorcode[e.errno]
try: os.setxattr(p, "user.none", b"x", os.XATTR_REPLACE); out["replace"] = "OK"
except OSError as e: out["replace"] = errno.errorcode[e.errno]
try: os.getxattr(p, "user.none"); out["missing"] = "OK"
except OSError as e: out["missing"] = errno.errorcode[e.errno]
os.setxattr(p, "user.strata.tag.render-site", b"gcs-eu")
out["list"] = sorted(os.listxattr(p))
out["tid"] = os.getxattr(p, "user.strata.tid").decode()
try: os.setxattr(p, "user.strata.tid", b"0"); out["settid"] = "OK"
except OSError as e: out["settid"] = errno.errorcode[e.errno]
os.removexattr(p, "user.color")
try: os.removexattr(p, "user.color"); out["remove2"] = "OK"
except OSError as e: out["remove2"] = errno.errorcode[e.errno]
print(json.dumps(out))
`;
      const r = await run("python3", ["-c", script, join(fx.mnt, "x.txt")]);
      expect(r.stderr).toBe("");
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({
        get: "blue",
        create: "EEXIST",
        replace: "ENODATA",
        missing: "ENODATA",
        settid: "EPERM",
        remove2: "ENODATA",
      });
      expect(out.list).toEqual(
        expect.arrayContaining([
          "user.color",
          "user.strata.tag.render-site",
          "user.strata.tid",
          "user.strata.placement",
        ]),
      );
      expect(await fx.client.tags.get("/x.txt", "render-site")).toBe("gcs-eu");
      // The TID of the version the tag made (removexattr made a later one).
      const history = (await fx.client.history("/x.txt")).map((v) => v.tid);
      expect(history[1]).toBe(out.tid);
    },
  );

  it("a file's writes become one version at close, whatever the number of write(2) calls", async () => {
    await fx.ok("dd if=/dev/zero of=many.bin bs=1k count=300 status=none");
    const versions = await fx.client.history("/many.bin");
    // One create (the empty file O_CREAT makes) and one write: not 300.
    expect(versions.map((v) => v.change)).toEqual(["write", "create"]);
    expect((await fx.client.stat("/many.bin")).size).toBe(300 * 1024);
  });

  it("as-of names read old versions read-only: name@@tid, name@@time, /.strata/as-of, /.strata/snapshots", async () => {
    await fx.ok("mkdir -p asof && echo one > asof/f");
    const tid = await fx.client.currentTid();
    const time = new Date(Date.now() + 1).toISOString();
    await fx.client.snapshots.create("first");
    // A later commit: the TIDs of the versions above must stay below the new one.
    await new Promise((r) => setTimeout(r, 5));
    await fx.ok("echo two > asof/f && echo new > asof/g");
    expect(await fx.ok("cat asof/f")).toBe("two\n");
    expect(await fx.ok(`cat asof/f@@${tid}`)).toBe("one\n");
    expect(await fx.ok(`cat 'asof@@${tid}/f'`)).toBe("one\n");
    expect(await fx.ok(`cat '.strata/as-of/${tid}/asof/f'`)).toBe("one\n");
    expect(await fx.ok(`cat '.strata/as-of/${time}/asof/f'`)).toBe("one\n");
    expect(await fx.ok("cat .strata/snapshots/first/asof/f")).toBe("one\n");
    expect((await fx.ok(`ls '.strata/as-of/${tid}/asof'`)).split("\n").filter(Boolean)).toEqual(["f"]);
    expect(await fx.ok("ls .strata/snapshots")).toBe("first\n");
    expect(await fx.ok("ls .strata")).toBe("as-of\nsnapshots\n");
    // Writes to any as-of name are EROFS ("Read-only file system").
    for (const cmd of [
      `echo x > asof/f@@${tid}`,
      `touch '.strata/as-of/${tid}/asof/new'`,
      `rm '.strata/snapshots/first/asof/f'`,
      `mkdir '.strata/as-of/${tid}/d'`,
    ]) {
      const r = await sh(cmd, fx.mnt);
      expect(r.stderr, cmd).toMatch(/Read-only file system/);
    }
    // The root listing does not show .strata (tree walkers must not descend into history).
    expect(await fx.ok("ls -a")).not.toMatch(/\.strata/);
    const mode = (await fx.ok(`stat -c %a asof/f@@${tid}`)).trim();
    expect(mode).toBe("444");
  });

  it("the mount's own changes are visible at once despite cached listings (60 s cache)", async () => {
    const cached = await mountFixture({ cacheTtlMs: 60_000 });
    try {
      await cached.ok("mkdir d && ls d && touch d/new && ls d > /dev/null");
      expect(await cached.ok("ls d")).toBe("new\n");
      await cached.ok("mv d/new d/renamed");
      expect(await cached.ok("ls d")).toBe("renamed\n");
    } finally {
      await cached.dispose();
    }
  });
});

describe.skipIf(!fuseAvailable)("FUSE mount counter-checks (each mechanism disabled on purpose)", () => {
  it("with every error answered as EIO, the POSIX suite's error cases fail", async () => {
    const fx = await mountFixture({ testOnly: { errno: () => -ERRNO.EIO } });
    try {
      const report = await posixSuite(fx.mnt);
      expect(report.failed.length).toBeGreaterThan(10);
      expect(report.failed.map((f) => f.why).join("\n")).toMatch(/EIO/);
    } finally {
      await fx.dispose();
    }
  });

  it("committing at every write(2) makes many versions where close makes one", async () => {
    const fx = await mountFixture({ testOnly: { commitEveryWrite: true } });
    try {
      await fx.ok("dd if=/dev/zero of=many.bin bs=1k count=20 status=none");
      expect((await fx.client.history("/many.bin")).length).toBeGreaterThan(2);
    } finally {
      await fx.dispose();
    }
  });

  it("without invalidation by the mount's own changes, a cached listing misses a new file", async () => {
    const fx = await mountFixture({ cacheTtlMs: 60_000, testOnly: { noInvalidate: true } });
    try {
      await fx.ok("mkdir d && ls d && touch d/new");
      expect(await fx.ok("ls d")).toBe("");
    } finally {
      await fx.dispose();
    }
  });
});
