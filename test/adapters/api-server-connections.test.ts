/**
 * The local server's connection handling: a request refused before its body was read (413 for a
 * body over MAX_BODY_BYTES) gets its 413 — not a connection reset — and does not poison the next
 * request. Before the fix, a 16 MB body was answered by ECONNRESET: the server kept the socket
 * alive with megabytes of unread body on it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "../../functions/api/handle.ts";
import { type ApiFixture, startApiFixture } from "../support/api-server.ts";

describe("local server connections", () => {
  let api: ApiFixture;
  beforeAll(async () => {
    api = await startApiFixture("local");
  });
  afterAll(async () => {
    await api?.dispose();
  });

  it("an oversized body is answered 413 E2BIG, and the next request on the same client succeeds", async () => {
    const url = `${api.deployment.endpoint}/v1/pfs/default/ops/fs.stat`;
    const headers = { authorization: `Bearer ${api.adminToken}`, "content-type": "application/json" };
    for (const size of [MAX_BODY_BYTES + 1024, 16 * MAX_BODY_BYTES]) {
      const refused = await fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify({ path: "/", pad: "x".repeat(size) }),
      });
      expect(refused.status).toBe(413);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("E2BIG");
      const ok = await fetch(url, { method: "POST", headers, body: JSON.stringify({ path: "/" }) });
      expect(ok.status).toBe(200);
      await ok.arrayBuffer();
    }
  });
});
