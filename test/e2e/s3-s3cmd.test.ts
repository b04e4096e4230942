/**
 * s3cmd against the gateway: put, get, ls, del, sync. Config in a temp file (never ~/.s3cfg).
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { has, type S3Fixture, startS3Fixture } from "../support/s3-gateway.ts";

const run = promisify(execFile);
let fx: S3Fixture;

async function s3cmd(...args: string[]): Promise<string> {
  const { stdout } = await run("s3cmd", ["-c", join(fx.dir, "s3cfg"), ...args], {
    env: { PATH: process.env.PATH, HOME: fx.dir },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

describe.skipIf(!has("s3cmd"))("s3cmd against the gateway", () => {
  beforeAll(async () => {
    fx = await startS3Fixture();
    const hostPort = fx.endpoint.replace(/^http:\/\//, "");
    await writeFile(
      join(fx.dir, "s3cfg"),
      [
        "[default]",
        `access_key = ${fx.keys.accessKeyId}`,
        `secret_key = ${fx.keys.secretAccessKey}`,
        `host_base = ${hostPort}`,
        `host_bucket = ${hostPort}`,
        "use_https = False",
        "signature_v2 = False",
        "bucket_location = us-east-1",
        "",
      ].join("\n"),
    );
  }, 60_000);
  afterAll(async () => {
    await fx?.dispose();
  });

  it("put, get, ls, del and sync", { timeout: 300_000 }, async () => {
    const file = join(fx.dir, "a.txt");
    await writeFile(file, "from s3cmd");
    await s3cmd("put", file, "s3://default/sc/a.txt");
    expect(await s3cmd("ls", "s3://default/sc/")).toContain("s3://default/sc/a.txt");
    const out = join(fx.dir, "a.out");
    await s3cmd("get", "--force", "s3://default/sc/a.txt", out);
    expect(await readFile(out, "utf8")).toBe("from s3cmd");
    const tree = join(fx.dir, "tree");
    await mkdir(join(tree, "x"), { recursive: true });
    await writeFile(join(tree, "x", "1.txt"), "1");
    await writeFile(join(tree, "2.txt"), "2");
    await s3cmd("sync", `${tree}/`, "s3://default/sc/tree/");
    const listed = await s3cmd("ls", "-r", "s3://default/sc/tree/");
    expect(listed).toContain("s3://default/sc/tree/x/1.txt");
    expect(listed).toContain("s3://default/sc/tree/2.txt");
    await s3cmd("del", "s3://default/sc/a.txt");
    expect(await s3cmd("ls", "s3://default/sc/")).not.toContain("a.txt");
    const down = join(fx.dir, "down");
    await s3cmd("sync", "s3://default/sc/tree/", `${down}/`);
    expect(await readFile(join(down, "x", "1.txt"), "utf8")).toBe("1");
  });
});
