/**
 * Child entry of the Azure stand-in when it keeps data on disk (`npm start`): azurite 3.37's blob
 * service, made durable at acknowledgement, and tied to its parent's life.
 *
 * Why: with `--location`, azurite keeps its blob and extent metadata in LokiJS databases held in
 * memory and written to disk every 5 s (`autosaveInterval: 5000` in LokiBlobMetadataStore and
 * LokiExtentMetadataStore). A blob acknowledged less than 5 s before the process dies is gone after
 * a restart (its bytes are in an extent file, but nothing points at them any more). No azurite
 * option changes that (`--loose`, `--location` and `--inMemoryPersistence` do not; the SQL
 * metadata store needs a MySQL server). So here every metadata method that changes state (by name,
 * below) awaits a save of its database before it returns, i.e. before azurite answers the request.
 * LokiJS coalesces concurrent saves (`throttledSaves`): a save that starts after the change holds
 * it, and changes made while a save runs share the next one. The save writes `<db>~` and renames
 * it over `<db>` (LokiFsAdapter), so a kill mid-save leaves the previous complete file.
 *
 * Extent bytes are written to their files before the extent metadata is updated, and both before
 * the blob metadata names them, so a saved blob always finds its bytes. Nothing here calls fsync:
 * this survives the death of processes (Ctrl-C, SIGKILL, a crash), not the loss of the machine's
 * page cache (power loss, kernel crash).
 *
 * Lifeline: `npm start` runs its stand-ins in their own process groups (so a Ctrl-C reaches only
 * the strata server, which drains and then stops them) with stdin a pipe from the server; when
 * that pipe closes (the server exited, however it died) this process shuts down as on SIGTERM.
 *
 * Usage: node azurite-main.mjs [--strata-lifeline] [--strata-lazy-saves] <azurite blob arguments…>
 * (e.g. --location D --blobPort N …). `--strata-lazy-saves` is test-only: azurite's own 5 s
 * autosave, to show that a kill loses acknowledged blobs without the saves above.
 */
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const root = path.dirname(require.resolve("azurite/package.json"));
const BlobStore = require(path.join(root, "dist/src/blob/persistence/LokiBlobMetadataStore.js")).default;
const ExtentStore = require(
  path.join(root, "dist/src/common/persistence/LokiExtentMetadataStore.js"),
).default;

/** Metadata methods that change state: everything that sets, creates, deletes, leases, copies, stages, commits, uploads. */
const MUTATING =
  /^(set|create|delete|acquire|release|renew|break|change|startCopy|copyFrom|stage|append|commit|upload|clear|resize|update|seal)/;

function saved(db) {
  return new Promise((resolve, reject) => db.saveDatabase((err) => (err ? reject(err) : resolve())));
}

const ours = ["--strata-lifeline", "--strata-lazy-saves"];
const flags = new Set(process.argv.filter((a) => ours.includes(a)));
// azurite parses process.argv itself: it must not see our flags.
process.argv = process.argv.filter((a) => !ours.includes(a));

for (const Store of flags.has("--strata-lazy-saves") ? [] : [BlobStore, ExtentStore]) {
  for (const name of Object.getOwnPropertyNames(Store.prototype)) {
    const original = Store.prototype[name];
    if (typeof original !== "function" || !MUTATING.test(name)) continue;
    Store.prototype[name] = async function durable(...args) {
      const result = await original.apply(this, args);
      // In-memory stores (tests) have nothing to save.
      if (this.db?.persistenceMethod === "fs") await saved(this.db);
      return result;
    };
  }
}

// The parent holds our stdin: when it closes, the parent is gone; stop as on SIGTERM.
if (flags.has("--strata-lifeline")) {
  process.stdin.on("end", () => process.kill(process.pid, "SIGTERM"));
  process.stdin.on("error", () => process.kill(process.pid, "SIGTERM"));
  process.stdin.resume();
}
// Asked to stop (by the parent, or by the lifeline above): let go of stdin so the process can end
// once azurite's own SIGTERM/SIGINT handler has closed its server and databases.
// Every acknowledged change is saved already, so a close that hangs on idle sockets is cut short.
for (const signal of ["SIGTERM", "SIGINT"])
  process.once(signal, () => {
    process.stdin.destroy();
    setTimeout(() => process.exit(0), 3_000).unref();
  });
process.stdout.on("error", () => {}); // the parent may be gone: nothing to tell it

require(path.join(root, "dist/src/blob/main.js"));
