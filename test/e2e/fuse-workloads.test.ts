/**
 * Unmodified programs on the FUSE mount: an fsx-style random-I/O checker in two processes at
 * once, `tar x` and `rsync -a` of a tree compared with `diff -r`, and a small git workload.
 * Everything touches the mount from child processes (fuse-support.ts explains why).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fuseAvailable, has, type MountFixture, mountFixture, run, sh } from "./fuse-support.ts";

const FSX = join(import.meta.dirname, "fuse-fsx.cjs");
/** Operations per fsx process: two processes, ≥ 10,000 operations per run. */
const FSX_OPS = 5000;

describe.skipIf(!fuseAvailable)("FUSE mount: real workloads", () => {
  let fx: MountFixture;
  beforeAll(async () => {
    fx = await mountFixture();
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it(`fsx: ${2 * FSX_OPS} random writes, reads, truncates and appends in two processes match the model`, async () => {
    const [a, b] = await Promise.all([
      run(process.execPath, [FSX, join(fx.mnt, "fsx-a"), String(FSX_OPS), "1"]),
      run(process.execPath, [FSX, join(fx.mnt, "fsx-b"), String(FSX_OPS), "2"]),
    ]);
    for (const r of [a, b]) {
      expect(r.stderr).toBe("");
      const report = JSON.parse(r.stdout);
      console.log(`fsx: ${JSON.stringify(report)}`);
      expect(report.failure).toBeUndefined();
      expect(report.ops).toBe(FSX_OPS);
    }
  });

  it("tar x and rsync -a of a tree give the same tree (diff -r)", async () => {
    const src = join(fx.dir, "src");
    // A tree with nested directories, empty and large files, a symlink and odd names.
    await sh(
      [
        `mkdir -p ${src}/a/b/c ${src}/empty-dir "${src}/with space"`,
        `echo hello > ${src}/a/hello.txt`,
        `: > ${src}/a/b/empty`,
        `head -c 3000000 /dev/urandom > ${src}/a/b/c/big.bin`,
        `for i in $(seq 1 60); do echo "file $i" > ${src}/a/b/f$i.txt; done`,
        `echo spaced > "${src}/with space/é ü.txt"`,
        `ln -s ../hello.txt ${src}/a/b/link`,
        `chmod 750 ${src}/a/b/c`,
        `tar cf ${fx.dir}/tree.tar -C ${src} .`,
      ].join(" && "),
    );
    await fx.ok(`mkdir t && tar xf ${fx.dir}/tree.tar -C t`);
    const tarDiff = await sh(`diff -r ${src} ${fx.mnt}/t`);
    expect(tarDiff.stdout + tarDiff.stderr).toBe("");
    expect(tarDiff.code).toBe(0);
    expect((await fx.ok("stat -c %a t/a/b/c")).trim()).toBe("750");
    expect((await fx.ok("readlink t/a/b/link")).trim()).toBe("../hello.txt");
    if (has("rsync")) {
      await fx.ok(`rsync -a ${src}/ r/`);
      const rsyncDiff = await sh(`diff -r ${src} ${fx.mnt}/r`);
      expect(rsyncDiff.stdout + rsyncDiff.stderr).toBe("");
      expect(rsyncDiff.code).toBe(0);
      // A second rsync finds the two trees equal up to times (see docs/mount.md for mtimes).
      await fx.ok(`rsync -a --checksum ${src}/ r/`);
    }
  });

  it.skipIf(!has("git"))("git init/add/commit/branch/checkout works in the mount", async () => {
    const git = "git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main";
    await fx.ok(
      [
        "mkdir repo && cd repo",
        `${git} init -q .`,
        "echo one > a.txt && mkdir src && echo 'print(1)' > src/main.py",
        `${git} add . && ${git} commit -q -m first`,
        `${git} checkout -q -b feature`,
        "echo two >> a.txt && git rm -q src/main.py && echo new > b.txt",
        `${git} add -A && ${git} commit -q -m second`,
        `${git} checkout -q main`,
      ].join(" && "),
    );
    expect(await fx.ok("cat repo/a.txt")).toBe("one\n");
    expect(await fx.ok("cat repo/src/main.py")).toBe("print(1)\n");
    expect((await sh("test -e repo/b.txt", fx.mnt)).code).toBe(1);
    await fx.ok(`cd repo && ${git} checkout -q feature`);
    expect(await fx.ok("cat repo/a.txt")).toBe("one\ntwo\n");
    expect(await fx.ok("cd repo && git status --porcelain")).toBe("");
    expect((await fx.ok("cd repo && git log --oneline | wc -l")).trim()).toBe("2");
    await fx.ok("cd repo && git fsck --no-progress 2>&1");
  });
});
