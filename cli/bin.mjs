#!/usr/bin/env node
// The `strata` executable (package.json "bin"). strata is TypeScript run through tsx: register
// tsx's loader in this process, then load the CLI. Ctrl-C aborts the running command (transfers
// clean up their partial files); a second Ctrl-C exits at once.
import { register } from "tsx/esm/api";

// The AWS SDK's "releases after January 2027 need Node 22" warning: strata pins its SDK versions.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

register();
const { runCli } = await import("./main.ts");

const controller = new AbortController();
process.on("SIGINT", () => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort(new Error("interrupted (Ctrl-C)"));
});
// `strata cat big | head` closes stdout early: that is not an error.
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

process.exitCode = await runCli(
  process.argv.slice(2),
  {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  },
  controller.signal,
);
