import { execFile } from "node:child_process";

const root = new URL("../../", import.meta.url).pathname;
export const CLI_BIN = `${root}cli/bin.mjs`;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes (for byte-exact checks of `cat`). */
  stdoutBytes: Buffer;
}

/** The `strata` CLI as a real process (node cli/bin.mjs), never rejecting: its exit code and output. */
export function strata(
  args: string[],
  options: { cwd?: string; env?: Record<string, string | undefined>; input?: string } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [CLI_BIN, ...args],
      {
        cwd: options.cwd ?? root,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 60_000,
        encoding: "buffer",
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") return reject(err);
        resolve({
          code: err ? (err.code as number) : 0,
          stdout: stdout.toString("utf8"),
          stderr: stderr.toString("utf8"),
          stdoutBytes: stdout,
        });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
