/**
 * The local server's `/v1/blobs/...` route: it answers the presigned URLs of local-directory
 * volumes (made by adapters/presign/local.ts, which documents the URL and its signature).
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  BLOB_ROUTE_PREFIX,
  blobCanonical,
  blobSignature,
  type LocalBlobSigner,
} from "../../adapters/presign/local.ts";
import { isStrataError, type StrataError, strataError } from "../../core/errors.ts";
import type { Volume } from "../../core/volume/volume.ts";
import { internalError, REQUEST_ID_HEADER } from "../api/internal-error.ts";
import { statusOf } from "../api/status-codes.ts";

export { BLOB_ROUTE_PREFIX };

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
    const expected = Buffer.from(
      blobSignature(verifying.key, blobCanonical(method, volumeName, key, expires, size, crc)),
    );
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
