/**
 * The upload protocol refuses chunks it has not verified: a chunk referenced by hash alone
 * (never uploaded in this session), and a chunk whose uploaded bytes are not the claimed ones.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32c } from "../../core/crc32c.ts";
import type { Strata } from "../../sdk/index.ts";
import { type ApiFixture, startApiFixture } from "../support/api-server.ts";
import { failureOf } from "../support/errors.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("upload.commit verifies what it references", () => {
  let fx: ApiFixture;
  let admin: Strata;
  beforeAll(async () => {
    fx = await startApiFixture("local");
    admin = await fx.client();
  });
  afterAll(async () => {
    await admin.close();
    await fx.dispose();
  });

  it("refuses another file's chunk named by hash, and bytes that are not the claimed chunk", async () => {
    const secret = new Uint8Array(100_000).fill(42);
    await admin.writeFile("/secret.bin", secret);
    const extent = { offset: 0, length: secret.length, chunk: sha(secret), crc32c: crc32c(secret) };

    const { uploadId } = await admin.admin.call<{ uploadId: string }>("upload.begin", {
      pfs: "default",
      path: "/stolen.bin",
    });
    // The same commit is tried twice: before and after bytes were uploaded for the claimed chunk.
    const commitStolen = () =>
      admin.admin.call("upload.commit", {
        pfs: "default",
        path: "/stolen.bin",
        uploadId,
        content: { size: secret.length, extents: [extent] },
      });
    const guessed = await failureOf(commitStolen());
    expect(guessed.code).toBe("EACCES");

    // Claim the chunk, upload other bytes of the same size to the URL given: ECORRUPT, no file.
    const { chunks } = await admin.admin.call<{
      chunks: Array<{ present: boolean; upload?: { url: string; headers: Record<string, string> } }>;
    }>("upload.chunks", {
      pfs: "default",
      uploadId,
      chunks: [{ sha256: extent.chunk, size: extent.length, crc32c: extent.crc32c }],
    });
    expect(chunks[0]!.present).toBe(false);
    const liar = new Uint8Array(secret.length).fill(7);
    const put = await fetch(chunks[0]!.upload!.url, {
      method: "PUT",
      headers: chunks[0]!.upload!.headers,
      body: liar,
    });
    expect(put.status).toBeGreaterThanOrEqual(400); // the local volume checks the signed CRC32C
    const bad = await failureOf(commitStolen());
    expect(["EINVAL", "ECORRUPT"]).toContain(bad.code);
    expect((await failureOf(admin.stat("/stolen.bin"))).code).toBe("ENOENT");
    expect(Buffer.from(await admin.readFile("/secret.bin")).equals(Buffer.from(secret))).toBe(true);
  });
});
