/**
 * Presigned S3 URLs (SigV4 query authentication, @aws-sdk/s3-request-presigner): one method on
 * one key, for `expiresInSeconds`. A PUT signs the `x-amz-meta-strata-crc32c` header the S3 volume
 * driver reads back (adapters/volumes/s3.ts), so the client must send it exactly as given.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { crc32cToHex } from "../../core/crc32c.ts";
import { S3_CRC_METADATA } from "../volumes/s3.ts";
import type { PresignedRequest, Presigner, PresignRequest } from "./presigner.ts";

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
    if (request.crc32c !== undefined) {
      Metadata[S3_CRC_METADATA] = crc32cToHex(request.crc32c);
      headers[`x-amz-meta-${S3_CRC_METADATA}`] = Metadata[S3_CRC_METADATA];
    }
    const url = await getSignedUrl(this.options.client, new PutObjectCommand({ Bucket, Key, Metadata }), {
      expiresIn: request.expiresInSeconds,
      // Signed as headers (not hoisted into the query): the object must carry them.
      unhoistableHeaders: new Set(Object.keys(headers)),
    });
    return { url, method: "PUT", headers, expiresAt };
  }
}
