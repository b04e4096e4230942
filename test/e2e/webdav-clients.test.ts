/**
 * Real WebDAV clients against the gateway in front of a whole local deployment (token auth):
 * rclone's webdav backend (copy a small tree, `rclone check --download`: 0 differences), a
 * scripted cadaver session, a davfs2 mount with a small workload (unmounted in teardown even on
 * failure), and HAMMER's as-of names through WebDAV (name@@tid, /.strata/as-of, /.strata/snapshots,
 * read-only, COPY out of history by reference). Every server is on 127.0.0.1, every client
 * configuration in a temp directory.
 */
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Strata } from "../../sdk/index.ts";
import { davRequest, has, startWebDavFixture, type WebDavFixture } from "../support/webdav.ts";

let fx: WebDavFixture;
let client: Strata;
let tmp: string;

beforeAll(async () => {
  fx = await startWebDavFixture({ chunkSize: 64 * 1024 });
  client = await fx.api.client();
  tmp = await mkdtemp(join(tmpdir(), "strata-webdav-clients-"));
}, 60_000);
afterAll(async () => {
  await fx?.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Run a client program (asynchronously: the server answering it lives in this process). */
function run(
  cmd: string,
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...options.env } });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, out }));
    child.stdin.end(options.input ?? "");
  });
}

const bytes = (n: number, seed: number) =>
  Buffer.from(new Uint8Array(n).map((_, i) => (i * 13 + seed * 101) & 0xff));

describe.skipIf(!has("rclone"))("rclone webdav backend", () => {
  it("copies a small tree and `rclone check --download` finds 0 differences", async () => {
    const src = join(tmp, "rclone-src");
    await mkdir(join(src, "sub/deeper"), { recursive: true });
    await writeFile(join(src, "a.txt"), "alpha\n");
    await writeFile(join(src, "empty.bin"), "");
    await writeFile(join(src, "sub/b.bin"), bytes(200_000, 1));
    await writeFile(join(src, "sub/deeper/c with space ü.txt"), "unicode name\n");
    const config = join(tmp, "rclone.conf");
    await writeFile(
      config,
      `[dav]\ntype = webdav\nurl = ${fx.dav.url}\nvendor = other\nbearer_token = ${fx.token}\n`,
    );
    const copy = await run("rclone", ["--config", config, "copy", src, "dav:tree"]);
    expect(copy.status, copy.out).toBe(0);
    const check = await run("rclone", ["--config", config, "check", "--download", src, "dav:tree"]);
    expect(check.status, check.out).toBe(0);
    expect(check.out).toMatch(/0 differences found/);
    expect(Buffer.from(await client.readFile("/tree/sub/b.bin")).equals(bytes(200_000, 1))).toBe(true);
  }, 180_000);
});

describe.skipIf(!has("cadaver"))("cadaver", () => {
  it("a scripted session: mkcol, put, ls, copy, move, propset/propget, lock/unlock, get, delete", async () => {
    const home = join(tmp, "cadaver-home");
    await mkdir(home, { recursive: true });
    const host = new URL(fx.dav.url).hostname;
    await writeFile(join(home, ".netrc"), `machine ${host}\nlogin strata\npassword ${fx.token}\n`);
    await chmod(join(home, ".netrc"), 0o600);
    const local = join(tmp, "cadaver-local.txt");
    await writeFile(local, "from cadaver\n");
    const back = join(tmp, "cadaver-back.txt");
    const script = [
      "mkcol cad",
      `put ${local} cad/one.txt`,
      "ls cad",
      "copy cad/one.txt cad/two.txt",
      "move cad/two.txt cad/three.txt",
      "propset cad/one.txt color blue",
      "propget cad/one.txt color",
      "lock cad/one.txt",
      "unlock cad/one.txt",
      `get cad/three.txt ${back}`,
      "delete cad/one.txt",
      "ls cad",
      "quit",
      "",
    ].join("\n");
    const r = await run("cadaver", [fx.dav.url], { input: script, env: { HOME: home } });
    expect(r.status, r.out).toBe(0);
    expect(r.out).not.toMatch(/failed|error/i);
    expect(r.out).toMatch(/blue/);
    expect(await readFile(back, "utf8")).toBe("from cadaver\n");
    expect(await client.readdir("/cad")).toEqual(["three.txt"]);
    expect(await client.readFile("/cad/three.txt", "utf8")).toBe("from cadaver\n");
  }, 120_000);
});

const isRoot = process.getuid?.() === 0;

