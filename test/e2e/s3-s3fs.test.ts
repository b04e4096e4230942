/**
 * s3fs mounting the gateway (FUSE) and a small file workload: write, read, list, append
 * (rewrite), rename, mkdir, delete; every change seen through strata's own SDK. The mount is
 * undone in teardown even when a step fails. The gateway runs in this process, so the test only
 * uses asynchronous file calls (a synchronous one would block the gateway that must answer it).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { appendFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { has, type S3Fixture, startS3Fixture } from "../support/s3-gateway.ts";

const run = promisify(execFile);
let fx: S3Fixture;
let s3fs: ChildProcess | undefined;
let mnt: string;
let log = "";

const usable = has("s3fs") && (has("fusermount") || has("fusermount3"));

async function mounted(): Promise<boolean> {
  const mounts = await readFile("/proc/mounts", "utf8");
  return mounts.split("\n").some((l) => l.split(" ")[1] === mnt);
}

describe.skipIf(!usable)("s3fs mounting the gateway", () => {
  beforeAll(async () => {
    fx = await startS3Fixture();
    mnt = join(fx.dir, "mnt");
    await mkdir(mnt);
    const passwd = join(fx.dir, "passwd");
    await writeFile(passwd, `${fx.keys.accessKeyId}:${fx.keys.secretAccessKey}\n`, { mode: 0o600 });
    s3fs = spawn(
      "s3fs",
      [
        "default",
        mnt,
        "-f",
        "-o",
        `passwd_file=${passwd}`,
        "-o",
        `url=${fx.endpoint}`,
        "-o",
        "use_path_request_style",
        "-o",
        "endpoint=us-east-1",
        "-o",
        "sigv4",
        "-o",
        "stat_cache_expire=1",
        "-o",
        "enable_noobj_cache",
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH, HOME: fx.dir } },
    );
    s3fs.stdout?.on("data", (d) => (log += d));
    s3fs.stderr?.on("data", (d) => (log += d));
    const deadline = Date.now() + 30_000;
    while (!(await mounted())) {
      if (s3fs.exitCode !== null || Date.now() > deadline) throw new Error(`s3fs did not mount:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 90_000);

  afterAll(async () => {
    try {
      if (mnt && (await mounted())) {
        const tool = has("fusermount3") ? "fusermount3" : "fusermount";
        await run(tool, ["-u", mnt]).catch(() => run(tool, ["-uz", mnt]));
      }
    } finally {
      if (s3fs && s3fs.exitCode === null) s3fs.kill("SIGTERM");
      await fx?.dispose();
    }
  }, 60_000);

  it("a small file workload through the mount", { timeout: 300_000 }, async () => {
    await writeFile(join(mnt, "hello.txt"), "hello from s3fs");
    expect(await readFile(join(mnt, "hello.txt"), "utf8")).toBe("hello from s3fs");
    await mkdir(join(mnt, "dir"));
    await writeFile(join(mnt, "dir", "a.txt"), "a");
    await appendFile(join(mnt, "dir", "a.txt"), "b");
    expect(await readFile(join(mnt, "dir", "a.txt"), "utf8")).toBe("ab");
    await rename(join(mnt, "dir", "a.txt"), join(mnt, "dir", "c.txt"));
    expect((await readdir(join(mnt, "dir"))).sort()).toEqual(["c.txt"]);
    expect((await stat(join(mnt, "dir", "c.txt"))).size).toBe(2);
    await rm(join(mnt, "hello.txt"));
    const client = await fx.api.client();
    expect(await client.readFile("/dir/c.txt", "utf8")).toBe("ab");
    await expect(client.stat("/hello.txt")).rejects.toMatchObject({ code: "ENOENT" });
    await expect(client.stat("/dir/a.txt")).rejects.toMatchObject({ code: "ENOENT" });
    await client.close();
  });
});
