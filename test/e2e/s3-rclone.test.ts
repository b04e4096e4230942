/**
 * rclone (S3 provider "Other", path style) against the gateway: copy, sync, check with 0
 * differences (MD5 ETags compared with the local files), lsjson. Config in a temp file.
 */
import { execFile } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { has, type S3Fixture, startS3Fixture } from "../support/s3-gateway.ts";

const run = promisify(execFile);
let fx: S3Fixture;

async function rclone(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run("rclone", ["--config", join(fx.dir, "rclone.conf"), ...args], {
    env: { PATH: process.env.PATH, HOME: fx.dir },
    maxBuffer: 16 * 1024 * 1024,
  });
}

describe.skipIf(!has("rclone"))("rclone against the gateway", () => {
  beforeAll(async () => {
    fx = await startS3Fixture();
    await writeFile(
      join(fx.dir, "rclone.conf"),
      [
        "[strata]",
        "type = s3",
        "provider = Other",
        `access_key_id = ${fx.keys.accessKeyId}`,
        `secret_access_key = ${fx.keys.secretAccessKey}`,
        `endpoint = ${fx.endpoint}`,
        "region = us-east-1",
        "force_path_style = true",
        "",
      ].join("\n"),
    );
  }, 60_000);
  afterAll(async () => {
    await fx?.dispose();
  });

  it("copy, sync, check (0 differences) and lsjson", { timeout: 300_000 }, async () => {
    const src = join(fx.dir, "src");
    await mkdir(join(src, "d1", "d2"), { recursive: true });
    await writeFile(join(src, "top.txt"), "top");
    await writeFile(join(src, "d1", "one.txt"), "one".repeat(1000));
    await writeFile(join(src, "d1", "d2", "two.bin"), Buffer.alloc(300_000, 7));
    await writeFile(join(src, "name with spaces.txt"), "spaces");
    await rclone("copy", src, "strata:default/rc");
    const check = await rclone("check", src, "strata:default/rc");
    expect(check.stderr).toMatch(/0 differences found/);
    // sync removes what the source no longer has
    await rm(join(src, "top.txt"));
    await writeFile(join(src, "d1", "one.txt"), "changed");
    await rclone("sync", src, "strata:default/rc");
    const again = await rclone("check", src, "strata:default/rc");
    expect(again.stderr).toMatch(/0 differences found/);
    const listed = JSON.parse(
      (await rclone("lsjson", "-R", "--files-only", "strata:default/rc")).stdout,
    ) as Array<{
      Path: string;
      Size: number;
    }>;
    expect(listed.map((e) => [e.Path, e.Size]).sort()).toEqual([
      ["d1/d2/two.bin", 300_000],
      ["d1/one.txt", 7],
      ["name with spaces.txt", 6],
    ]);
    // And back down: a copy from the gateway checks clean too.
    const back = join(fx.dir, "back");
    await rclone("copy", "strata:default/rc", back);
    expect((await rclone("check", back, "strata:default/rc")).stderr).toMatch(/0 differences found/);
  });
});
