/**
 * `npm start` as a user runs it, for the e2e durability tests and the real-crash reliability tier:
 * a real `npm start` process group (npm → sh → tsx → node) on a home directory and free ports,
 * with the stand-ins it starts in their own process groups (functions/local/main.ts).
 *
 * - `signalGroup("SIGINT")` is a Ctrl-C in the terminal: the signal goes to the foreground process
 *   group, i.e. npm, tsx and the server, not to the stand-ins.
 * - `killEverything()` is a crash of every process of the deployment at once: SIGKILL to the
 *   group and to each stand-in (their pids are in `<home>/standins.json`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";

const root = path.resolve(new URL("../../", import.meta.url).pathname);

export interface NpmStartOptions {
  home: string;
  /** Extra environment (STRATA_CHUNK_SIZE, STRATA_TEST_AZURITE_LAZY_SAVES, intervals …). */
  env?: Record<string, string>;
  /** Give up waiting for "ready" after this long (default 120 s). */
  readyTimeoutMs?: number;
}

export interface RunningDeployment {
  readonly endpoint: string;
  readonly token: string;
  readonly pid: number;
  /** Everything npm start printed so far. */
  output(): string;
  /** Resolves when the npm process has exited (with its code or signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when no process of the `npm start` group is left (npm may exit before the server). */
  groupGone(): Promise<void>;
  /** A signal to the whole `npm start` process group (what a terminal's Ctrl-C does with SIGINT). */
  signalGroup(signal: NodeJS.Signals): void;
  /** The stand-ins' pids as the server recorded them. */
  standInPids(): Promise<number[]>;
  /** SIGKILL to the group and to every stand-in, at once: every process of the deployment dies. */
  killEverything(): Promise<void>;
}

/** Is a process with this pid alive? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Wait until none of `pids` is alive (polling; callers bound the whole test, not this). */
export async function gone(pids: number[]): Promise<void> {
  while (pids.some(alive)) await new Promise((r) => setTimeout(r, 50));
}

export async function startNpmStart(options: NpmStartOptions): Promise<RunningDeployment> {
  const child: ChildProcess = spawn("npm", ["start", "--silent"], {
    cwd: root,
    env: {
      // A user's shell has no vitest variables.
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST"))),
      STRATA_HOME: options.home,
      STRATA_PORT: "0",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: what a terminal gives a foreground job.
    detached: true,
  });
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const pid = child.pid!;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is gone already.
    }
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  while (!out.includes("Ctrl-C stops it")) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`npm start exited (${child.exitCode ?? child.signalCode}):\n${out}`);
    if (Date.now() > deadline) {
      signalGroup("SIGKILL");
      throw new Error(`npm start was not ready after ${options.readyTimeoutMs ?? 120_000} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const connection = JSON.parse(await readFile(path.join(options.home, "connection.json"), "utf8")) as {
    endpoint: string;
    token: string;
  };
  const saved = JSON.parse(await readFile(path.join(options.home, "standins.json"), "utf8")) as {
    pids?: Record<string, number>;
  };
  const pids = Object.values(saved.pids ?? {});
  async function groupGone(): Promise<void> {
    await exited;
    for (;;) {
      try {
        process.kill(-pid, 0);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    endpoint: connection.endpoint,
    token: connection.token,
    pid,
    output: () => out,
    exited,
    groupGone,
    signalGroup,
    standInPids: async () => pids,
    async killEverything() {
      signalGroup("SIGKILL");
      for (const p of pids) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          // Gone already.
        }
      }
      await groupGone();
      await gone(pids);
    },
  };
}
