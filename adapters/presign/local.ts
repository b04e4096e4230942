/**
 * Presigned URLs for local-directory volumes, served by the local server itself:
 *
 *   {endpoint}/v1/blobs/{volume}/{key}?method=PUT&expires=<unix s>&size=<n>&crc32c=<n>&kid=<id>&sig=<hmac>
 *
 * `sig` = HMAC-SHA256 (base64url) over method, volume, key, expiry, size and CRC with a key only
 * the server holds (derived from token key `kid`, so retiring that key voids its URLs), so a URL works for exactly that method on that key until it expires. A PUT is
 * create-only and stored through the Volume with the signed size and CRC32C (a body that does not
 * match stores nothing); a GET streams the object (the client verifies length and CRC32C).
 *
 * This file makes the URLs; the local server's route that answers them is functions/local/blobs.ts.
 */
import { createHmac } from "node:crypto";
import { strataError } from "../../core/errors.ts";
import type { PresignedRequest, Presigner, PresignRequest } from "../../core/volume/presign.ts";

export const BLOB_ROUTE_PREFIX = "/v1/blobs/";

export interface LocalBlobSigner {
  /**
   * The HMAC key for blob URLs: the signing one (no id) or the one a URL names (undefined when
   * that key is no longer active). Derived from the deployment's token keys.
   */
  key(keyId?: string): Promise<{ id: string; key: Uint8Array } | undefined>;
  clock?: () => number;
}

/** The text a blob URL's `sig` is the HMAC of (shared by the presigner and the route). */
export function blobCanonical(
  method: string,
  volume: string,
  key: string,
  expires: number,
  size: string,
  crc: string,
): string {
  return [method, volume, key, String(expires), size, crc].join("\n");
}

/** `sig` of a blob URL: base64url HMAC-SHA256 of {@link blobCanonical}'s text. */
export function blobSignature(key: Uint8Array, text: string): string {
  return createHmac("sha256", key).update(text).digest("base64url");
}

function encodeKey(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}

export class LocalPresigner implements Presigner {
  constructor(
    private readonly volumeName: string,
    /** The server's base URL; a function because the port is known only after listen. */
    private readonly endpoint: () => string,
    private readonly signer: LocalBlobSigner,
  ) {}

  async presign(request: PresignRequest): Promise<PresignedRequest> {
    const now = (this.signer.clock ?? Date.now)();
    const expires = Math.floor(now / 1000) + request.expiresInSeconds;
    const size = request.size === undefined ? "" : String(request.size);
    const crc = request.crc32c === undefined ? "" : String(request.crc32c);
    const signing = await this.signer.key();
    if (!signing) throw strataError("EUNAVAIL", "no key to sign blob URLs with");
    const sig = blobSignature(
      signing.key,
      blobCanonical(request.method, this.volumeName, request.key, expires, size, crc),
    );
    const query = new URLSearchParams({
      method: request.method,
      expires: String(expires),
      size,
      crc32c: crc,
      kid: signing.id,
      sig,
    });
    return {
      url: `${this.endpoint()}${BLOB_ROUTE_PREFIX}${encodeURIComponent(this.volumeName)}/${encodeKey(request.key)}?${query}`,
      method: request.method,
      headers: {},
      expiresAt: new Date(expires * 1000).toISOString(),
    };
  }
}
