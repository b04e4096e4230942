/**
 * Presigned S3 URLs (SigV4 query authentication, @aws-sdk/s3-request-presigner): one method on
 * one key, for `expiresInSeconds`. A PUT signs `Content-Length` (when the size is known), S3's
 * `x-amz-checksum-crc32c` (S3 checks the body against it) and the `x-amz-meta-strata-crc32c`
 * header the S3 volume driver reads back (adapters/volumes/s3.ts): the client must send them as
 * given, and a body of another size or checksum is refused by S3.
 */
import {
  GetObjectCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { crc32cToBase64, crc32cToHex } from "../../core/crc32c.ts";
import type { PresignedRequest, Presigner, PresignRequest } from "../../core/volume/presign.ts";
import { S3_CRC_METADATA } from "../volumes/s3.ts";

export interface S3PresignerOptions {
  client: S3Client;
  bucket: string;
  /** The volume's key prefix (as the driver's `prefix`). */
  prefix?: string;
}

export class S3Presigner implements Presigner {
  constructor(private readonly options: S3PresignerOptions) {}

  async presign(request: PresignRequest): Promise<PresignedRequest> {
    const Bucket = this.options.bucket;
    const Key = (this.options.prefix ?? "") + request.key;
    const expiresAt = new Date(Date.now() + request.expiresInSeconds * 1000).toISOString();
    if (request.method === "GET") {
      const url = await getSignedUrl(this.options.client, new GetObjectCommand({ Bucket, Key }), {
        expiresIn: request.expiresInSeconds,
      });
      return { url, method: "GET", headers: {}, expiresAt };
    }
    const headers: Record<string, string> = {};
    const Metadata: Record<string, string> = {};
    const input: PutObjectCommandInput = { Bucket, Key, Metadata };
    if (request.crc32c !== undefined) {
      Metadata[S3_CRC_METADATA] = crc32cToHex(request.crc32c);
      headers[`x-amz-meta-${S3_CRC_METADATA}`] = Metadata[S3_CRC_METADATA];
      // S3's own checksum header: S3 refuses a body whose CRC32C differs from the signed value.
      input.ChecksumCRC32C = crc32cToBase64(request.crc32c);
      headers["x-amz-checksum-crc32c"] = input.ChecksumCRC32C;
    }
    // Content-Length is signed: a body of another size does not match the signature (403).
    // Not in `headers`: fetch and other HTTP clients set it from the body.
    if (request.size !== undefined) input.ContentLength = request.size;
    const url = await getSignedUrl(this.options.client, new PutObjectCommand(input), {
      expiresIn: request.expiresInSeconds,
      // Signed as headers (not hoisted into the query): the request must carry them as given.
      unhoistableHeaders: new Set(Object.keys(headers)),
      signableHeaders: new Set(request.size === undefined ? [] : ["content-length"]),
    });
    return { url, method: "PUT", headers, expiresAt };
  }
}
