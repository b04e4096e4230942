/**
 * The gateway's SigV4 checks (gateways/s3/sigv4.ts, chunked.ts, body.ts), against AWS's own
 * signer (@smithy/signature-v4, what the JS SDK uses): every request AWS's signer signs verifies;
 * changing any signed part (method, path, query, a signed header, the secret) does not. An
 * aws-chunked body decodes to its payload with every chunk signature checked; a flipped byte
 * in any chunk, or a wrong checksum trailer, fails the body before its end.
 */
import { createHash, createHmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkedBody } from "../../gateways/s3/body.ts";
import { S3Error } from "../../gateways/s3/errors.ts";
import { keyToPath } from "../../gateways/s3/objects.ts";
import {
  chunkSignature,
  parseSignature,
  type RequestParts,
  type SignedRequest,
  verifySignature,
} from "../../gateways/s3/sigv4.ts";

const SECRET = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-abcd";
const NOW = Date.UTC(2026, 11, 7, 1, 0, 0);

class Sha256 {
  private readonly h = createHash("sha256");
  private readonly m?: ReturnType<typeof createHmac>;
  constructor(secret?: Uint8Array | string) {
    if (secret) this.m = createHmac("sha256", secret);
  }
  update(data: Uint8Array | string) {
    (this.m ?? this.h).update(data);
  }
  async digest() {
    return new Uint8Array((this.m ?? this.h).digest());
  }
}

const signer = new SignatureV4({
  service: "s3",
  region: "us-east-1",
  credentials: { accessKeyId: "tKeyId123", secretAccessKey: SECRET },
  sha256: Sha256 as never,
  uriEscapePath: false,
});

