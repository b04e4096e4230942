/**
 * `strata` on the PATH (issue 20 item 2): installed with `npm install -g --prefix <dir> <clone>`
 * (offline: npm links the clone), run by name from a subdirectory of a directory whose
 * `.strata/connection.json` points at a server (found in the parent, as git finds `.git`), from
 * another directory through STRATA_HOME, and with nothing to find. And what `npm pack` ships.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "../support/api-server.ts";

const root = path.resolve(new URL("../../", import.meta.url).pathname);

function run(
  file: string,
  args: string[],
  options: { cwd: string; env: Record<string, string | undefined>; timeout?: number },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, env: options.env, timeout: options.timeout ?? 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") return reject(err);
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

describe("strata on the PATH", () => {
  let api: ApiFixture;
  let scratch: string;
  let prefix: string;
  let env: Record<string, string | undefined>;
  let installed = "";

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "strata-cli-path-"));
    prefix = path.join(scratch, "prefix");
    api = await startApiFixture("local");
    const project = path.join(scratch, "project");
    await mkdir(path.join(project, ".strata"), { recursive: true });
    await mkdir(path.join(project, "shots/shot42/plates"), { recursive: true });
    await writeFile(
      path.join(project, ".strata/connection.json"),
      JSON.stringify({ endpoint: api.deployment.endpoint, token: api.adminToken, pfs: "default" }),
    );
    const npm = await run(
      "npm",
      ["install", "-g", "--prefix", prefix, root, "--offline", "--ignore-scripts", "--no-audit", "--no-fund"],
      { cwd: scratch, env: { PATH: process.env.PATH, HOME: process.env.HOME }, timeout: 120_000 },
    );
    if (npm.code !== 0) installed = `npm install -g failed (${npm.code}): ${npm.stderr.slice(-400)}`;
    // Only the installed bin directory and node: no clone on the PATH, no STRATA_* variables.
    env = {
      PATH: `${path.join(prefix, "bin")}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
      HOME: process.env.HOME,
    };
  }, 180_000);

  afterAll(async () => {
    await api?.dispose();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("npm install -g <clone> puts `strata` on the PATH", async (ctx) => {
    if (installed) ctx.skip(installed);
    expect((await stat(path.join(prefix, "bin", "strata"))).isFile()).toBe(true);
    const r = await run("strata", ["--version"], { cwd: scratch, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^strata \d+\.\d+\.\d+\n$/);
  });

  it("from a subdirectory it finds the deployment in a parent's .strata", async (ctx) => {
    if (installed) ctx.skip(installed);
    const deep = path.join(scratch, "project/shots/shot42/plates");
    expect((await run("strata", ["mkdir", "-p", "/show/from-a-subdirectory"], { cwd: deep, env })).code).toBe(
      0,
    );
    const ls = await run("strata", ["ls", "/show"], { cwd: deep, env });
    expect(ls).toMatchObject({ code: 0, stdout: "from-a-subdirectory/\n" });
    const status = JSON.parse((await run("strata", ["status", "--json"], { cwd: deep, env })).stdout);
    expect(status.target).toMatchObject({ kind: "remote", endpoint: api.deployment.endpoint });
  });

  it("from another directory: STRATA_HOME names the deployment; with nothing to find, exit 1 saying where it looked", async (ctx) => {
    if (installed) ctx.skip(installed);
    const elsewhere = path.join(scratch, "elsewhere");
    await mkdir(elsewhere, { recursive: true });
    const home = { ...env, STRATA_HOME: path.join(scratch, "project/.strata") };
    expect(await run("strata", ["ls", "/show"], { cwd: elsewhere, env: home })).toMatchObject({
      code: 0,
      stdout: "from-a-subdirectory/\n",
    });
    const none = await run("strata", ["ls", "/"], { cwd: elsewhere, env });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no strata deployment found");
    expect(none.stderr).toContain("a parent");
  });

  it("npm pack ships the launcher, the build script and (once built) the compiled CLI, not node_modules", async (ctx) => {
    const packed = await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      timeout: 120_000,
    });
    expect(packed.code).toBe(0);
    const files: string[] = JSON.parse(packed.stdout)[0].files.map((f: { path: string }) => f.path);
    expect(files).toEqual(expect.arrayContaining(["cli/bin.mjs", "cli/launch.mjs", "scripts/build-cli.mjs"]));
    expect(files.some((f) => f.startsWith("node_modules/"))).toBe(false);
    const built = await stat(path.join(root, "dist/cli/main.js")).then(
      () => true,
      () => false,
    );
    if (!built) ctx.skip("dist/cli is not built here (`npm run build`; `npm ci` runs it through prepare)");
    expect(files).toContain("dist/cli/main.js");
    expect(files).toContain("dist/cli/manifest.json");
  }, 120_000);
});
