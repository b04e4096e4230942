/**
 * `npm start`: the embedded local deployment.
 *
 * Today (before the HTTP API, CLI and schedules of issue 5) it opens — creating on first run — the
 * deployment in `STRATA_HOME` (default `./.strata`): SQLite metadata, the local volume, the
 * `default` PFS; checks it end to end with one write, an as-of read and a cleanup; prints its state
 * and how to use it from the SDK (`connect({ local: ".strata" })`); then exits. State survives
 * between runs. Not done yet: the HTTP server, the S3/Azure/GCS stand-in volumes, tokens, timers.
 */
import { resolve } from "node:path";
import { connect } from "../../sdk/index.ts";

const home = resolve(process.env.STRATA_HOME ?? ".strata");
const client = await connect({ local: home });
try {
  const probe = `/.strata-start-check-${process.pid}`;
  await client.writeFile(probe, `checked at ${new Date().toISOString()}\n`);
  const written = await client.currentTid();
  await client.rm(probe);
  const backThen = await client.asOf(written).readFile(probe, "utf8");
  if (!backThen.startsWith("checked at"))
    throw new Error("as-of read of the start check returned other bytes");

  const entries = await client.readdir("/");
  console.log(`strata: embedded deployment ready in ${home}`);
  console.log(`  metadata   ${home}/metadata.db (SQLite)`);
  console.log(`  volume     local → ${home}/volumes/local`);
  console.log(
    `  pfs        default (${entries.length} entries at /), current TID ${await client.currentTid()}`,
  );
  console.log("");
  console.log("next steps:");
  console.log(`  npx tsx examples/sdk-basics.ts        # the SDK on a scratch deployment`);
  console.log(
    `  node --import tsx -e 'import("strata").then(async ({ connect }) => { const c = await connect({ local: ".strata" }); console.log(await c.readdir("/")); await c.close(); })'`,
  );
  console.log("  npm test                              # the whole suite, with its own stand-in servers");
  console.log("");
  console.log(
    "not yet (issue 5): the HTTP API and `strata` CLI, S3/Azure/GCS stand-in volumes, scheduled runs.",
  );
} finally {
  await client.close();
}