/** Sign with AWS's signer; the parts as the gateway sees them. */
async function signed(
  method: string,
  path: string,
  query: Record<string, string>,
  headers: Record<string, string>,
  presign: boolean,
) {
  const request = {
    method,
    protocol: "http:",
    hostname: "127.0.0.1",
    port: 7071,
    path,
    query,
    headers: { host: "127.0.0.1:7071", ...headers },
  };
  const at = new Date(NOW);
  const out = presign
    ? // As @aws-sdk/s3-request-presigner does: a presigned S3 URL never signs its payload.
      await signer.presign(
        { ...request, headers: { ...request.headers, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" } } as never,
        { signingDate: at, expiresIn: 300 },
      )
    : await signer.sign(
        { ...request, headers: { ...request.headers, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" } } as never,
        { signingDate: at },
      );
  const q = Object.entries((out as { query?: Record<string, string> }).query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join("&");
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries((out as { headers: Record<string, string> }).headers))
    lower[k.toLowerCase()] = String(v);
  return {
    method,
    rawPath: path,
    rawQuery: q,
    headers: lower,
  } as RequestParts;
}

const segment = fc.stringMatching(/^[a-zA-Z0-9 ._~+=,;@!'()*$&-]{1,8}$/);
const requestArb = fc.record({
  method: fc.constantFrom("GET", "PUT", "HEAD", "DELETE", "POST"),
  key: fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join("/")),
  query: fc.dictionary(fc.stringMatching(/^[a-z-]{1,6}$/), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
  meta: fc.string({ maxLength: 10 }),
  presign: fc.boolean(),
});

function verify(parts: RequestParts, secret = SECRET): boolean {
  try {
    verifySignature(parts, parseSignature(parts)!, secret, NOW);
    return true;
  } catch (err) {
    if (err instanceof S3Error) return false;
    throw err;
  }
}

describe("SigV4 verification against AWS's signer", () => {
  it("accepts what AWS's signer signs, and refuses any change to a signed part (counter-check)", async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, fc.nat(4), async (r, change) => {
        // Encoded as S3 clients send it (and sign it): each segment once, !'()* too.
        const s3Encode = (seg: string) =>
          encodeURIComponent(seg).replace(
            /[!'()*]/g,
            (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
          );
        const path = `/default/${r.key.split("/").map(s3Encode).join("/")}`;
        const parts = await signed(
          r.method,
          path,
          r.query,
          { "x-amz-meta-note": r.meta.trim() || "x" },
          r.presign,
        );
        expect(verify(parts)).toBe(true);
        const altered: RequestParts = { ...parts, headers: { ...parts.headers } };
        if (change === 0) altered.method = r.method === "GET" ? "PUT" : "GET";
        else if (change === 1) altered.rawPath = `${parts.rawPath}x`;
        else if (change === 2) altered.rawQuery = parts.rawQuery ? `${parts.rawQuery}&extra=1` : "extra=1";
        // host is signed in both forms (a presigned URL hoists x-amz-* headers into its query).
        else if (change === 3) altered.headers.host = "127.0.0.1:7072";
        else {
          expect(verify(parts, `${SECRET}x`)).toBe(false);
          return;
        }
        // A header-signed request with an unsigned extra query pair is still signed over the query.
        expect(verify(altered)).toBe(false);
      }),
      { seed: 17, numRuns: 300 },
    );
  });

  it("refuses an expired presigned URL and a skewed header date", async () => {
    const pre = await signed("GET", "/default/a", {}, {}, true);
    expect(() => verifySignature(pre, parseSignature(pre)!, SECRET, NOW + 301_000)).toThrow(/expired/);
    const hdr = await signed("GET", "/default/a", {}, {}, false);
    expect(() => verifySignature(hdr, parseSignature(hdr)!, SECRET, NOW + 16 * 60_000)).toThrow(/too large/);
  });
});

/** An aws-chunked body of `payload` in chunks of `size`, signed from `seed`. */
function chunked(payload: Buffer, size: number, key: Buffer, signed: SignedRequest): Buffer {
  const out: Buffer[] = [];
  let previous = signed.signature;
  for (let i = 0; i <= payload.length; i += size) {
    const data = payload.subarray(i, Math.min(payload.length, i + size));
    if (data.length === 0 && i < payload.length) continue;
    const sig = chunkSignature(key, signed, previous, createHash("sha256").update(data).digest("hex"));
    previous = sig;
    out.push(
      Buffer.from(`${data.length.toString(16)};chunk-signature=${sig}\r\n`),
      data,
      Buffer.from("\r\n"),
    );
    if (data.length === 0) break;
    if (i + size >= payload.length) {
      const last = chunkSignature(key, signed, previous, createHash("sha256").update("").digest("hex"));
      out.push(Buffer.from(`0;chunk-signature=${last}\r\n\r\n`));
      break;
    }
  }
  return Buffer.concat(out);
}

async function drain(body: Buffer, piece: number, signed: SignedRequest, key: Buffer): Promise<Buffer> {
  async function* source() {
    for (let i = 0; i < body.length; i += piece) yield body.subarray(i, i + piece);
  }
  const got: Uint8Array[] = [];
  const facts = {};
  for await (const b of checkedBody(
    source(),
    { headers: {}, payloadHash: signed.payloadHash, signing: { key, signed } },
    facts,
  ))
    got.push(b);
  return Buffer.concat(got);
}

describe("aws-chunked bodies", () => {
  const signed: SignedRequest = {
    accessKeyId: "tKeyId123",
    date: "20261207",
    region: "us-east-1",
    service: "s3",
    amzDate: "20261207T010000Z",
    signedHeaders: ["host"],
    signature: "a".repeat(64),
    payloadHash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    presigned: false,
  };
  const key = Buffer.alloc(32, 5);

  it("decodes any chunking and network split; a flipped byte anywhere is refused (counter-check)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 3000 }),
        fc.integer({ min: 1, max: 1024 }),
        fc.integer({ min: 1, max: 700 }),
        fc.nat(),
        async (payload, size, piece, flipAt) => {
          const body = chunked(Buffer.from(payload), size, key, signed);
          expect((await drain(body, piece, signed, key)).equals(Buffer.from(payload))).toBe(true);
          const bad = Buffer.from(body);
          bad[flipAt % bad.length]! ^= 1;
          await expect(drain(bad, piece, signed, key)).rejects.toBeInstanceOf(S3Error);
        },
      ),
      { seed: 17, numRuns: 200 },
    );
  });

  it("checks an unsigned body's checksum trailer", async () => {
    const payload = Buffer.from("hello trailer");
    const crc = (await import("node:zlib")).crc32(payload);
    const b64 = Buffer.from([crc >>> 24, (crc >>> 16) & 255, (crc >>> 8) & 255, crc & 255]).toString(
      "base64",
    );
    const body = (value: string) =>
      Buffer.from(
        `${payload.length.toString(16)}\r\n${payload}\r\n0\r\nx-amz-checksum-crc32:${value}\r\n\r\n`,
      );
    const run = async (value: string) => {
      const out: Uint8Array[] = [];
      for await (const b of checkedBody(
        (async function* () {
          yield body(value);
        })(),
        {
          headers: { "x-amz-trailer": "x-amz-checksum-crc32" },
          payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        },
        {},
      ))
        out.push(b);
      return Buffer.concat(out).toString();
    };
    expect(await run(b64)).toBe("hello trailer");
    await expect(run("AAAAAA==")).rejects.toMatchObject({ code: "BadDigest" });
  });
});

describe("keys", () => {
  it("maps keys to paths and refuses what a path cannot hold", () => {
    expect([keyToPath("a/b/c"), keyToPath("a/b/"), keyToPath("x")]).toEqual(["/a/b/c", "/a/b", "/x"]);
    for (const bad of ["", "/a", "a//b", "a/../b", "./a", "a/.", "x".repeat(1025)])
      expect(() => keyToPath(bad), bad).toThrow(S3Error);
  });
});
