/**
 * The presigner port (adapters/presign/ implements it per kind).
 *
 * Presigned requests: a URL that lets its holder do exactly ONE method on exactly ONE object key
 * of one volume until it expires, with no other credential. File bytes move through these,
 * never through the API (docs/http-api.md, "Bytes").
 */

export type PresignMethod = "GET" | "PUT";

export interface PresignRequest {
  key: string;
  method: PresignMethod;
  expiresInSeconds: number;
  /** PUT: the object's size and CRC32C, which the volume stores with it (and may enforce). */
  size?: number;
  crc32c?: number;
}

export interface PresignedRequest {
  url: string;
  method: PresignMethod;
  /** Headers the client MUST send as given (signed ones, and the CRC metadata a Volume expects). */
  headers: Record<string, string>;
  /** ISO time after which the URL is refused. */
  expiresAt: string;
}

export interface Presigner {
  presign(request: PresignRequest): Promise<PresignedRequest>;
}
