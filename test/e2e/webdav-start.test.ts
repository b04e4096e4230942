/**
 * `npm start` serves WebDAV too: it prints the gateway's URL, which answers only with a token
 * (401 without), and a file PUT through it is the same file the SDK reads over the HTTP API.
 * Ctrl-C (SIGINT to the group) stops it cleanly.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../../sdk/index.ts";
import { startNpmStart } from "../support/npm-start.ts";

describe("npm start serves WebDAV", () => {
  let home: string | undefined;
  afterAll(async () => {
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("prints the WebDAV URL; a PUT there with the admin token is read back through the API", {
    timeout: 180_000,
  }, async () => {
    home = await mkdtemp(path.join(tmpdir(), "strata-webdav-start-"));
    const running = await startNpmStart({ home });
    try {
      const url = /webdav\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(running.output())?.[1];
      expect(url, running.output()).toBeDefined();
      expect((await fetch(`${url}x.txt`)).status).toBe(401);
      const basic = `Basic ${Buffer.from(`me:${running.token}`).toString("base64")}`;
      const put = await fetch(`${url}from-webdav.txt`, {
        method: "PUT",
        headers: { authorization: basic },
        body: "through webdav",
      });
      expect(put.status).toBe(201);
      const client = await connect({ endpoint: running.endpoint, token: running.token });
      expect(await client.readFile("/from-webdav.txt", "utf8")).toBe("through webdav");
      await client.close();
    } finally {
      running.signalGroup("SIGINT");
      await running.groupGone();
    }
    expect(running.output()).toContain("strata: stopped");
  });
});
