/**
 * Child-process entry of the GCS stand-in:
 * `node --import tsx adapters/standins/gcs-main.ts --port N [--test-hooks]`.
 * Prints one "listening" line when ready and exits cleanly on SIGTERM/SIGINT.
 */
import { startGcsServer } from "./gcs-server.ts";

const at = process.argv.indexOf("--port");
const port = at >= 0 ? Number(process.argv[at + 1]) : 0;
const server = await startGcsServer({ port, testHooks: process.argv.includes("--test-hooks") });
console.log(`gcs stand-in listening on ${server.url}`);
const stop = () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
