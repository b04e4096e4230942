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

/**
 * Node's process warnings in a process's stderr: `(node:123) MaxListenersExceededWarning: …`,
 * `(node:123) [DEP0137] DeprecationWarning: …`, `(node:123) Warning: Closing file descriptor …`.
 */
export function processWarnings(stderr: string): string[] {
  return stderr.split("\n").filter((line) => /^\(node:\d+\) (\[\w+\] )?\w*Warning: /.test(line));
}

/**
 * The `strata` CLI as a real process (node cli/bin.mjs): its exit code and output. Rejects only
 * when the process cannot run, or when it printed a Node process warning — strata is quiet in
 * normal use (issue 20), so every CLI run of the e2e suite checks it.
 */
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
        const warnings = processWarnings(stderr.toString("utf8"));
        if (warnings.length > 0)
          return reject(
            new Error(`strata ${args.join(" ")} printed process warnings:\n${warnings.join("\n")}`),
          );
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
