/**
 * Child-process entry of the GCS stand-in:
 * `node --import tsx adapters/standins/gcs-main.ts --port N [--test-hooks] [--dir D]
 *   [--signer <client_email>=<public key PEM file>]…`.
 * Prints one "listening" line when ready and exits cleanly on SIGTERM/SIGINT.
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
const stop = () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
