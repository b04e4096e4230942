import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { runCli } from "../../cli/main.ts";

/** A Writable that keeps what was written, as a string. */
export function capture(): Writable & { text(): string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      callback();
    },
  });
  return Object.assign(stream, { text: () => Buffer.concat(chunks).toString("utf8") });
}

/** The CLI run in this process with captured streams: its exit code, stdout and stderr. */
export async function cli(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}) {
  const stdout = capture();
  const stderr = capture();
  const code = await runCli(args, {
    stdout,
    stderr,
    env: options.env ?? {},
    cwd: options.cwd ?? tmpdir(),
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  // Retried: an embedded deployment's placement worker can still be finishing a copy into a
  // volume under `dir` when the last in-process command has returned (ENOTEMPTY mid-removal).
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }) };
}
