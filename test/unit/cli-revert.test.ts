import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../sdk/index.ts";
import { cli, tempDir } from "./cli-helpers.ts";

// The session, through the CLI on an embedded deployment: revert follows the file across
// its directory's rename; --dry-run lists and changes nothing; -r prints the list before acting.
describe("strata revert (CLI)", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const strata = (...args: string[]) => cli(["--local", `${dir}/deployment`, ...args], { cwd: dir });
  const ok = async (...args: string[]) => {
    const r = await strata(...args);
    if (r.code !== 0) throw new Error(`strata ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("strata-cli-revert-"));
  });
  afterAll(() => cleanup());

  // Each CLI call opens the embedded deployment: the setup goes through the SDK (one open).
  it("a file moved with its parent comes back at its current path; --dry-run and -r list the changes", {
    timeout: 120_000,
  }, async () => {
    const client = await connect({ local: `${dir}/deployment` });
    await client.mkdir("/demo/shots", { recursive: true });
    await client.writeFile("/demo/shots/a.txt", "take 1\n");
    const t = await client.currentTid();
    await client.writeFile("/demo/shots/a.txt", "take 2\n");
    await client.writeFile("/demo/shots/b.txt", "take 2\n");
    await client.rename("/demo/shots", "/demo/final");
    await client.close();

    // --dry-run: the list, and nothing changes.
    expect(await ok("revert", "-r", "--dry-run", "/demo/final", "--to", t)).toBe(
      `revert /demo/final to ${t} would change:\n  ~ /demo/final/a.txt\n  - /demo/final/b.txt\n`,
    );
    expect(JSON.parse(await ok("--json", "revert", "-r", "--dry-run", "/demo/final", "--to", t))).toEqual({
      path: "/demo/final",
      to: t,
      dryRun: true,
      created: [],
      changed: ["/demo/final/a.txt"],
      removed: ["/demo/final/b.txt"],
    });
    expect(await ok("cat", "/demo/final/a.txt")).toBe("take 2\n");

    // The file itself, by identity: its content of T at its current path (it used to be deleted).
    expect(await ok("revert", "/demo/final/a.txt", "--to", t)).toMatch(
      new RegExp(`^reverted /demo/final/a.txt to ${t} \\(commit [0-9a-f]{16}\\)\\n$`),
    );
    expect(await ok("cat", "/demo/final/a.txt")).toBe("take 1\n");

    // An object that did not exist at T: exit 2, a message naming T, nothing changed.
    const refused = await strata("revert", "/demo/final/b.txt", "--to", t);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(t);
    expect(await ok("cat", "/demo/final/b.txt")).toBe("take 2\n");

    // -r on the directory: the list first, then the commit.
    const out = await ok("revert", "-r", "/demo/final", "--to", t);
    expect(out).toMatch(
      new RegExp(
        `^reverting /demo/final to ${t}:\\n  - /demo/final/b.txt\\nreverted /demo/final to ${t} \\(commit [0-9a-f]{16}\\)\\n$`,
      ),
    );
    expect(await ok("ls", "/demo/final")).toBe("a.txt\n");

    // --by-path: the old behaviour, on request (at T, /demo/final named nothing).
    await ok("revert", "--by-path", "/demo/final/a.txt", "--to", t);
    expect((await strata("cat", "/demo/final/a.txt")).code).toBe(2);
  });
});
