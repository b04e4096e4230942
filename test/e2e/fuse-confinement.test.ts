/**
 * Confinement through the FUSE mount of a remote deployment (over HTTP): a mount made with a
 * token scoped to /team reaches nothing outside /team — plain paths, symlinks followed by strata,
 * as-of trees, writes — while the same mount with the admin token (the counter-check) reads the
 * same outside paths, so the refusals come from the scope and not from the mount.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "../support/api-server.ts";
import { fuseAvailable, type MountFixture, mountFixture, sh } from "./fuse-support.ts";

describe.skipIf(!fuseAvailable)("FUSE mount confinement over HTTP", () => {
  let api: ApiFixture;
  let tid: string;
  let scopedToken: string;
  beforeAll(async () => {
    api = await startApiFixture("local");
    const admin = await api.client();
    await admin.mkdir("/team", { recursive: true });
    await admin.mkdir("/other");
    await admin.writeFile("/team/mine.txt", "mine");
    await admin.writeFile("/other/secret.txt", "hunter2");
    // A symlink inside the scope pointing out of it (strata resolves it on the server).
    await admin.symlink("/other", "/team/out");
    tid = await admin.currentTid();
    await admin.close();
    const made = await api.deployment.services.tokens.create({
      pfs: "default",
      prefix: "/team",
      rights: ["read", "write"],
      ttlSeconds: 3600,
    });
    scopedToken = made.token;
  }, 60_000);
  afterAll(async () => {
    await api?.dispose();
  });

  /** What each probe gives through a mount: its stdout, or the error text. */
  async function probes(fx: MountFixture): Promise<Record<string, string>> {
    const cmds: Record<string, string> = {
      inside: "cat team/mine.txt",
      outside: "cat other/secret.txt",
      list: "ls other",
      asOf: `cat .strata/as-of/${tid}/other/secret.txt`,
      asOfName: `cat other/secret.txt@@${tid}`,
      write: "echo owned > other/new.txt && echo written",
      writeInside: "echo ours > team/new.txt && cat team/new.txt",
    };
    const out: Record<string, string> = {};
    for (const [name, cmd] of Object.entries(cmds)) {
      const r = await sh(cmd, fx.mnt);
      out[name] =
        r.code === 0 ? r.stdout.trim() : /Permission denied/.test(r.stderr) ? "EACCES" : r.stderr.trim();
    }
    return out;
  }

  it("a mount with a token scoped to /team reaches nothing outside /team", async () => {
    const client = await api.client({ token: scopedToken });
    const fx = await mountFixture({ client, closeClient: true });
    try {
      expect(await probes(fx)).toEqual({
        inside: "mine",
        outside: "EACCES",
        list: "EACCES",
        asOf: "EACCES",
        asOfName: "EACCES",
        write: "EACCES",
        writeInside: "ours",
      });
      // The symlink is stored as text; the kernel, not strata, follows it (against the host root).
      expect((await sh("readlink team/out", fx.mnt)).stdout.trim()).toBe("/other");
    } finally {
      await fx.dispose();
    }
    const admin = await api.client();
    await expect(admin.stat("/other/new.txt")).rejects.toMatchObject({ code: "ENOENT" });
    await admin.close();
  });

  it("counter-check: the same probes with the admin token reach outside /team", async () => {
    const client = await api.client();
    const fx = await mountFixture({ client, closeClient: true });
    try {
      const out = await probes(fx);
      expect(out).toMatchObject({
        outside: "hunter2",
        list: "secret.txt",
        asOf: "hunter2",
        asOfName: "hunter2",
        write: "written",
      });
    } finally {
      await fx.dispose();
    }
  });

  it("--root /team with the scoped token shows the subtree as the mount root", async () => {
    const client = await api.client({ token: scopedToken });
    const fx = await mountFixture({ client, closeClient: true, root: "/team" });
    try {
      expect(await fx.ok("cat mine.txt")).toBe("mine");
      expect(await fx.ok(`cat .strata/as-of/${tid}/mine.txt`)).toBe("mine");
      const r = await sh("cat ../mnt/other/secret.txt", fx.mnt);
      expect(r.code).not.toBe(0);
    } finally {
      await fx.dispose();
    }
  });
});
