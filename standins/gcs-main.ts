/**
 * Child-process entry of the GCS stand-in:
 * `node --import tsx standins/gcs-main.ts --port N [--test-hooks] [--dir D]
 *   [--signer <client_email>=<public key PEM file>]… [--lifeline]`.
 * Prints one "listening" line when ready and exits cleanly on SIGTERM/SIGINT. With `--lifeline`
 * (what `npm start` passes: its stand-ins run in their own process groups) it also exits when its
 * stdin, a pipe from the parent, closes: the parent is gone, however it died. Persistence is write
 * through (gcs-server.ts), so an acknowledged write is in its files before the answer either way.
 */
import { readFileSync } from "node:fs";
import { startGcsServer } from "./gcs-server.ts";

const arg = (name: string) => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
};
const signers: Record<string, string> = {};
process.argv.forEach((a, i) => {
  if (a !== "--signer") return;
  const spec = process.argv[i + 1] ?? "";
  const eq = spec.indexOf("=");
  signers[spec.slice(0, eq)] = readFileSync(spec.slice(eq + 1), "utf8");
});
const server = await startGcsServer({
  port: Number(arg("--port") ?? 0),
  testHooks: process.argv.includes("--test-hooks"),
  dir: arg("--dir"),
  signers,
});
console.log(`gcs stand-in listening on ${server.url}`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  process.stdin.destroy();
  // Idle keep-alive sockets of a client that is gone must not hold the exit up.
  setTimeout(() => process.exit(0), 2_000).unref();
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
process.stdout.on("error", () => {}); // the parent may be gone: nothing to tell it
if (process.argv.includes("--lifeline")) {
  process.stdin.on("end", stop);
  process.stdin.on("error", stop);
  process.stdin.resume();
}
