import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../../sdk/index.ts";

const root = new URL("../../", import.meta.url).pathname;

describe("npm start (the local deployment) through npm", () => {
  let home: string | undefined;
  afterAll(async () => {
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("prints the endpoint, an admin token and next steps, writes connection.json, serves the API", {
    timeout: 120_000,
  }, async () => {
    home = await mkdtemp(path.join(tmpdir(), "strata-start-"));
    // Its own process group, as a terminal gives it: SIGTERM reaches npm and the server; the server
    // stops its stand-ins (their own groups) after draining.
    const child = spawn("npm", ["start", "--silent"], {
      cwd: root,
      env: { ...process.env, STRATA_HOME: home, STRATA_PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      while (!out.includes("npx strata cat /readme.md")) {
        if (child.exitCode !== null) throw new Error(`npm start exited ${child.exitCode}:\n${out}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const endpoint = /endpoint\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      const token = /admin token\s+(strata2\.\S+)/.exec(out)?.[1];
      expect(endpoint).toBeDefined();
      expect(out).toContain("npx strata ls /");
      expect(out).toContain("npx strata put ./README.md /readme.md");
      expect(JSON.parse(await readFile(path.join(home, "connection.json"), "utf8"))).toEqual({
        endpoint,
        token,
        pfs: "default",
      });
      const client = await connect({ endpoint: endpoint!, token: token! });
      await client.writeFile("/readme.md", "hello from npm start");
      expect(await client.readFile("/readme.md", "utf8")).toBe("hello from npm start");
      expect(await client.admin.status()).toMatchObject({ runtime: "local", metadata: "sqlite" });
      await client.close();
      // The home is private and the token keys live beside the table, not in it.
      const mode = async (name: string) => (await stat(path.join(home!, name))).mode & 0o777;
      expect(await mode(".")).toBe(0o700);
      expect(await mode("metadata.db")).toBe(0o600);
      expect(await mode("token-keys")).toBe(0o600);
      expect(await mode("connection.json")).toBe(0o600);
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, "SIGTERM");
      await exited;
      // npm can exit before the server has drained and stopped its stand-ins (own process groups):
      // wait for the whole group before the home is removed.
      for (;;) {
        try {
          process.kill(-child.pid!, 0);
        } catch {
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  });
});
