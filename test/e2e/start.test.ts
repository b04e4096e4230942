import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../../sdk/index.ts";

const run = promisify(execFile);
const root = new URL("../../", import.meta.url).pathname;

describe("npm start (the embedded local deployment) as a process", () => {
  let home: string | undefined;
  afterAll(async () => {
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("creates the deployment in STRATA_HOME, checks it, and keeps state across runs", async () => {
    home = await mkdtemp(path.join(tmpdir(), "strata-start-"));
    const start = () =>
      run("npm", ["start", "--silent"], {
        cwd: root,
        env: { ...process.env, STRATA_HOME: home },
        timeout: 60_000,
      });

    const first = await start();
    expect(first.stdout).toContain(`embedded deployment ready in ${home}`);
    expect(first.stdout).toContain("0 entries at /");

    const client = await connect({ local: home });
    await client.writeFile("/kept.txt", "survives a restart");
    await client.close();

    const second = await start();
    expect(second.stdout).toContain("1 entries at /");
    const again = await connect({ local: home });
    expect(await again.readFile("/kept.txt", "utf8")).toBe("survives a restart");
    await again.close();
  });
});
