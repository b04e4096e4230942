/**
 * Keep-alive end to end (docs/http-api.md "A request's path"): the remote SDK's calls reuse the
 * connections its agent keeps (sdk/remote/transport.ts), and the local server keeps them open, so
 * many calls cost about one TCP connection per concurrent caller, not one each.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "../support/api-server.ts";

describe("keep-alive end to end", () => {
  let fx: ApiFixture;
  let accepted = 0;
  beforeAll(async () => {
    fx = await startApiFixture("local");
    fx.deployment.server.server.on("connection", () => accepted++);
    const client = await fx.client();
    await client.writeFile("/k.txt", "k");
    await client.close();
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it("20 sequential SDK calls, then 4 × 10 concurrent ones, open at most 4 connections", async () => {
    const client = await fx.client();
    const before = accepted;
    for (let i = 0; i < 20; i++) await client.stat("/k.txt");
    expect(accepted - before).toBeLessThanOrEqual(1);
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 10; i++) await client.stat("/k.txt");
      }),
    );
    expect(accepted - before).toBeLessThanOrEqual(4);
    await client.close();
  });

  it("counter-check: the same 20 calls without keep-alive open 20 connections (the count sees them)", async () => {
    const before = accepted;
    for (let i = 0; i < 20; i++) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          `${fx.deployment.endpoint}/v1/pfs/default/ops/fs.stat`,
          {
            method: "POST",
            agent: false,
            headers: { authorization: `Bearer ${fx.adminToken}`, "content-type": "application/json" },
          },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          },
        );
        req.on("error", reject);
        req.end(JSON.stringify({ path: "/k.txt" }));
      });
      expect(status).toBe(200);
    }
    expect(accepted - before).toBe(20);
  });
});
