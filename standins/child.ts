/**
 * Run a stand-in server (DynamoDB Local, s3rver, azurite, the GCS emulator) as a child process on
 * 127.0.0.1, wait until it is ready, and notice if it dies. Used by the test setup and by
 * `npm start`'s local deployment.
 *
 * A crash is never silent: `crashReport()` says which server died and the tail of its output,
 * and the test setup turns that into a failed run instead of a hang.
 */
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";

export interface StandIn {
  readonly name: string;
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  readonly endpoint: string;
  readonly port: number;
  /** The child's process id (its process group id too when started with `ownProcessGroup`). */
  readonly pid?: number;
  /** Set when the process exited without being asked to: name, exit code and last output lines. */
  crashReport(): string | undefined;
  stop(): Promise<void>;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function canConnect(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export interface ChildStandInOptions {
  name: string;
  command: string;
  args: string[];
  port: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Ready when this appears in the output; otherwise when the port accepts connections. */
  readyLine?: RegExp;
  /** Give up after this long (default 60 s). */
  readyTimeoutMs?: number;
  /**
   * Run the child in its own process group (and session), with its stdin a pipe from this process
   * (`npm start`). A Ctrl-C in the terminal (SIGINT to the foreground group) then reaches only the
   * parent, which drains its own requests before it stops the child; and the child, started with
   * its entry's `--lifeline` flag, exits when that pipe closes, i.e. when the parent is gone however
   * it died (SIGKILL included), instead of living on as an orphan.
   */
  ownProcessGroup?: boolean;
}

export async function startChildStandIn(options: ChildStandInOptions): Promise<StandIn> {
  const { name, port } = options;
  const output: string[] = [];
  let stopping = false;
  let crash: string | undefined;
  const child: ChildProcess = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: [options.ownProcessGroup ? "pipe" : "ignore", "pipe", "pipe"],
    detached: options.ownProcessGroup === true,
  });
  // A child that is gone when we write to its stdin must not take this process down.
  child.stdin?.on("error", () => {});
  const remember = (data: Buffer) => {
    output.push(...data.toString("utf8").split("\n").filter(Boolean));
    if (output.length > 40) output.splice(0, output.length - 40);
  };
  child.stdout?.on("data", remember);
  child.stderr?.on("data", remember);
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      if (!stopping)
        crash = `stand-in ${name} (pid ${child.pid}, port ${port}) exited unexpectedly (code ${code}, signal ${signal}). Last output:\n  ${output.join("\n  ")}`;
      resolve();
    });
    child.once("error", (err) => {
      crash = `stand-in ${name} could not start: ${err.message}`;
      resolve();
    });
  });

  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (crash) throw new Error(crash);
    const ready = options.readyLine
      ? output.some((line) => options.readyLine!.test(line))
      : await canConnect(port);
    if (ready) break;
    if (Date.now() > deadline) {
      stopping = true;
      child.kill("SIGKILL");
      throw new Error(
        `stand-in ${name} was not ready on 127.0.0.1:${port} after ${options.readyTimeoutMs ?? 60_000} ms. Last output:\n  ${output.join("\n  ")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    name,
    port,
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    endpoint: `http://127.0.0.1:${port}`,
    crashReport: () => crash,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      stopping = true;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
