/**
 * aws-cli against the gateway: `s3 cp/sync/ls/rm/mv` (a 100 MB multipart upload included) and
 * `s3api list-object-versions`, `get-object --version-id`, `put-object-tagging`, `copy-object`.
 * Config files live in a temp dir (never ~/.aws); only 127.0.0.1 is contacted.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { has, type S3Fixture, startS3Fixture } from "../support/s3-gateway.ts";

const run = promisify(execFile);
let fx: S3Fixture;

async function aws(...args: string[]): Promise<string> {
  const { stdout } = await run("aws", ["--endpoint-url", fx.endpoint, ...args], {
    env: {
      PATH: process.env.PATH,
      HOME: fx.dir,
      AWS_CONFIG_FILE: join(fx.dir, "aws-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(fx.dir, "aws-credentials"),
      AWS_ACCESS_KEY_ID: fx.keys.accessKeyId,
      AWS_SECRET_ACCESS_KEY: fx.keys.secretAccessKey,
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_EC2_METADATA_DISABLED: "true",
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");

describe.skipIf(!has("aws"))("aws-cli against the gateway", () => {
  beforeAll(async () => {
    fx = await startS3Fixture();
    await writeFile(join(fx.dir, "aws-config"), "[default]\ns3 =\n  addressing_style = path\n");
    await writeFile(join(fx.dir, "aws-credentials"), "");
  }, 60_000);
  afterAll(async () => {
    await fx?.dispose();
  });

  it("s3 cp / ls / mv / rm / sync", async () => {
    const local = join(fx.dir, "tree");
    await mkdir(join(local, "sub"), { recursive: true });
    await writeFile(join(local, "a.txt"), "alpha");
    await writeFile(join(local, "sub", "b.txt"), "beta");
    await aws("s3", "cp", join(local, "a.txt"), "s3://default/cli/a.txt");
    expect(await aws("s3", "ls", "s3://default/cli/")).toMatch(/\s5 a\.txt/);
    await aws("s3", "sync", local, "s3://default/cli/tree");
    const listed = await aws("s3", "ls", "--recursive", "s3://default/cli/tree/");
    expect(listed).toContain("cli/tree/a.txt");
    expect(listed).toContain("cli/tree/sub/b.txt");
    // A second sync has nothing to do.
    expect((await aws("s3", "sync", local, "s3://default/cli/tree")).trim()).toBe("");
    await aws("s3", "mv", "s3://default/cli/a.txt", "s3://default/cli/moved.txt");
    const back = join(fx.dir, "back.txt");
    await aws("s3", "cp", "s3://default/cli/moved.txt", back);
    expect(await readFile(back, "utf8")).toBe("alpha");
    await aws("s3", "rm", "--recursive", "s3://default/cli/tree");
    expect(await aws("s3", "ls", "s3://default/cli/")).not.toContain("tree");
    const down = join(fx.dir, "down");
    await aws("s3", "sync", "s3://default/cli", down);
    expect(await readFile(join(down, "moved.txt"), "utf8")).toBe("alpha");
  });

  it("uploads and downloads 100 MB as a multipart upload", { timeout: 600_000 }, async () => {
    const big = randomBytes(100 * 1024 * 1024);
    const file = join(fx.dir, "big.bin");
    await writeFile(file, big);
    await aws("s3", "cp", file, "s3://default/big/100mb.bin");
    const head = JSON.parse(
      await aws("s3api", "head-object", "--bucket", "default", "--key", "big/100mb.bin"),
    );
    expect(head.ContentLength).toBe(big.length);
    expect(head.ETag).toMatch(/-\d+"$/); // multipart ETag
    const out = join(fx.dir, "big.out");
    await aws("s3", "cp", "s3://default/big/100mb.bin", out);
    expect(md5(await readFile(out))).toBe(md5(big));
  });

  it("s3api: versions from history, get-object --version-id, tagging, copy-object", async () => {
    const file = join(fx.dir, "v.txt");
    await writeFile(file, "first");
    await aws("s3api", "put-object", "--bucket", "default", "--key", "api/v.txt", "--body", file);
    await writeFile(file, "second");
    await aws("s3api", "put-object", "--bucket", "default", "--key", "api/v.txt", "--body", file);
    const versions = JSON.parse(
      await aws("s3api", "list-object-versions", "--bucket", "default", "--prefix", "api/v.txt"),
    );
    expect(versions.Versions.map((v: { IsLatest: boolean }) => v.IsLatest)).toEqual([true, false]);
    const old = versions.Versions[1].VersionId;
    const out = join(fx.dir, "v.out");
    await aws("s3api", "get-object", "--bucket", "default", "--key", "api/v.txt", "--version-id", old, out);
    expect(await readFile(out, "utf8")).toBe("first");
    await aws(
      "s3api",
      "put-object-tagging",
      "--bucket",
      "default",
      "--key",
      "api/v.txt",
      "--tagging",
      "TagSet=[{Key=render-site,Value=gcs-eu}]",
    );
    const client = await fx.api.client();
    expect(await client.tags.list("/api/v.txt")).toEqual({ "render-site": "gcs-eu" });
    await client.close();
    await aws(
      "s3api",
      "copy-object",
      "--bucket",
      "default",
      "--key",
      "api/copy.txt",
      "--copy-source",
      `default/api/v.txt?versionId=${old}`,
    );
    await aws("s3api", "get-object", "--bucket", "default", "--key", "api/copy.txt", out);
    expect(await readFile(out, "utf8")).toBe("first");
  });
});
