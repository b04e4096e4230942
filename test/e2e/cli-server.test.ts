import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, strata } from "./cli-process.ts";

const root = new URL("../../", import.meta.url).pathname;
const START = path.join(root, "functions/local/main.ts");
// tsx by absolute URL: the server runs in a temporary directory, where "tsx" would not resolve.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** Resolves when `file` exists, or with false when the process exits (or 90 s pass) first. */
async function appears(file: string, proc: ChildProcess): Promise<boolean> {
  let exited = false;
  proc.once("exit", () => {
    exited = true;
  });
  for (let waited = 0; waited < 90_000; waited += 200) {
    if (
      await access(file).then(
        () => true,
        () => false,
      )
    )
      return true;
    if (exited) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

// `npm start`'s deployment as a real process, driven by the CLI as a process with no flags: it
// finds the server through ./.strata/connection.json.
describe("strata CLI as a process against npm start's server", () => {
  let work: string;
  let server: ChildProcess | undefined;
  let serverLog = "";
  let ready = false;
  const run = (args: string[], env: Record<string, string> = {}) => strata(args, { cwd: work, env });
  const ok = async (...args: string[]): Promise<CliRun> => {
    const r = await run(args);
    if (r.code !== 0) throw new Error(`strata ${args.join(" ")} exited ${r.code}:\n${r.stderr}`);
    return r;
  };

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), "strata-cli-server-"));
    const home = path.join(work, ".strata");
    server = spawn(process.execPath, ["--import", TSX, START], {
      cwd: work,
      env: { ...process.env, STRATA_HOME: home, STRATA_PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    server.stdout?.on("data", (d) => (serverLog += d));
    server.stderr?.on("data", (d) => (serverLog += d));
    ready = await appears(path.join(home, "connection.json"), server);
  });

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once("exit", r));
      server.kill("SIGTERM");
      await exited;
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("a new user's session: mkdir, put, ls, cat, mv, tag, history, as-of, revert, snapshot, get", async (ctx) => {
    if (!ready)
      ctx.skip(`npm start wrote no .strata/connection.json (no server yet?): ${serverLog.slice(-300)}`);
    const status = JSON.parse((await ok("status", "--json")).stdout);
    expect(status.target).toMatchObject({ kind: "remote", pfs: "default" });
    expect(status.target.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);

    const big = randomBytes(9 * 1024 * 1024 + 7); // more than one 8 MiB chunk: bytes go by presigned URL
    await writeFile(path.join(work, "big.bin"), big);
    await writeFile(path.join(work, "notes.txt"), "first take\n");
    await ok("mkdir", "-p", "/show/shot42");
    await ok("put", "notes.txt", "/show/shot42/");
    await ok("put", "big.bin", "/show/shot42/");
    expect((await ok("ls", "/show/shot42")).stdout).toBe("big.bin\nnotes.txt\n");
    expect((await ok("cat", "/show/shot42/notes.txt")).stdout).toBe("first take\n");
    const placement = JSON.parse((await ok("placement", "/show/shot42/big.bin", "--json")).stdout);
    expect(placement.extents.length).toBe(2);
    expect(placement.extents[0].instances[0].state).toBe("present");

    const before = (await ok("tid")).stdout.trim();
    await ok("snapshot", "create", "take1");
    await writeFile(path.join(work, "notes.txt"), "rewritten\n");
    await ok("put", "notes.txt", "/show/shot42/notes.txt");
    expect((await ok("cat", "/show/shot42/notes.txt", "--as-of", before)).stdout).toBe("first take\n");
    await ok("mv", "/show/shot42/notes.txt", "/show/shot42/notes-v2.txt");
    await ok("tag", "set", "/show/shot42/notes-v2.txt", "render-site", "gcs-eu");
    expect(JSON.parse((await ok("tag", "ls", "/show/shot42/notes-v2.txt", "--json")).stdout).tags).toEqual({
      "render-site": "gcs-eu",
    });
    const history = JSON.parse((await ok("history", "/show/shot42/notes-v2.txt", "--json")).stdout);
    expect(history.versions.map((v: { change: string }) => v.change)).toContain("create");
    await ok("revert", "-r", "/show/shot42", "--to", "@take1");
    expect((await ok("cat", "/show/shot42/notes.txt")).stdout).toBe("first take\n");

    await mkdir(path.join(work, "out"));
    await ok("get", "-r", "/show", "out");
    expect((await readFile(path.join(work, "out/show/shot42/big.bin"))).equals(big)).toBe(true);
    expect(await readFile(path.join(work, "out/show/shot42/notes.txt"), "utf8")).toBe("first take\n");
  });

  it("tokens: a read token cannot write, a token of another PFS is refused (exit 4)", async (ctx) => {
    if (!ready) ctx.skip("npm start wrote no .strata/connection.json");
    await ok("pfs", "create", "scratch");
    const read = (await ok("token", "create", "--rights", "read", "--ttl", "1h")).stdout.trim();
    const scratch = (
      await ok("--pfs", "scratch", "token", "create", "--rights", "read,write", "--ttl", "1h")
    ).stdout.trim();
    expect(read).not.toBe("");

    expect((await run(["ls", "/"], { STRATA_TOKEN: read })).code).toBe(0);
    const denied = await run(["mkdir", "/nope", "--json"], { STRATA_TOKEN: read });
    expect(denied.code).toBe(4);
    expect(JSON.parse(denied.stderr).error.code).toBe("EACCES");

    expect((await run(["--pfs", "scratch", "mkdir", "/mine"], { STRATA_TOKEN: scratch })).code).toBe(0);
    const otherPfs = await run(["ls", "/"], { STRATA_TOKEN: scratch });
    expect(otherPfs.code).toBe(4);
    expect(otherPfs.stderr).toContain("EACCES");

    const ids = JSON.parse((await ok("token", "ls", "--json")).stdout).tokens.map(
      (t: { id: string }) => t.id,
    );
    const scratchId = JSON.parse((await ok("token", "ls", "--json")).stdout).tokens.find(
      (t: { pfs: string }) => t.pfs === "scratch",
    ).id;
    expect(ids).toContain(scratchId);
    await ok("token", "revoke", scratchId);
    expect((await run(["--pfs", "scratch", "ls", "/"], { STRATA_TOKEN: scratch })).code).toBe(4);
  });
  it("operator commands: fsck, vacuum (dry run), scrub, retention, mirror status", async (ctx) => {
    if (!ready) ctx.skip("npm start wrote no .strata/connection.json");
    const fsck = await ok("fsck");
    expect(fsck.stdout).toMatch(/^fsck: no problems/);
    const dry = JSON.parse((await ok("vacuum", "--json")).stdout);
    expect(dry.op).toBe("vacuum.run");
    expect(dry.result.apply).toBe(false);
    expect((await ok("vacuum")).stdout).toContain("dry run");
    expect((await ok("scrub")).stdout).toMatch(/^scrub: checked \d+ objects/);
    await ok("retention", "set", "all 1h; daily 30d");
    expect(JSON.parse((await ok("retention", "get", "--json")).stdout).result.policy).toBe(
      "all 1h; daily 30d",
    );
    expect(JSON.parse((await ok("mirror", "status", "--json")).stdout).result).toEqual({ mirrors: [] });
  });
});
