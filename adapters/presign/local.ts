/**
 * Presigned URLs for local-directory volumes, served by the local server itself:
 *
 *   {endpoint}/v1/blobs/{volume}/{key}?method=PUT&expires=<unix s>&size=<n>&crc32c=<n>&kid=<id>&sig=<hmac>
 *
 * `sig` = HMAC-SHA256 (base64url) over method, volume, key, expiry, size and CRC with a key only
 * the server holds (derived from token key `kid`, so retiring that key voids its URLs), so a URL works for exactly that method on that key until it expires. A PUT is
 * create-only and stored through the Volume with the signed size and CRC32C (a body that does not
 * match stores nothing); a GET streams the object (the client verifies length and CRC32C).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isStrataError, type StrataError, strataError } from "../../core/errors.ts";
import type { Volume } from "../../core/volume/volume.ts";
import { internalError, REQUEST_ID_HEADER } from "../../functions/api/internal-error.ts";
import { statusOf } from "../../functions/api/status-codes.ts";
import type { PresignedRequest, Presigner, PresignRequest } from "./presigner.ts";

export const BLOB_ROUTE_PREFIX = "/v1/blobs/";

export interface LocalBlobSigner {
  /**
   * The HMAC key for blob URLs: the signing one (no id) or the one a URL names (undefined when
   * that key is no longer active). Derived from the deployment's token keys.
   */
  key(keyId?: string): Promise<{ id: string; key: Uint8Array } | undefined>;
  clock?: () => number;
}

function canonical(
  method: string,
  volume: string,
  key: string,
  expires: number,
  size: string,
  crc: string,
): string {
  return [method, volume, key, String(expires), size, crc].join("\n");
}

function sign(key: Uint8Array, text: string): string {
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
    const sig = sign(
      signing.key,
      canonical(request.method, this.volumeName, request.key, expires, size, crc),
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

function denied(message: string): StrataError {
  return strataError("EACCES", message);
}

function sendError(res: ServerResponse, err: unknown): void {
  const e = isStrataError(err) ? err : internalError(err, "blob route");
  if (res.headersSent) {
    res.destroy(e);
    return;
  }
  const requestId = isStrataError(err) ? undefined : String(e.details.requestId);
  res.writeHead(statusOf(e.code), {
    "content-type": "application/json",
    ...(requestId ? { [REQUEST_ID_HEADER]: requestId } : {}),
  });
  res.end(
    JSON.stringify({ error: { code: e.code, message: e.message, details: requestId ? { requestId } : {} } }),
  );
}

/**
 * Serve one `/v1/blobs/...` request. `volumes` are the local volumes by name, or a lookup (volume
 * records: a local volume added at runtime is served without a restart). Answers 403 for a
 * bad, expired or mismatched signature, 404 for a missing object, 409 when a PUT finds a different
 * object under the key.
 */
export async function serveBlob(
  req: IncomingMessage,
  res: ServerResponse,
  volumes: Record<string, Volume> | ((name: string) => Promise<Volume | undefined>),
  signer: LocalBlobSigner,
): Promise<void> {
  try {
    const url = new URL(req.url ?? "/", "http://local");
    const rest = url.pathname.slice(BLOB_ROUTE_PREFIX.length);
    const slash = rest.indexOf("/");
    if (slash < 0) throw strataError("ENOENT", "no such blob route");
    const volumeName = decodeURIComponent(rest.slice(0, slash));
    const key = rest
      .slice(slash + 1)
      .split("/")
      .map((s) => decodeURIComponent(s))
      .join("/");
    const q = url.searchParams;
    const method = req.method ?? "GET";
    const expires = Number(q.get("expires"));
    const size = q.get("size") ?? "";
    const crc = q.get("crc32c") ?? "";
    const verifying = await signer.key(q.get("kid") ?? "");
    if (!verifying) throw denied("the URL was signed with a key this server no longer holds");
    const expected = Buffer.from(sign(verifying.key, canonical(method, volumeName, key, expires, size, crc)));
    const given = Buffer.from(q.get("sig") ?? "");
    if (q.get("method") !== method || expected.length !== given.length || !timingSafeEqual(expected, given))
      throw denied("the URL's signature does not match this method and key");
    if (!(expires * 1000 > (signer.clock ?? Date.now)())) throw denied("the URL has expired");
    const volume =
      typeof volumes === "function"
        ? await volumes(volumeName)
        : Object.hasOwn(volumes, volumeName)
          ? volumes[volumeName]
          : undefined;
    if (!volume) throw strataError("ENOENT", `no local volume ${volumeName}`);
    if (method === "PUT") {
      const declared = {
        size: size === "" ? undefined : Number(size),
        crc32c: crc === "" ? undefined : Number(crc),
      };
      try {
        await volume.put(key, req, { ...declared, ifNoneMatch: true });
      } catch (err) {
        if (!isStrataError(err, "EEXIST")) throw err;
        // Create-only: an identical object already there is success (a retried PUT).
        const info = await volume.head(key);
        if (info.size !== declared.size || info.crc32c !== declared.crc32c)
          throw strataError("EEXIST", "another object is stored under this key");
      }
      res.writeHead(200, { "content-length": "0" });
      res.end();
      return;
    }
    if (method === "GET") {
      const got = await volume.get(key, { verify: false });
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": String(got.info.size),
        "x-strata-crc32c": String(got.info.crc32c),
      });
      for await (const piece of got.body) {
        if (!res.write(piece)) await new Promise((resolve) => res.once("drain", resolve));
      }
      res.end();
      return;
    }
    throw strataError("EINVAL", `blob URLs take GET or PUT, not ${method}`);
  } catch (err) {
    req.resume();
    sendError(res, err);
  }
}
