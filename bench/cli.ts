/**
 * `npm run bench -- cli [runs]`: start-up of the `strata` command as a user runs it (a new process
 * each time), median and fastest of `runs` (default 20) runs: `--help`, `ls /` against a server
 * (a deployment on a local volume, served from this process), `--local <dir> ls /` — for the
 * compiled CLI (dist/cli, `npm run build`) and for the sources through tsx (STRATA_CLI_SOURCE=1),
 * next to `node -e 0`, the floor of this machine; wall time and CPU time (user + system). Targets (issue 20): --help ≤ 100 ms, ls / against
 * a server ≤ 150 ms.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
// @ts-expect-error: plain JavaScript without type declarations (it runs before any TypeScript).
import { compiledCli } from "../cli/launch.mjs";
// @ts-expect-error: plain JavaScript without type declarations (a build script).
import { buildCli } from "../scripts/build-cli.mjs";
import { median, table } from "./support.ts";

const root = new URL("../", import.meta.url);
const BIN = new URL("cli/bin.mjs", root).pathname;

const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

/**
 * One run of `node args…` in `cwd` (it must exit 0): wall ms, and CPU ms (user + system, from
 * /usr/bin/time when present): on a machine busy with other work the CPU time is the steadier figure.
 */
function once(
  args: string[],
  cwd: string,
  env: Record<string, string | undefined>,
): Promise<{ wall: number; cpu?: number }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const [file, argv] = TIME
      ? [TIME, ["-f", "cpu %U %S", process.execPath, ...args]]
      : [process.execPath, args];
    const child = spawn(file, argv, { cwd, env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      const wall = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0)
        return reject(new Error(`node ${args.join(" ")} exited ${code}: ${stderr.slice(-500)}`));
      const m = /cpu (\d+\.\d+) (\d+\.\d+)\s*$/.exec(stderr);
      resolve({ wall, ...(m ? { cpu: (Number(m[1]) + Number(m[2])) * 1000 } : {}) });
    });
  });
}

async function sample(runs: number, args: string[], cwd: string, env: Record<string, string | undefined>) {
  await once(args, cwd, env); // warm the file cache; not counted
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await once(args, cwd, env);
    walls.push(r.wall);
    if (r.cpu !== undefined) cpus.push(r.cpu);
  }
  return { median: median(walls), min: Math.min(...walls), cpu: cpus.length ? median(cpus) : undefined };
}

export async function run(args: string[]): Promise<void> {
  const runs = Number(args[0] ?? 20);
  if (!compiledCli(root, {})) {
    console.log("dist/cli is missing or older than the sources: building it (npm run build)");
    await buildCli();
  }
  const { startLocalDeployment } = await import("../functions/local/deployment.ts");
  const scratch = await mkdtemp(path.join(tmpdir(), "strata-bench-cli-"));
  const deployment = await startLocalDeployment({
    home: path.join(scratch, "server"),
    volumes: { v: { kind: "local", root: path.join(scratch, "server", "volume") } },
    defaultVolume: "v",
    port: 0,
  });
  try {
    const admin = await deployment.services.tokens.create({ pfs: "*", rights: ["admin"], label: "bench" });
    await deployment.services.namespace.createPfs("default");
    const work = path.join(scratch, "work");
    await mkdir(path.join(work, ".strata"), { recursive: true });
    await writeFile(
      path.join(work, ".strata", "connection.json"),
      JSON.stringify({ endpoint: deployment.endpoint, token: admin.token, pfs: "default" }),
    );
    const local = path.join(scratch, "local");
    const base = { PATH: process.env.PATH, HOME: process.env.HOME };
    // Create the embedded deployment and some entries once, so every timed run only reads.
    await once([BIN, "--local", local, "mkdir", "-p", "/a", "/b", "/c"], work, base);
    await once([BIN, "mkdir", "-p", "/a", "/b", "/c"], work, base);

    const rows = [["what", "median ms", "fastest ms", "median CPU ms"]];
    const row = async (label: string, a: string[], env: Record<string, string | undefined>) => {
      const r = await sample(runs, a, work, env);
      rows.push([label, r.median.toFixed(0), r.min.toFixed(0), r.cpu?.toFixed(0) ?? "-"]);
      console.log(`  ${label}: median ${r.median.toFixed(0)} ms`);
    };
    console.log(`strata start-up, ${runs} runs each (load average ${(await loadAverage()).join(" ")})`);
    await row("node -e 0 (the floor)", ["-e", "0"], base);
    for (const [kind, env] of [
      ["compiled", base],
      ["sources (tsx)", { ...base, STRATA_CLI_SOURCE: "1" }],
    ] as const) {
      await row(`${kind}: strata --help`, [BIN, "--help"], env);
      await row(`${kind}: strata ls / (server)`, [BIN, "ls", "/"], env);
      await row(`${kind}: strata --local ls /`, [BIN, "--local", local, "ls", "/"], env);
    }
    console.log(`\n${table(rows, new Set([0]))}`);
    console.log("targets: --help ≤ 100 ms, ls / against a server ≤ 150 ms (compiled)");
  } finally {
    await deployment.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

async function loadAverage(): Promise<string[]> {
  const { loadavg } = await import("node:os");
  return loadavg().map((l) => l.toFixed(1));
}
