/**
 * Presigned URLs on every volume kind the API presigns for (local server, s3rver, azurite, our GCS
 * stand-in): a URL works for its one key and method, and fails for another key, another method,
 * and after expiry; on GCS also when signed by a key the server does not trust.
 *
 * s3rver does NOT verify SigV4 signatures (node_modules/s3rver/lib/middleware/authentication.js:
 * "Signature version 4 calculation is unimplemented"); it does enforce X-Amz-Expires. So on S3
 * the key and method binding is checked on the URL itself (what real S3 verifies: the key is the
 * signed path, the method is part of the canonical request, the CRC header is signed), and expiry
 * on the stand-in.
 */
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GcsPresigner } from "../../adapters/presign/gcs.ts";
import { crc32c } from "../../core/crc32c.ts";
import { type ApiFixture, startApiFixture, type VolumeKind } from "../support/api-server.ts";
import { standInEndpoint } from "../support/standins.ts";

const KEY_A = `chunks/aa/${"a".repeat(64)}`;
const KEY_B = `chunks/aa/${"b".repeat(64)}`;

async function send(url: string, method: string, headers: Record<string, string>, body?: Uint8Array) {
  const res = await fetch(url, { method, headers, body });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, bytes };
}

for (const kind of ["local", "s3", "azure", "gcs"] as VolumeKind[]) {
  const endpoint = kind === "local" ? "" : standInEndpoint(kind);
  describe(`presigned URLs: ${kind} volume`, () => {
    let fx: ApiFixture | undefined;
    beforeAll(async () => {
      if (endpoint !== undefined) fx = await startApiFixture(kind, endpoint || undefined);
    });
    afterAll(async () => {
      await fx?.dispose();
    });

    it("a URL does its one method on its one key, nothing else, and not after expiry", async (ctx) => {
      if (!fx) return ctx.skip(`STRATA_STANDINS excludes ${kind}`);
      const volume = (await fx.deployment.services.volumes.lookup("v"))!;
      const bytes = new TextEncoder().encode(`presigned bytes on ${kind}`);
      const crc = crc32c(bytes);
      const put = await volume.presigner.presign({
        key: KEY_A,
        method: "PUT",
        expiresInSeconds: 60,
        size: bytes.length,
        crc32c: crc,
      });

      if (kind === "s3") {
        const url = new URL(put.url);
        expect(url.pathname.endsWith(`/${KEY_A}`)).toBe(true);
        expect(url.searchParams.get("X-Amz-SignedHeaders")?.split(";")).toContain("x-amz-meta-strata-crc32c");
        expect(url.searchParams.get("X-Amz-Expires")).toBe("60");
        expect((await send(put.url, "PUT", put.headers, bytes)).status).toBe(200);
        expect(await volume.volume.head(KEY_A)).toMatchObject({ size: bytes.length, crc32c: crc });
        const short = await volume.presigner.presign({ key: KEY_A, method: "GET", expiresInSeconds: 1 });
        expect((await send(short.url, "GET", {})).status).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, 2500));
        expect((await send(short.url, "GET", {})).status, "expired GET").toBeGreaterThanOrEqual(400);
        return;
      }

      // Another key with the same signature: refused, and nothing stored there.
      const other = await send(put.url.replace("a".repeat(64), "b".repeat(64)), "PUT", put.headers, bytes);
      expect(other.status, "PUT to another key").toBeGreaterThanOrEqual(400);
      await expect(volume.volume.head(KEY_B)).rejects.toMatchObject({ code: "ENOENT" });

      // Its own key and method: stored, with the size and CRC32C the Volume verifies.
      expect((await send(put.url, "PUT", put.headers, bytes)).status).toBeLessThan(300);
      const info = await volume.volume.head(KEY_A);
      expect(info).toMatchObject({ size: bytes.length, crc32c: crc });
      expect(Buffer.from(await volume.volume.getBytes(KEY_A)).equals(Buffer.from(bytes))).toBe(true);

      // The PUT URL used for GET: refused.
      expect((await send(put.url, "GET", {})).status, "GET with a PUT URL").toBeGreaterThanOrEqual(400);

      const get = await volume.presigner.presign({ key: KEY_A, method: "GET", expiresInSeconds: 60 });
      const got = await send(get.url, "GET", get.headers);
      expect(got.status).toBe(200);
      expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
      expect(
        (await send(get.url, "PUT", put.headers, new Uint8Array(3))).status,
        "PUT with a GET URL",
      ).toBeGreaterThanOrEqual(400);
      expect(
        (await send(get.url.replace("a".repeat(64), "b".repeat(64)), "GET", {})).status,
      ).toBeGreaterThanOrEqual(400);
      expect(Buffer.from(await volume.volume.getBytes(KEY_A)).equals(Buffer.from(bytes))).toBe(true);

      if (kind === "gcs") {
        // Signed with a service-account key the server does not trust: refused, nothing stored.
        const { privateKey } = generateKeyPairSync("rsa", {
          modulusLength: 2048,
          privateKeyEncoding: { type: "pkcs8", format: "pem" },
          publicKeyEncoding: { type: "spki", format: "pem" },
        });
        const spec = (await fx.deployment.services.volumes.lookup("v"))!;
        const bucket = new URL(put.url).pathname.split("/")[1]!;
        for (const client_email of ["intruder@strata.invalid", gcsEmail(put.url)]) {
          const forger = new GcsPresigner({
            bucket,
            credential: { client_email, private_key: privateKey },
            apiEndpoint: endpoint,
          });
          const forged = await forger.presign({ key: KEY_B, method: "PUT", expiresInSeconds: 60 });
          expect((await send(forged.url, "PUT", forged.headers, bytes)).status, client_email).toBe(403);
        }
        await expect(spec.volume.head(KEY_B)).rejects.toMatchObject({ code: "ENOENT" });
        // A PUT whose bytes do not match the signed CRC32C stores nothing.
        const liar = await volume.presigner.presign({
          key: KEY_B,
          method: "PUT",
          expiresInSeconds: 60,
          size: bytes.length,
          crc32c: crc,
        });
        const wrong = new Uint8Array(bytes.length).fill(1);
        expect((await send(liar.url, "PUT", liar.headers, wrong)).status).toBeGreaterThanOrEqual(400);
        await expect(spec.volume.head(KEY_B)).rejects.toMatchObject({ code: "ENOENT" });
      }

      // Expired: a 1-second URL, used 2.5 seconds later.
      const short = await volume.presigner.presign({ key: KEY_A, method: "GET", expiresInSeconds: 1 });
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect((await send(short.url, "GET", short.headers)).status, "expired GET").toBeGreaterThanOrEqual(400);
    });
  });
}

/** The service account a GCS V4 URL was signed by (X-Goog-Credential = email/scope…). */
function gcsEmail(url: string): string {
  return (new URL(url).searchParams.get("X-Goog-Credential") ?? "").split("/")[0]!;
}
