/**
 * `npm run bench -- mount`: the same file operations (mkdir, create 4 KiB, stat, read 4 KiB,
 * readdir of 200 entries, rename of a directory holding 200 files, unlink; then sequential
 * write and read) in one run through
 *   - the strata FUSE mount (gateways/fuse/) of an embedded deployment (SQLite + local volume),
 *   - s3fs on the S3 stand-in (s3rver),
 *   - `rclone mount` (vfs-cache-mode writes) on the same stand-in,
 *   - the local disk (the temp directory),
 * printed as ops/s and as strata's ratio to each. The workload runs in a child process
 * (bench/mount-worker.cjs): this process serves the FUSE mount.
 *
 * Env: STRATA_BENCH_N (files per metadata op, default 200), STRATA_BENCH_SEQ_MIB (sequential
 * size, default 256 MiB — the issue asks for 1 GiB: set 1024). The local disk's read comes from
 * the page cache (the file was just written), so the read ratio is against a best case.
 * A tool that is missing (s3fs, rclone) is reported and skipped.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { forceUnmount, isMounted, mountStrata } from "../gateways/fuse/mount.ts";
import { connect } from "../sdk/index.ts";
import { s3StandInClientConfig, startS3StandIn } from "../standins/s3.ts";
import { table } from "./support.ts";

const N = Number(process.env.STRATA_BENCH_N ?? 200);
const SEQ_MIB = Number(process.env.STRATA_BENCH_SEQ_MIB ?? 256);
const WORKER = fileURLToPath(new URL("./mount-worker.cjs", import.meta.url));
const exec = promisify(execFile);

type Result = Record<string, number>;

function has(tool: string): boolean {
  return (process.env.PATH ?? "").split(":").some((d) => existsSync(join(d, tool)));
}

async function workload(dir: string): Promise<Result> {
  // Never spawn with cwd on a mount this process serves (see gateways/fuse/mount.ts).
  const { stdout } = await exec(process.execPath, [WORKER, dir, String(N), String(SEQ_MIB)], {
    cwd: tmpdir(),
    maxBuffer: 1 << 20,
    timeout: 3_600_000,
  });
  return JSON.parse(stdout) as Result;
}

async function waitMounted(mnt: string, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await isMounted(mnt)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not mount at ${mnt}`);
}

export async function run(): Promise<void> {
  const home = await mkdtemp(join(tmpdir(), "strata-bench-mount-"));
  const results: Record<string, Result> = {};
  console.log(`mount bench: ${N} files per op, sequential ${SEQ_MIB} MiB`);
  try {
    // strata through FUSE
    const mnt = join(home, "strata");
    await mkdir(mnt);
    const client = await connect({ local: join(home, "data") });
    const m = await mountStrata({ client, mountpoint: mnt, cacheDir: join(home, "cache") });
    try {
      results.strata = await workload(mnt);
    } finally {
      await m.unmount();
      await client.close();
    }
    // s3fs and rclone on the S3 stand-in
    const s3 = await startS3StandIn();
    try {
      const bucket = "bench";
      await new S3Client(s3StandInClientConfig(s3.endpoint)).send(
        new CreateBucketCommand({ Bucket: bucket }),
      );
      if (has("s3fs")) {
        const s3fsMnt = join(home, "s3fs");
        await mkdir(s3fsMnt);
        const passwd = join(home, "s3fs.passwd");
        await writeFile(passwd, "S3RVER:S3RVER\n");
        await chmod(passwd, 0o600);
        await exec("s3fs", [
          bucket,
          s3fsMnt,
          "-o",
          `url=${s3.endpoint}`,
          "-o",
          "use_path_request_style",
          "-o",
          `passwd_file=${passwd}`,
        ]);
        try {
          await waitMounted(s3fsMnt, "s3fs");
          results.s3fs = await workload(s3fsMnt);
        } catch (err) {
          console.log(`s3fs: ${(err as Error).message}; skipped`);
        } finally {
          await forceUnmount(s3fsMnt).catch(() => undefined);
        }
      } else console.log("s3fs: not installed, skipped");
      if (has("rclone")) {
        const rcloneMnt = join(home, "rclone");
        await mkdir(rcloneMnt);
        // rclone reads AWS_CA_BUNDLE and then refuses its own transport; the stand-in is plain HTTP.
        const { AWS_CA_BUNDLE: _ignored, ...inherited } = process.env;
        const env = {
          ...inherited,
          RCLONE_CONFIG_STANDIN_TYPE: "s3",
          RCLONE_CONFIG_STANDIN_PROVIDER: "Other",
          RCLONE_CONFIG_STANDIN_ENDPOINT: s3.endpoint,
          RCLONE_CONFIG_STANDIN_ACCESS_KEY_ID: "S3RVER",
          RCLONE_CONFIG_STANDIN_SECRET_ACCESS_KEY: "S3RVER",
          RCLONE_CONFIG_STANDIN_FORCE_PATH_STYLE: "true",
        };
        const child = spawn(
          "rclone",
          [
            "mount",
            `standin:${bucket}`,
            rcloneMnt,
            "--vfs-cache-mode",
            "writes",
            "--cache-dir",
            join(home, "rc"),
          ],
          { env, stdio: ["ignore", "ignore", "pipe"] },
        );
        let stderr = "";
        child.stderr?.on("data", (d: Buffer) => {
          stderr += d.toString();
        });
        try {
          await waitMounted(rcloneMnt, "rclone mount");
          results.rclone = await workload(rcloneMnt);
        } catch (err) {
          // A comparison tool that fails is reported, not fatal: the other columns still print.
          console.log(`rclone mount: ${(err as Error).message}; skipped. ${stderr.trim().slice(-400)}`);
        } finally {
          await forceUnmount(rcloneMnt).catch(() => undefined);
          child.kill("SIGTERM");
        }
      } else console.log("rclone: not installed, skipped");
    } finally {
      await s3.stop();
    }
    // local disk
    const local = join(home, "local");
    await mkdir(local);
    results.local = await workload(local);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
  const sides = Object.keys(results);
  const ops = Object.keys(results.strata ?? {});
  const fmt = (v: number | undefined) => (v === undefined ? "—" : v >= 100 ? v.toFixed(0) : v.toFixed(1));
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? "—" : `${(a / b).toFixed(2)}×`;
  const rows = [
    ["op (ops/s, MiB/s)", ...sides, "strata/s3fs", "strata/rclone", "strata/local"],
    ...ops.map((op) => [
      op,
      ...sides.map((s) => fmt(results[s]?.[op])),
      ratio(results.strata?.[op], results.s3fs?.[op]),
      ratio(results.strata?.[op], results.rclone?.[op]),
      ratio(results.strata?.[op], results.local?.[op]),
    ]),
  ];
  console.log(table(rows, new Set([0])));
}
