/**
 * Test harness for the FUSE mount (gateways/fuse/). The mount answers the kernel on this
 * process's event loop, so a test never touches the mount with fs calls: every access goes
 * through a child process (`sh`, or a Node/Python script run by `run`). Teardown unmounts even
 * when a test failed (the binding, then fusermount3 -u, then umount -l).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  forceUnmount,
  isMounted,
  type MountOptions,
  mountStrata,
  type StrataMount,
} from "../../gateways/fuse/mount.ts";
import { connect, type Strata } from "../../sdk/index.ts";

/** Is `tool` on PATH? */
export function has(tool: string): boolean {
  return (process.env.PATH ?? "").split(":").some((dir) => existsSync(join(dir, tool)));
}

/** FUSE works here: /dev/fuse exists and fusermount3 is installed. */
export const fuseAvailable = existsSync("/dev/fuse") && has("fusermount3");

export interface Shell {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run a bash command line in a child process, in `cwd` (never throws; the exit code is in the
 * result). The child changes directory itself: spawn's own `cwd` would chdir before exec while
 * this process waits for the exec, so a cwd on the mount would wait on itself.
 */
export function sh(command: string, cwd?: string, timeoutMs = 300_000): Promise<Shell> {
  const line = cwd === undefined ? command : `cd ${JSON.stringify(cwd)} && ${command}`;
  return run("bash", ["-c", line], timeoutMs);
}

/** Run a program (never with its working directory on the mount: see {@link sh}). */
export function run(file: string, args: string[], timeoutMs = 300_000): Promise<Shell> {
  return new Promise((done) => {
    execFile(
      file,
      args,
      { cwd: tmpdir(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        done({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

export interface MountFixture {
  /** A temp directory for the test's own files (not on the mount). */
  dir: string;
  mnt: string;
  client: Strata;
  mount: StrataMount;
  /** `sh` with the mount as the working directory; throws with the output when the command fails. */
  ok(command: string): Promise<string>;
  dispose(): Promise<void>;
}

/**
 * An embedded deployment (or `client`, if given) mounted at a fresh temp directory.
 * @example const fx = await mountFixture(); await fx.ok("echo hi > a && cat a"); await fx.dispose();
 */
export async function mountFixture(
  options: { client?: Strata; closeClient?: boolean } & Partial<
    Omit<MountOptions, "client" | "mountpoint">
  > = {},
): Promise<MountFixture> {
  const dir = await mkdtemp(join(tmpdir(), "strata-fuse-"));
  const mnt = join(dir, "mnt");
  await mkdir(mnt);
  const client = options.client ?? (await connect({ local: join(dir, "data") }));
  const closeClient = options.closeClient ?? options.client === undefined;
  const mount = await mountStrata({ ...options, client, mountpoint: mnt, cacheDir: join(dir, "cache") });
  return {
    dir,
    mnt,
    client,
    mount,
    async ok(command) {
      const r = await sh(command, mnt);
      if (r.code !== 0) throw new Error(`\`${command}\` exited ${r.code}: ${r.stderr}${r.stdout}`);
      return r.stdout;
    },
    async dispose() {
      try {
        await mount.unmount();
      } catch {
        // fall through to the forced unmount
      }
      if (await isMounted(mnt)) await forceUnmount(mnt).catch(() => undefined);
      if (closeClient) await client.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
