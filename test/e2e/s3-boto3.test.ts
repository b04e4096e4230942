/**
 * boto3 against the gateway, one Python script: presigned GET and PUT, conditional writes
 * (If-None-Match: * create-only, If-Match), multipart (create, upload parts, list parts,
 * complete, abort), and boto3's default checksums (CRC32 trailers on aws-chunked bodies).
 */
import { execFile, execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { has, type S3Fixture, startS3Fixture } from "../support/s3-gateway.ts";

const run = promisify(execFile);
let fx: S3Fixture;

const hasBoto3 = (() => {
  if (!has("python3")) return false;
  try {
    execFileSync("python3", ["-c", "import boto3"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

const SCRIPT = String.raw`
import json, os, sys, urllib.request
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
    aws_access_key_id=os.environ["KEY_ID"], aws_secret_access_key=os.environ["SECRET"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
out = {}

def code(fn):
    try:
        fn()
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]

# presigned PUT and GET
url = s3.generate_presigned_url("put_object", Params={"Bucket": "default", "Key": "py/pre.txt"}, ExpiresIn=60)
req = urllib.request.Request(url, data=b"presigned body", method="PUT")
out["presigned_put"] = urllib.request.urlopen(req).status
url = s3.generate_presigned_url("get_object", Params={"Bucket": "default", "Key": "py/pre.txt"}, ExpiresIn=60)
out["presigned_get"] = urllib.request.urlopen(url).read().decode()

# conditional writes
out["create"] = code(lambda: s3.put_object(Bucket="default", Key="py/once", Body=b"1", IfNoneMatch="*"))
out["create_again"] = code(lambda: s3.put_object(Bucket="default", Key="py/once", Body=b"2", IfNoneMatch="*"))
etag = s3.head_object(Bucket="default", Key="py/once")["ETag"]
out["if_match_wrong"] = code(lambda: s3.put_object(Bucket="default", Key="py/once", Body=b"3", IfMatch='"0"'))
out["if_match_right"] = code(lambda: s3.put_object(Bucket="default", Key="py/once", Body=b"4", IfMatch=etag))
out["once"] = s3.get_object(Bucket="default", Key="py/once")["Body"].read().decode()

# multipart
mp = s3.create_multipart_upload(Bucket="default", Key="py/multi.bin")
parts = []
for n, fill in [(1, b"a"), (2, b"b"), (3, b"c")]:
    body = fill * (5 * 1024 * 1024 if n < 3 else 1000)
    r = s3.upload_part(Bucket="default", Key="py/multi.bin", UploadId=mp["UploadId"], PartNumber=n, Body=body)
    parts.append({"PartNumber": n, "ETag": r["ETag"]})
out["listed_parts"] = [p["PartNumber"] for p in s3.list_parts(Bucket="default", Key="py/multi.bin", UploadId=mp["UploadId"])["Parts"]]
out["uploads"] = [u["Key"] for u in s3.list_multipart_uploads(Bucket="default").get("Uploads", [])]
out["bad_order"] = code(lambda: s3.complete_multipart_upload(Bucket="default", Key="py/multi.bin", UploadId=mp["UploadId"],
    MultipartUpload={"Parts": [parts[1], parts[0]]}))
out["bad_etag"] = code(lambda: s3.complete_multipart_upload(Bucket="default", Key="py/multi.bin", UploadId=mp["UploadId"],
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00"'}]}))
done = s3.complete_multipart_upload(Bucket="default", Key="py/multi.bin", UploadId=mp["UploadId"], MultipartUpload={"Parts": parts})
out["multipart_etag"] = done["ETag"]
got = s3.get_object(Bucket="default", Key="py/multi.bin")["Body"].read()
out["multipart_size"] = len(got)
out["multipart_ok"] = got == b"a" * (5 * 1024 * 1024) + b"b" * (5 * 1024 * 1024) + b"c" * 1000
small = s3.create_multipart_upload(Bucket="default", Key="py/small.bin")
p1 = s3.upload_part(Bucket="default", Key="py/small.bin", UploadId=small["UploadId"], PartNumber=1, Body=b"x")
p2 = s3.upload_part(Bucket="default", Key="py/small.bin", UploadId=small["UploadId"], PartNumber=2, Body=b"y")
out["too_small"] = code(lambda: s3.complete_multipart_upload(Bucket="default", Key="py/small.bin", UploadId=small["UploadId"],
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]}))
s3.abort_multipart_upload(Bucket="default", Key="py/small.bin", UploadId=small["UploadId"])
out["aborted"] = code(lambda: s3.list_parts(Bucket="default", Key="py/small.bin", UploadId=small["UploadId"]))

# default checksums: boto3 sends CRC32 in an aws-chunked trailer; a wrong checksum is refused
s3.put_object(Bucket="default", Key="py/crc.txt", Body=b"checksummed", ChecksumAlgorithm="SHA256")
out["crc_read"] = s3.get_object(Bucket="default", Key="py/crc.txt", ChecksumMode="ENABLED").get("ChecksumSHA256")
out["bad_checksum"] = code(lambda: s3.put_object(Bucket="default", Key="py/bad.txt", Body=b"x", ChecksumCRC32="AAAAAA=="))
out["bad_exists"] = code(lambda: s3.head_object(Bucket="default", Key="py/bad.txt"))
print(json.dumps(out))
`;

describe.skipIf(!hasBoto3)("boto3 against the gateway", () => {
  beforeAll(async () => {
    fx = await startS3Fixture();
  }, 60_000);
  afterAll(async () => {
    await fx?.dispose();
  });

  it("presigned URLs, conditional writes, multipart and checksums", { timeout: 300_000 }, async () => {
    const script = join(fx.dir, "boto3_check.py");
    await writeFile(script, SCRIPT);
    const { stdout } = await run("python3", [script], {
      env: {
        PATH: process.env.PATH,
        HOME: fx.dir,
        AWS_CONFIG_FILE: join(fx.dir, "none"),
        AWS_SHARED_CREDENTIALS_FILE: join(fx.dir, "none"),
        AWS_EC2_METADATA_DISABLED: "true",
        ENDPOINT: fx.endpoint,
        KEY_ID: fx.keys.accessKeyId,
        SECRET: fx.keys.secretAccessKey,
      },
      maxBuffer: 16 * 1024 * 1024,
    });
    const out = JSON.parse(stdout.trim().split("\n").at(-1)!);
    expect(out).toMatchObject({
      presigned_put: 200,
      presigned_get: "presigned body",
      create: "ok",
      create_again: "PreconditionFailed",
      if_match_wrong: "PreconditionFailed",
      if_match_right: "ok",
      once: "4",
      listed_parts: [1, 2, 3],
      uploads: ["py/multi.bin"],
      bad_order: "InvalidPartOrder",
      bad_etag: "InvalidPart",
      multipart_size: 10 * 1024 * 1024 + 1000,
      multipart_ok: true,
      too_small: "EntityTooSmall",
      aborted: "NoSuchUpload",
      crc_read: "nP4pdPMq+NnB55XB1hjJE61F6nXccf5WRx705pLw9e0=",
      bad_checksum: "BadDigest",
      bad_exists: "404",
    });
    expect(out.multipart_etag).toMatch(/^"[0-9a-f]{32}-3"$/);
  });
});
