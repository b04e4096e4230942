/**
 * The seed's ShotGrid case through `npm start`: the server as a real process (its own process
 * group, so SIGTERM reaches it and its stand-ins), the CLI as a process in the directory holding
 * .strata/connection.json. An objective on `/` pre-stages a tagged shot on the gcs volume; the
 * other shot stays put; a restart keeps objectives and placement. Then remote writes: an
 * objective on /eu makes uploads stage on gcs, and a volume added at runtime gets URLs.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Strata } from "../../sdk/index.ts";
import { type CliRun, strata } from "./cli-process.ts";

const root = new URL("../../", import.meta.url).pathname;
const START = path.join(root, "functions/local/main.ts");
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

interface Server {
  proc: ChildProcess;
  log: () => string;
  exited: Promise<void>;
}

/** `npm start`'s main as a process group leader; resolves once it printed its next steps. */
async function startServer(work: string): Promise<Server> {
  const proc = spawn(process.execPath, ["--import", TSX, START], {
    cwd: work,
    env: { ...process.env, STRATA_HOME: path.join(work, ".strata"), STRATA_PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let log = "";
  proc.stdout?.on("data", (d) => (log += d));
  proc.stderr?.on("data", (d) => (log += d));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  for (let waited = 0; !log.includes("next steps:"); waited += 100) {
    if (proc.exitCode !== null || waited > 120_000) {
      await stopServer({ proc, log: () => log, exited });
      throw new Error(`npm start did not come up:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, log: () => log, exited };
}

async function stopServer(server: Server): Promise<void> {
  if (server.proc.exitCode === null && server.proc.signalCode === null) {
    try {
      process.kill(-server.proc.pid!, "SIGTERM");
    } catch {
      // already gone
    }
  }
  await server.exited;
}

interface Instance {
  volume: string;
  state: string;
}

describe("placement through npm start (ShotGrid case)", () => {
  let work: string;
  let server: Server | undefined;
  const run = (args: string[]) => strata(args, { cwd: work });
  const ok = async (...args: string[]): Promise<CliRun> => {
    const r = await run(args);
    if (r.code !== 0)
      throw new Error(`strata ${args.join(" ")} exited ${r.code}:\n${r.stderr}\n${server?.log() ?? ""}`);
    return r;
  };
  const json = async <T>(...args: string[]): Promise<T> =>
    JSON.parse((await ok(...args, "--json")).stdout) as T;
  const files = ["/show/shot42/a.exr", "/show/shot42/b.exr", "/show/shot43/a.exr", "/show/shot43/b.exr"];
  /** Volumes holding a present instance of every chunk of `file` (per the CLI's placement --json). */
  const presentOn = async (file: string): Promise<string[]> => {
    const out = await json<{ extents: Array<{ instances: Instance[] }> }>("placement", file);
    expect(out.extents.length).toBeGreaterThan(0); // chunked, not inline
    const sets = out.extents.map(
      (e) => new Set(e.instances.filter((i) => i.state === "present").map((i) => i.volume)),
    );
    return [...sets[0]!].filter((v) => sets.every((s) => s.has(v))).sort();
  };

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), "strata-placement-server-"));
    server = await startServer(work);
  }, 150_000);

  afterAll(async () => {
    if (server) await stopServer(server);
    await rm(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }, 60_000);

  it("tagging a shot pre-stages exactly its chunked files on gcs; a restart keeps objectives and placement", {
    timeout: 400_000,
  }, async () => {
    const { result: volumes } = await json<{
      result: { volumes: Array<{ name: string; kind: string; site?: string }> };
    }>("volume", "ls");
    expect(volumes.volumes.map((v) => [v.name, v.kind, v.site]).sort()).toEqual([
      ["azure", "azure", "azure-local"],
      ["gcs", "gcs", "gcs-local"],
      ["local", "local", "local"],
      ["s3", "s3", "aws-local"],
    ]);

    const text = "when tag:render-site place 1 on site:$tag:render-site";
    await ok("objective", "set", "/", text);
    await ok("mkdir", "--parents", "/show/shot42", "/show/shot43");
    const local = path.join(work, "frame.bin");
    for (const file of files) {
      await writeFile(local, randomBytes(20_000)); // above the 4 KiB inline threshold: chunked
      await ok("put", local, file);
    }
    await ok("tag", "set", "/show/shot42", "render-site", "gcs-local");
    await ok("placement", "/show/shot42", "--wait", "--timeout", "240");
    await ok("placement", "/show", "--wait", "--timeout", "240");

    const where = async () =>
      Object.fromEntries(await Promise.all(files.map(async (f) => [f, await presentOn(f)])));
    const before = await where();
    for (const f of files) {
      if (f.includes("shot42")) expect(before[f], f).toContain("gcs");
      else expect(before[f], f).not.toContain("gcs");
    }
    for (const f of files.filter((x) => x.includes("shot43"))) expect(before[f]).toEqual(["local"]);

    const status = await json<{ placed: boolean; files: Array<{ path: string; desired: string[] }> }>(
      "placement",
      "/show",
      "--status",
    );
    expect(status.placed).toBe(true);
    expect(Object.fromEntries(status.files.map((f) => [f.path, f.desired]))).toEqual({
      "/show/shot42/a.exr": ["gcs"],
      "/show/shot42/b.exr": ["gcs"],
      "/show/shot43/a.exr": ["local"],
      "/show/shot43/b.exr": ["local"],
    });

    // Restart on the same home: same records (no conflicts), same objectives, same placement.
    await stopServer(server!);
    expect(server!.log()).toContain("strata: stopped");
    server = await startServer(work);
    expect(server.log()).not.toContain("other settings");
    expect((await json<{ result: { volumes: unknown[] } }>("volume", "ls")).result.volumes).toHaveLength(4);
    const objectives = await json<{ result: { objectives: Array<{ path: string; text: string }> } }>(
      "objective",
      "ls",
    );
    expect(objectives.result.objectives).toEqual([expect.objectContaining({ path: "/", text })]);
    for (const f of files) expect(await presentOn(f), f).toEqual(expect.arrayContaining(before[f]!));
    for (const f of files.filter((x) => x.includes("shot43")))
      expect(await presentOn(f)).not.toContain("gcs");
    // The restarted server reads shot42 back (from whichever copy it prefers).
    expect((await ok("cat", "/show/shot42/a.exr")).stdoutBytes.byteLength).toBe(20_000);
  });

  describe("remote writes follow objectives and runtime volumes", () => {
    let client: Strata;
    beforeAll(async () => {
      const connection = JSON.parse(await readFile(path.join(work, ".strata", "connection.json"), "utf8"));
      client = await connect({ endpoint: connection.endpoint, token: connection.token });
    });
    afterAll(async () => {
      await client?.close();
    });

    const presentVia = async (file: string) => {
      const extents = await client.placement(file);
      expect(extents.length).toBeGreaterThan(0);
      return [
        ...new Set(
          extents.flatMap((e) => e.instances.filter((i) => i.state === "present").map((i) => i.volume)),
        ),
      ].sort();
    };

    it("an objective placing /eu on gcs makes a remote chunked write stage and land on gcs", {
      timeout: 120_000,
    }, async () => {
      await client.mkdir("/eu/plates", { recursive: true });
      await client.admin.call("objective.set", { path: "/eu", text: "place 1 on volume:gcs" });
      const begun = await client.admin.call<{ volume: string }>("upload.begin", {
        path: "/eu/plates/probe.exr",
      });
      expect(begun.volume).toBe("gcs");
      const bytes = randomBytes(50_000);
      await client.writeFile("/eu/plates/p1.exr", bytes);
      // Staged on gcs, committed there: no local copy to trim (the grace is 60 s, so a copy made
      // elsewhere first would still be listed here).
      expect(await presentVia("/eu/plates/p1.exr")).toEqual(["gcs"]);
      expect(Buffer.from(await client.readFile("/eu/plates/p1.exr"))).toEqual(bytes);
      await client.waitForPlacement("/eu", { timeoutMs: 60_000 });
    });

    it("a volume added at runtime gets presigned URLs without a restart", { timeout: 120_000 }, async () => {
      const extra = path.join(work, "extra-volume");
      await mkdir(extra, { recursive: true });
      await ok("volume", "add", "extra", "local", `root=${extra}`, "site=extra", "cost=3");
      await client.mkdir("/extra", { recursive: true });
      await client.admin.call("objective.set", { path: "/extra", text: "place 1 on volume:extra" });
      const bytes = randomBytes(30_000);
      await client.writeFile("/extra/f.bin", bytes);
      expect(await presentVia("/extra/f.bin")).toEqual(["extra"]);
      expect(Buffer.from(await client.readFile("/extra/f.bin"))).toEqual(bytes);
    });
  });
});
