/**
 * `npm start` as a real process (node --import tsx functions/local/main.ts, which is what the npm
 * script runs, without npm in between so signals reach it), driven by the SDK over HTTP: a new
 * user's session, rights, foreign/expired/revoked tokens, a presigned URL used for another key,
 * SIGTERM after an acknowledged write, restart with state intact.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, isStrataError, type Strata } from "../../sdk/index.ts";

const require = createRequire(import.meta.url);
const root = new URL("../../", import.meta.url).pathname;

interface Running {
  child: ChildProcess;
  endpoint: string;
  token: string;
  output: () => string;
}

async function start(home: string): Promise<Running> {
  const child = spawn(process.execPath, ["--import", require.resolve("tsx"), "functions/local/main.ts"], {
    cwd: root,
    env: { ...process.env, STRATA_HOME: home, STRATA_PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const deadline = Date.now() + 90_000;
  while (!/next steps:/.test(out)) {
    if (child.exitCode !== null) throw new Error(`npm start exited ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`npm start did not get ready:\n${out}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const endpoint = /endpoint\s+(http:\/\/\S+)/.exec(out)![1]!;
  const token = /admin token\s+(\S+)/.exec(out)![1]!;
  return { child, endpoint, token, output: () => out };
}

async function stop(run: Running): Promise<number | null> {
  if (run.child.exitCode !== null) return run.child.exitCode;
  const exited = new Promise<number | null>((resolve) => run.child.once("exit", (code) => resolve(code)));
  run.child.kill("SIGTERM");
  return exited;
}

async function failure(promise: Promise<unknown>): Promise<{ code: string; auth?: unknown }> {
  try {
    await promise;
  } catch (err) {
    if (isStrataError(err)) return { code: err.code, auth: err.details.auth };
    throw err;
  }
  throw new Error("expected the call to fail");
}

describe("npm start: the HTTP API driven by the SDK over HTTP", () => {
  let home: string | undefined;
  let running: Running | undefined;
  const clients: Strata[] = [];
  afterAll(async () => {
    for (const c of clients) await c.close();
    if (running) await stop(running);
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("a session, rights, tokens, presigned URLs, SIGTERM and a restart with state intact", {
    timeout: 240_000,
  }, async () => {
    home = await mkdtemp(path.join(tmpdir(), "strata-server-"));
    running = await start(home);
    const { endpoint } = running;
    expect(running.output()).toContain("npx strata ls /");

    // connection.json for the CLI: endpoint, token, pfs; readable by the owner only.
    const connection = JSON.parse(await readFile(path.join(home, "connection.json"), "utf8"));
    expect(connection).toEqual({ endpoint, token: running.token, pfs: "default" });
    expect((await stat(path.join(home, "connection.json"))).mode & 0o777).toBe(0o600);

    // A new user's session
    const admin = await connect({ endpoint, token: running.token, pfs: "default" });
    clients.push(admin);
    await admin.mkdir("/team/docs", { recursive: true });
    await admin.writeFile("/team/docs/a.txt", "version one");
    const big = new Uint8Array(300_000).map((_, i) => (i * 31) & 0xff);
    await admin.writeFile("/team/big.bin", big);
    expect(await admin.readdir("/team")).toEqual(["big.bin", "docs"]);
    expect(await admin.readFile("/team/docs/a.txt", "utf8")).toBe("version one");
    const t1 = await admin.currentTid();
    await admin.writeFile("/team/docs/a.txt", "version two");
    await admin.rename("/team/docs/a.txt", "/team/docs/b.txt");
    await admin.tags.set("/team/docs/b.txt", "render-site", "azure");
    expect(await admin.tags.get("/team/docs/b.txt", "render-site")).toBe("azure");
    expect((await admin.history("/team/docs/b.txt")).length).toBeGreaterThanOrEqual(3);
    expect(await admin.asOf(t1).readFile("/team/docs/a.txt", "utf8")).toBe("version one");
    await admin.snapshots.create("before-revert");
    await admin.revert("/team/docs", t1, { recursive: true });
    expect(await admin.readFile("/team/docs/a.txt", "utf8")).toBe("version one");
    expect((await admin.snapshots.list()).map((s) => s.name)).toEqual(["before-revert"]);
    expect(await admin.asOf({ snapshot: "before-revert" }).readFile("/team/docs/b.txt", "utf8")).toBe(
      "version two",
    );
    expect(Buffer.from(await admin.readFile("/team/big.bin")).equals(Buffer.from(big))).toBe(true);

    // Rights
    const reader = await admin.admin.createToken({ pfs: "default", prefix: "/team", rights: ["read"] });
    const writer = await admin.admin.createToken({ pfs: "default", prefix: "/team/docs", rights: ["write"] });
    const asReader = await connect({ endpoint, token: reader.token });
    const asWriter = await connect({ endpoint, token: writer.token });
    clients.push(asReader, asWriter);
    expect(await asReader.readFile("/team/docs/a.txt", "utf8")).toBe("version one");
    expect(await failure(asReader.writeFile("/team/x", "no"))).toEqual({ code: "EACCES", auth: undefined });
    expect((await failure(asReader.readdir("/"))).code).toBe("EACCES"); // outside its prefix
    expect((await failure(asReader.readFile("/team/../secret"))).code).toBe("EACCES");
    await asWriter.writeFile("/team/docs/w.txt", "by the writer");
    expect((await failure(asWriter.writeFile("/team/w.txt", "outside"))).code).toBe("EACCES");
    expect((await failure(asWriter.symlink("/elsewhere", "/team/docs/link"))).code).toBe("EACCES");
    expect((await failure(asWriter.admin.createToken({ pfs: "default", rights: ["read"] }))).code).toBe(
      "EACCES",
    );
    expect((await failure(asWriter.admin.createPfs("mine"))).code).toBe("EACCES");
    expect((await failure(asWriter.snapshots.delete("before-revert"))).code).toBe("EACCES");

    // A token of another PFS
    await admin.admin.createPfs("other");
    const foreign = await admin.admin.createToken({ pfs: "other", rights: ["admin"] });
    const asForeign = await connect({ endpoint, token: foreign.token, pfs: "default" });
    clients.push(asForeign);
    expect((await failure(asForeign.readdir("/"))).code).toBe("EACCES");
    expect(await asForeign.pfs("other").readdir("/")).toEqual([]);

    // Expired and revoked tokens: 401
    const brief = await admin.admin.createToken({ pfs: "default", rights: ["read"], ttlSeconds: 1 });
    const revoked = await admin.admin.createToken({ pfs: "default", rights: ["read"] });
    const asRevoked = await connect({ endpoint, token: revoked.token });
    clients.push(asRevoked);
    expect(await asRevoked.readdir("/team")).toEqual(["big.bin", "docs"]);
    await admin.admin.revokeToken(revoked.id);
    expect(await failure(asRevoked.readdir("/team"))).toEqual({ code: "EACCES", auth: "token" });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const asExpired = await connect({ endpoint, token: brief.token });
    clients.push(asExpired);
    expect(await failure(asExpired.readdir("/"))).toEqual({ code: "EACCES", auth: "token" });
    const raw = await fetch(`${endpoint}/v1/pfs/default/ops/fs.readdir`, {
      method: "POST",
      headers: { authorization: `Bearer ${brief.token}`, "content-type": "application/json" },
      body: JSON.stringify({ path: "/" }),
    });
    expect(raw.status).toBe(401);
    expect(((await raw.json()) as { error: { code: string } }).error.code).toBe("EACCES");
    const noToken = await fetch(`${endpoint}/v1/ops/status`, { method: "POST", body: "{}" });
    expect(noToken.status).toBe(401);

    // A presigned URL works for its key only
    const where = await admin.admin.call<{
      extents: Array<{ chunk: string; sources: Array<{ url: string }> }>;
    }>("fs.read", { path: "/team/big.bin" });
    const source = where.extents[0]!.sources[0]!.url;
    expect((await fetch(source)).status).toBe(200);
    const chunk = where.extents[0]!.chunk;
    const otherKey = source.replace(
      chunk,
      chunk.replace(/^./, (c) => (c === "0" ? "1" : "0")),
    );
    expect((await fetch(otherKey)).status).toBe(403);
    expect((await fetch(source, { method: "PUT", body: "x" })).status).toBe(403);

    // SIGTERM right after an acknowledged write: clean exit, nothing lost
    await admin.writeFile("/team/last.txt", "acknowledged before SIGTERM");
    expect(await stop(running)).toBe(0);
    expect(running.output()).toContain("strata: stopped");

    running = await start(home);
    expect(running.token).toBe(connection.token); // the same admin token, still valid
    const again = await connect({ endpoint: running.endpoint, token: running.token });
    clients.push(again);
    expect(await again.readFile("/team/last.txt", "utf8")).toBe("acknowledged before SIGTERM");
    expect(Buffer.from(await again.readFile("/team/big.bin")).equals(Buffer.from(big))).toBe(true);
    expect((await again.snapshots.list()).map((s) => s.name)).toEqual(["before-revert"]);
    const reader2 = await connect({ endpoint: running.endpoint, token: reader.token });
    clients.push(reader2);
    expect(await reader2.readFile("/team/docs/a.txt", "utf8")).toBe("version one"); // tokens survive
    expect(await stop(running)).toBe(0);
    running = undefined;
  });
});
