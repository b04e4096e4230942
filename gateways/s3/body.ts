/**
 * A request body on its way into strata: decoded (aws-chunked), hashed while it streams (MD5 for
 * the ETag, SHA-256 when the signature covers the payload, the `x-amz-checksum-*` algorithm asked
 * for), and checked at its end — Content-MD5, the signed payload hash, the checksum header or
 * trailer, the decoded length. A mismatch throws from the last step of the iteration, so the
 * write it feeds fails and commits nothing (the SDK commits only after the body ends).
 */
import { createHash, type Hash } from "node:crypto";
import { crc32 } from "node:zlib";
import { crc32cUpdate } from "../../core/crc32c.ts";
import { type ChunkedResult, type ChunkedSigning, decodeChunked } from "./chunked.ts";
import { S3Error } from "./errors.ts";

export const CHECKSUM_ALGORITHMS = ["crc32", "crc32c", "sha1", "sha256"] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** An incremental checksum with S3's base64 text form. */
export class Checksum {
  private crc = 0;
  private readonly hash?: Hash;
  constructor(readonly algorithm: ChecksumAlgorithm) {
    if (algorithm === "sha1" || algorithm === "sha256") this.hash = createHash(algorithm);
  }
  update(bytes: Uint8Array): void {
    if (this.hash) this.hash.update(bytes);
    else if (this.algorithm === "crc32") this.crc = crc32(bytes, this.crc);
    else this.crc = crc32cUpdate(this.crc, bytes);
  }
  base64(): string {
    if (this.hash) return this.hash.digest("base64");
    const b = Buffer.alloc(4);
    b.writeUInt32BE(this.crc >>> 0);
    return b.toString("base64");
  }
}

/** What a body turned out to be, once it has been read to its end. */
export interface BodyFacts {
  size: number;
  md5Hex: string;
  /** The checksum the client asked for (header or trailer), verified. */
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
}

export interface BodyOptions {
  headers: Record<string, string | string[] | undefined>;
  /** The payload hash the signature covers (x-amz-content-sha256 or UNSIGNED-PAYLOAD). */
  payloadHash: string;
  /** For STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER): the key and seed signature. */
  signing?: ChunkedSigning;
}

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** The algorithm a request names (`x-amz-checksum-<alg>` header, x-amz-trailer, or x-amz-sdk-checksum-algorithm). */
function algorithmOf(headers: BodyOptions["headers"]): ChecksumAlgorithm | undefined {
  for (const alg of CHECKSUM_ALGORITHMS) if (one(headers[`x-amz-checksum-${alg}`]) !== undefined) return alg;
  const trailer = one(headers["x-amz-trailer"])?.trim().toLowerCase();
  if (trailer?.startsWith("x-amz-checksum-")) {
    const alg = trailer.slice("x-amz-checksum-".length) as ChecksumAlgorithm;
    if (CHECKSUM_ALGORITHMS.includes(alg)) return alg;
    throw new S3Error("InvalidRequest", `The checksum algorithm ${alg} is not supported by this gateway.`);
  }
  return undefined;
}

/**
 * The payload of `source` as bytes, checked as it ends. `facts` is filled when the iteration
 * completes without error.
 */
export async function* checkedBody(
  source: AsyncIterable<Uint8Array>,
  options: BodyOptions,
  facts: Partial<BodyFacts>,
): AsyncGenerator<Uint8Array> {
  const { headers, payloadHash } = options;
  const streaming = payloadHash.startsWith("STREAMING-");
  if (
    streaming &&
    !/^STREAMING-(UNSIGNED-PAYLOAD-TRAILER|AWS4-HMAC-SHA256-PAYLOAD(-TRAILER)?)$/.test(payloadHash)
  )
    throw new S3Error("InvalidArgument", `x-amz-content-sha256 ${payloadHash} is not supported`);
  const chunked: ChunkedResult = { trailers: {} };
  const payload = streaming
    ? decodeChunked(source, payloadHash.includes("HMAC") ? options.signing : undefined, chunked)
    : source;
  const md5 = createHash("md5");
  const sha256 = /^[0-9a-f]{64}$/.test(payloadHash) ? createHash("sha256") : undefined;
  const algorithm = algorithmOf(headers);
  const checksum = algorithm ? new Checksum(algorithm) : undefined;
  let size = 0;
  for await (const piece of payload) {
    const bytes = piece instanceof Uint8Array ? piece : Buffer.from(piece);
    size += bytes.length;
    md5.update(bytes);
    sha256?.update(bytes);
    checksum?.update(bytes);
    yield bytes;
  }
  const md5Bytes = md5.digest();
  if (sha256 && sha256.digest("hex") !== payloadHash)
    throw new S3Error(
      "XAmzContentSHA256Mismatch",
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
  const contentMd5 = one(headers["content-md5"]);
  if (contentMd5 !== undefined && md5Bytes.toString("base64") !== contentMd5.trim())
    throw new S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.");
  const declared = one(headers["x-amz-decoded-content-length"]);
  if (streaming && declared !== undefined && Number(declared) !== size)
    throw new S3Error(
      "IncompleteBody",
      "You did not provide the number of bytes specified by the x-amz-decoded-content-length header.",
    );
  if (checksum) {
    const name = `x-amz-checksum-${checksum.algorithm}`;
    const expected = one(headers[name]) ?? chunked.trailers[name];
    const actual = checksum.base64();
    if (expected === undefined)
      throw new S3Error("InvalidRequest", `The ${name} trailer was announced but not sent.`);
    if (expected !== actual)
      throw new S3Error(
        "BadDigest",
        `The ${checksum.algorithm.toUpperCase()} you specified did not match the calculated checksum.`,
      );
    facts.checksum = { algorithm: checksum.algorithm, value: actual };
  }
  facts.size = size;
  facts.md5Hex = md5Bytes.toString("hex");
}