describe.skipIf(!has("mount.davfs") || !isRoot)("davfs2 mount", () => {
  it("a small workload through the mount lands in strata", async () => {
    const dir = join(tmp, "davfs");
    const mnt = join(dir, "mnt");
    const cache = join(dir, "cache");
    await mkdir(mnt, { recursive: true });
    await mkdir(cache, { recursive: true });
    // mount.davfs works as its own user in the cache directory.
    await chmod(cache, 0o777);
    await chmod(dir, 0o755);
    await chmod(tmp, 0o755);
    await writeFile(join(dir, "secrets"), `${fx.dav.url} strata ${fx.token}\n`, { mode: 0o600 });
    await writeFile(
      join(dir, "davfs2.conf"),
      `secrets ${join(dir, "secrets")}\ncache_dir ${cache}\nuse_locks 1\ndelay_upload 0\n`,
    );
    const mounted = await run("mount", [
      "-t",
      "davfs",
      fx.dav.url,
      mnt,
      "-o",
      `conf=${join(dir, "davfs2.conf")}`,
    ]);
    expect(mounted.status, mounted.out).toBe(0);
    try {
      await mkdir(join(mnt, "work"));
      await writeFile(join(mnt, "work/hello.txt"), "hello through davfs2\n");
      await writeFile(join(mnt, "work/big.bin"), bytes(300_000, 2));
      expect(await readFile(join(mnt, "work/hello.txt"), "utf8")).toBe("hello through davfs2\n");
      const { rename, unlink } = await import("node:fs/promises");
      await rename(join(mnt, "work/hello.txt"), join(mnt, "work/renamed.txt"));
      await writeFile(join(mnt, "work/gone.txt"), "bye");
      await unlink(join(mnt, "work/gone.txt"));
      expect((await stat(join(mnt, "work/big.bin"))).size).toBe(300_000);
    } finally {
      // umount.davfs uploads what is still cached and waits for mount.davfs to finish.
      const un = await run("umount", [mnt]);
      expect(un.status, un.out).toBe(0);
    }
    expect((await client.readdir("/work")).sort()).toEqual(["big.bin", "renamed.txt"]);
    expect(await client.readFile("/work/renamed.txt", "utf8")).toBe("hello through davfs2\n");
    expect(Buffer.from(await client.readFile("/work/big.bin")).equals(bytes(300_000, 2))).toBe(true);
  }, 180_000);
});

describe("as-of names through WebDAV", () => {
  it("name@@tid, /.strata/as-of and /.strata/snapshots read history; writes there are refused; COPY restores by reference", async () => {
    const base = fx.dav.url;
    const token = fx.token;
    const v1 = bytes(150_000, 3);
    await client.mkdir("/hist");
    await client.writeFile("/hist/f.bin", v1);
    await client.writeFile("/hist/only-then.txt", "then");
    const t = await client.currentTid();
    await client.snapshots.create("webdav-snap");
    await client.writeFile("/hist/f.bin", "now");
    await client.unlink("/hist/only-then.txt");

    const get = (path: string) =>
      fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } }).then(async (r) => ({
        status: r.status,
        body: Buffer.from(await r.arrayBuffer()),
      }));
    for (const path of [
      `hist/f.bin@@${t}`,
      `.strata/as-of/${t}/hist/f.bin`,
      ".strata/snapshots/webdav-snap/hist/f.bin",
    ]) {
      const r = await get(path);
      expect(r.status, path).toBe(200);
      expect(r.body.equals(v1), path).toBe(true);
    }
    expect((await get("hist/f.bin")).body.toString()).toBe("now");

    // A directory as of t lists what it held then, with hrefs that stay in history.
    const list = await davRequest(`${base}hist@@${t}/`, "PROPFIND", { token, headers: { Depth: "1" } });
    expect(list.status).toBe(207);
    expect(list.text).toContain(`/hist@@${t}/only-then.txt`);
    const snaps = await davRequest(`${base}.strata/snapshots/`, "PROPFIND", {
      token,
      headers: { Depth: "1" },
    });
    expect(snaps.text).toContain("/.strata/snapshots/webdav-snap/");

    // Read-only: every write into history is 403, and nothing changes.
    for (const [method, path] of [
      ["PUT", `hist/f.bin@@${t}`],
      ["DELETE", `.strata/as-of/${t}/hist/f.bin`],
      ["MKCOL", `.strata/snapshots/webdav-snap/newdir`],
    ] as const) {
      const r = await davRequest(`${base}${path}`, method, {
        token,
        body: method === "PUT" ? "x" : undefined,
      });
      expect(r.status, `${method} ${path}`).toBe(403);
    }

    // COPY out of history restores the old bytes under a new name, by reference (same chunks).
    const copy = await davRequest(`${base}.strata/as-of/${t}/hist/f.bin`, "COPY", {
      token,
      headers: { Destination: `${base}hist/restored.bin` },
    });
    expect(copy.status).toBe(201);
    expect(Buffer.from(await client.readFile("/hist/restored.bin")).equals(v1)).toBe(true);
    const chunks = async (p: string, view: Pick<Strata, "placement">) =>
      (await view.placement(p)).map((e) => e.chunk);
    expect(await chunks("/hist/restored.bin", client)).toEqual(await chunks("/hist/f.bin", client.asOf(t)));
    expect((await chunks("/hist/restored.bin", client)).length).toBeGreaterThan(1);
  }, 120_000);
});
