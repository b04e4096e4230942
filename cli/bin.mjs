#!/usr/bin/env node
// The `strata` executable (package.json "bin"). It runs the compiled CLI (dist/cli/main.js, built
// by `npm run build`, which `prepare` runs) while that is up to date with the sources it was
// built from, and otherwise the TypeScript sources through tsx's loader (slower to start, never
// stale). STRATA_CLI_SOURCE=1 forces the sources. Ctrl-C aborts the running command (transfers
// clean up their partial files); a second Ctrl-C exits at once.
import { compiledCli } from "./launch.mjs";

// The AWS SDK's "releases after January 2027 need Node 22" warning: strata pins its SDK versions.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const bundle = compiledCli(new URL("../", import.meta.url), process.env);
let runCli;
if (bundle) {
  ({ runCli } = await import(bundle.href));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ runCli } = await import("./main.ts"));
}

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
