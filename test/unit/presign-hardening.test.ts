/**
 * Presigned URL hardening (issue 13, case 7), offline: S3 PUT URLs bind Content-Length and the
 * CRC32C checksum, Azure SAS URLs are https-only except for loopback stand-ins.
 *
 * s3rver does not verify SigV4 (see test/adapters/api-presign.test.ts), so the S3 check is done by
 * {@link sigV4Accepts}: the presigned-URL signature check S3 performs, written out from AWS's
 * SigV4 specification — the signature is recomputed from the request as it arrives (its method,
 * path, query and the values of the signed headers) and compared with the URL's.
 */
import { createHash, createHmac } from "node:crypto";
import { S3Client } from "@aws-sdk/client-s3";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { describe, expect, it } from "vitest";
import { AzurePresigner, loopback } from "../../adapters/presign/azure.ts";
import { S3Presigner } from "../../adapters/presign/s3.ts";
import { crc32c } from "../../core/crc32c.ts";

const SECRET = "s3cr3tKeyForTests";
const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Would S3 accept this presigned request, as sent with `headers`? (SigV4, query authentication) */
function sigV4Accepts(method: string, url: string, headers: Record<string, string>): boolean {
  const u = new URL(url);
  const q = u.searchParams;
  const signedHeaders = (q.get("X-Amz-SignedHeaders") ?? "").split(";");
  const query = [...q.entries()]
    .filter(([k]) => k !== "X-Amz-Signature")
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const sent: Record<string, string> = { host: u.host };
  for (const [k, v] of Object.entries(headers)) sent[k.toLowerCase()] = v.trim();
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${sent[h] ?? ""}\n`).join("");
  const canonical = [
    method,
    u.pathname,
    query,
    canonicalHeaders,
    signedHeaders.join(";"),
    "UNSIGNED-PAYLOAD",
  ].join("\n");
  const [, date, region, service] = (q.get("X-Amz-Credential") ?? "").split("/");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = [
    "AWS4-HMAC-SHA256",
    q.get("X-Amz-Date"),
    scope,
    createHash("sha256").update(canonical).digest("hex"),
  ].join("\n");
  let key: Buffer = createHmac("sha256", `AWS4${SECRET}`).update(date!).digest();
  for (const part of [region!, service!, "aws4_request"])
    key = createHmac("sha256", key).update(part).digest();
  return createHmac("sha256", key).update(toSign).digest("hex") === q.get("X-Amz-Signature");
}

function s3Presigner() {
  const client = new S3Client({
    region: "eu-west-1",
    endpoint: "https://s3.eu-west-1.amazonaws.com",
    forcePathStyle: true,
    credentials: { accessKeyId: "AKIDTEST", secretAccessKey: SECRET },
  });
  return new S3Presigner({ client, bucket: "b" });
}

describe("S3 presigned PUT binds the body's size and checksum", () => {
  const body = new Uint8Array(1000).fill(5);
  const crc = crc32c(body);

  it("the request as handed out is accepted; another Content-Length or checksum is refused", async () => {
    const put = await s3Presigner().presign({
      key: "chunks/k",
      method: "PUT",
      expiresInSeconds: 300,
      size: body.length,
      crc32c: crc,
    });
    const signed = new URL(put.url).searchParams.get("X-Amz-SignedHeaders")!.split(";");
    expect(signed).toEqual(expect.arrayContaining(["content-length", "x-amz-checksum-crc32c"]));
    // What fetch sends: the handed-out headers plus Content-Length from the body.
    expect(sigV4Accepts("PUT", put.url, { ...put.headers, "content-length": String(body.length) })).toBe(
      true,
    );
    expect(sigV4Accepts("PUT", put.url, { ...put.headers, "content-length": String(body.length + 1) })).toBe(
      false,
    );
    expect(
      sigV4Accepts("PUT", put.url, {
        ...put.headers,
        "content-length": String(body.length),
        "x-amz-checksum-crc32c": "AAAAAA==",
      }),
    ).toBe(false);
  });

  it("counter-check: a URL presigned without a size accepts a body of any length", async () => {
    const put = await s3Presigner().presign({ key: "chunks/k", method: "PUT", expiresInSeconds: 300 });
    expect(sigV4Accepts("PUT", put.url, { ...put.headers, "content-length": "1000" })).toBe(true);
    expect(sigV4Accepts("PUT", put.url, { ...put.headers, "content-length": "999999" })).toBe(true);
  });
});

describe("Azure SAS URLs are https-only except on loopback", () => {
  const key = Buffer.from("k".repeat(32)).toString("base64");
  function presigner(blobEndpoint: string) {
    const cs = `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${key};BlobEndpoint=${blobEndpoint}`;
    return new AzurePresigner({
      containerClient: BlobServiceClient.fromConnectionString(cs).getContainerClient("c"),
      credential: new StorageSharedKeyCredential("acct", key),
    });
  }

  it("a SAS for a real account allows https only (spr=https)", async () => {
    for (const method of ["GET", "PUT"] as const) {
      const sas = await presigner("https://acct.blob.core.windows.net").presign({
        key: "chunks/k",
        method,
        expiresInSeconds: 300,
      });
      expect(new URL(sas.url).searchParams.get("spr")).toBe("https");
    }
  });

  it("counter-check: a loopback stand-in's SAS allows http too (and only loopback counts)", async () => {
    for (const endpoint of ["http://127.0.0.1:10000/acct", "http://localhost:10000/acct"]) {
      const sas = await presigner(endpoint).presign({ key: "k", method: "GET", expiresInSeconds: 300 });
      expect(new URL(sas.url).searchParams.get("spr")).toBe("https,http");
    }
    for (const host of ["http://10.0.0.5/a", "http://127.example.com/a", "http://localhost.evil.com/a"])
      expect(loopback(host), host).toBe(false);
    expect(loopback("http://[::1]:10000/a")).toBe(true);
  });
});
