/**
 * `aws-chunked` request bodies (docs/s3-gateway.md "Auth"):
 *
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD            `<hex>;chunk-signature=<sig>\r\n<data>\r\n` … `0;chunk-signature=<sig>\r\n\r\n`
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER    the same, then trailer lines and `x-amz-trailer-signature:<sig>`
 *   STREAMING-UNSIGNED-PAYLOAD-TRAILER            `<hex>\r\n<data>\r\n` … `0\r\n<trailer lines>\r\n`
 *
 * {@link decodeChunked} yields the payload while checking every chunk's signature (chained from
 * the request's seed signature) before the chunk is passed on, so a forged chunk stops the write
 * before anything commits. The trailers (e.g. `x-amz-checksum-crc32c`) are handed to the caller
 * once the body ends; the caller verifies them against what it computed.
 */
import { S3Error } from "./errors.ts";
import { chunkSignature, type SignedRequest, sameSignature, sha256Hex, trailerSignature } from "./sigv4.ts";

/** Largest chunk header line or trailer block accepted (bytes). */
const MAX_LINE = 4096;
/** Largest chunk accepted (AWS's clients send ≤ 8 MiB; bounded so memory stays bounded). */
const MAX_CHUNK = 64 * 1024 * 1024;

export interface ChunkedSigning {
  key: Uint8Array;
  signed: SignedRequest;
}

export interface ChunkedResult {
  /** Trailer headers, lower-cased names (present once the body has ended). */
  trailers: Record<string, string>;
}

const incomplete = () => new S3Error("IncompleteBody", "The request body terminated unexpectedly");

class Reader {
  private buf = Buffer.alloc(0);
  private done = false;
  private readonly it: AsyncIterator<Uint8Array>;
  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }
  private async more(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.it.next();
    if (next.done) {
      this.done = true;
      return false;
    }
    this.buf = this.buf.length === 0 ? Buffer.from(next.value) : Buffer.concat([this.buf, next.value]);
    return true;
  }
  async line(): Promise<string> {
    for (;;) {
      const at = this.buf.indexOf("\r\n");
      if (at >= 0) {
        const text = this.buf.subarray(0, at).toString("latin1");
        this.buf = this.buf.subarray(at + 2);
        return text;
      }
      if (this.buf.length > MAX_LINE)
        throw new S3Error("InvalidRequest", "aws-chunked: a chunk header is too long");
      if (!(await this.more())) throw incomplete();
    }
  }
  async bytes(n: number): Promise<Buffer> {
    while (this.buf.length < n) if (!(await this.more())) throw incomplete();
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  async end(): Promise<void> {
    if (this.buf.length > 0 || (await this.more()))
      throw new S3Error("InvalidRequest", "aws-chunked: bytes after the end of the body");
  }
}

/**
 * The payload of an aws-chunked body. `signing` present: every chunk (and the trailer, when
 * `trailer` is true) must carry a valid chained signature. `result.trailers` is filled at the end.
 */
export async function* decodeChunked(
  source: AsyncIterable<Uint8Array>,
  signing: ChunkedSigning | undefined,
  result: ChunkedResult,
): AsyncGenerator<Uint8Array> {
  const r = new Reader(source);
  let previous = signing?.signed.signature ?? "";
  for (;;) {
    const head = await r.line();
    // Exactly `<hex>` or `<hex>;chunk-signature=<64 hex>`: nothing else may ride on the line.
    const m = /^([0-9a-fA-F]{1,8})(?:;chunk-signature=([0-9a-f]{64}))?$/.exec(head);
    if (!m) throw new S3Error("InvalidRequest", "aws-chunked: a chunk header is malformed");
    const size = Number.parseInt(m[1]!, 16);
    if (size > MAX_CHUNK) throw new S3Error("InvalidRequest", "aws-chunked: a chunk is larger than 64 MiB");
    const data = size > 0 ? await r.bytes(size) : Buffer.alloc(0);
    if (signing) {
      const given = m[2];
      const expected = chunkSignature(signing.key, signing.signed, previous, sha256Hex(data));
      if (!given || !sameSignature(expected, given))
        throw new S3Error(
          "SignatureDoesNotMatch",
          "The request signature we calculated does not match the signature you provided (aws-chunked chunk).",
        );
      previous = expected;
    }
    if (size > 0) {
      if ((await r.line()) !== "")
        throw new S3Error("InvalidRequest", "aws-chunked: a chunk is not followed by CRLF");
      yield data;
      continue;
    }
    // The last chunk: trailer lines until an empty line (or the end of the body).
    const lines: string[] = [];
    for (;;) {
      let line: string;
      try {
        line = await r.line();
      } catch (err) {
        if (err instanceof S3Error && err.code === "IncompleteBody" && lines.length === 0) break;
        throw err;
      }
      if (line === "") break;
      lines.push(line);
    }
    const trailers: Record<string, string> = {};
    let trailerSig: string | undefined;
    let signedText = "";
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon <= 0) throw new S3Error("InvalidRequest", "aws-chunked: a trailer line is malformed");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "x-amz-trailer-signature") trailerSig = value;
      else {
        trailers[name] = value;
        signedText += `${name}:${value}\n`;
      }
    }
    if (signing?.signed.payloadHash.endsWith("-TRAILER")) {
      const expected = trailerSignature(signing.key, signing.signed, previous, signedText);
      if (!trailerSig || !sameSignature(expected, trailerSig))
        throw new S3Error(
          "SignatureDoesNotMatch",
          "The request signature we calculated does not match the signature you provided (aws-chunked trailer).",
        );
    }
    await r.end();
    result.trailers = trailers;
    return;
  }
}
