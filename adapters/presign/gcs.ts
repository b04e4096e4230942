/**
 * GCS V4 signed URLs (`file.getSignedUrl({version: "v4"})` of @google-cloud/storage, RSA-SHA256
 * with a service account's private key): one method on one object, for `expiresInSeconds`
 * (at most 7 days). A PUT signs the `x-goog-hash: crc32c=…` header, so the client must send it
 * and GCS refuses bytes whose CRC32C differs; the volume driver reads GCS's native `crc32c`
 * (adapters/volumes/gcs.ts), so nothing else is needed for a Volume to verify the object.
 *
 * The signing credential is a service account (client_email + private_key). URLs point at the
 * client's `apiEndpoint` (path style): storage.googleapis.com on GCP, the stand-in locally.
 */
import { Storage } from "@google-cloud/storage";
import { crc32cToBase64 } from "../../core/crc32c.ts";
import { strataError } from "../../core/errors.ts";
import type { PresignedRequest, Presigner, PresignRequest } from "../../core/volume/presign.ts";

export interface GcsSigningCredential {
  client_email: string;
  private_key: string;
}

export interface GcsPresignerOptions {
  bucket: string;
  credential: GcsSigningCredential;
  /** Where URLs point (default https://storage.googleapis.com). */
  apiEndpoint?: string;
  /** The volume's key prefix (as the driver's `prefix`). */
  prefix?: string;
}

/** V4 signed URLs live at most 7 days (Google's limit). */
const MAX_SECONDS = 7 * 24 * 3600;

export class GcsPresigner implements Presigner {
  private readonly storage: Storage;

  constructor(private readonly options: GcsPresignerOptions) {
    // Signing is local (crypto with the private key): this client never sends a request.
    this.storage = new Storage({
      credentials: options.credential,
      projectId: "strata-signer",
      ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint, useAuthWithCustomEndpoint: false } : {}),
    });
  }

  async presign(request: PresignRequest): Promise<PresignedRequest> {
    if (request.expiresInSeconds > MAX_SECONDS)
      throw strataError(
        "EINVAL",
        `GCS signed URLs live at most ${MAX_SECONDS} s, not ${request.expiresInSeconds}`,
      );
    const file = this.storage.bucket(this.options.bucket).file((this.options.prefix ?? "") + request.key);
    const expires = Date.now() + request.expiresInSeconds * 1000;
    const headers: Record<string, string> = {};
    if (request.method === "PUT" && request.crc32c !== undefined)
      headers["x-goog-hash"] = `crc32c=${crc32cToBase64(request.crc32c)}`;
    const [url] = await file.getSignedUrl({
      version: "v4",
      action: request.method === "PUT" ? "write" : "read",
      expires,
      extensionHeaders: headers,
    });
    return { url, method: request.method, headers, expiresAt: new Date(expires).toISOString() };
  }
}
