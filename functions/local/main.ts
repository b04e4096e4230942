/**
 * `npm start`: the local deployment. Everything lives in STRATA_HOME (default ./.strata):
 *
 *   (the home itself)    mode 0700: only its owner reads anything in it
 *   metadata.db          SQLite metadata (namespace, chunk instances, intents, token records), 0600
 *   token-keys           the keys that sign tokens and local blob URLs (0600; adapters/auth/keys.ts),
 *                        never in metadata.db; `strata token rotate-key` changes them
 *   volumes/local/       the local-directory volume "local" (the default volume)
 *   s3/                  data of the S3 stand-in (s3rver, child process) behind volume "s3"
 *   azure/               data of the Azure stand-in (azurite --location, child process) behind "azure"
 *   gcs/                 data of the GCS stand-in (our server, --dir, child process) behind "gcs"
 *   gcs-signer.json      the service account (RSA key pair, made once, mode 0600) that signs GCS
 *                        V4 URLs; the stand-in trusts its public key (gcs-signer.pub.pem)
 *   connection.json      {endpoint, token, pfs} for the CLI and SDK in this directory (mode 0600)
 *   s3.json              the S3 gateway's endpoint and the access key id it printed (0600; the
 *                        secret is derived on the server and never saved; docs/s3-gateway.md)
 *   standins.json        the stand-ins' ports, reused at the next start (the volume records hold
 *                        their endpoints, and a record is never rewritten by a restart), and
 *                        their process ids (a start first waits for the last run's to be gone)
 *
 * The four volumes are registered as volume records at every start (idempotent; docs/placement.md):
 *
 *   name   kind   site         cloud   class    cost
 *   local  local  local        local   local    1     (the default volume)
 *   s3     s3     aws-local    aws     durable  2
 *   azure  azure  azure-local  azure   durable  2
 *   gcs    gcs    gcs-local    gcp     durable  2
 *
 * Placement runs in-process: objectives, tags and `volume.add/drain` move chunks between them
 * (grace before trimming: STRATA_PLACEMENT_GRACE_SECONDS, default 60).
 *
 * Serves the HTTP API on 127.0.0.1:STRATA_PORT (default 7070; 0 = a free port), prints the
 * endpoint, an admin token and three next steps. SIGINT/SIGTERM: stop accepting, drain in-flight
 * requests (a write acknowledged before is committed), close stores and stand-ins, exit 0.
 *
 * Process groups: the stand-ins run in their own process groups (child.ts `ownProcessGroup`), so
 * a Ctrl-C in the terminal (SIGINT to the foreground group) reaches this server only; it drains,
 * then stops them. Each stand-in is durable at acknowledgement (a PUT answered is in its files:
 * azurite-main.mjs, s3rver-main.mjs, gcs-server.ts) and exits by itself when this process is gone
 * (its stdin, a pipe from here, closes), so a SIGKILL of the group leaves no orphan serving stale
 * ports for long; the next start waits for any that is still running (`stopLeftovers`).
 *
 * Test-only environment: STRATA_CHUNK_SIZE (bytes, ≥ 64 KiB; default 8 MiB) to make small files
 * chunked; STRATA_TEST_AZURITE_LAZY_SAVES=1 runs azurite with its own 5 s metadata autosave, to
 * show that a kill then loses acknowledged blobs (test/e2e/start-durability.test.ts).
 */
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import path, { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { secureHome } from "../../adapters/auth/keys.ts";
import { MAX_TOKEN_TTL_SECONDS } from "../../adapters/auth/tokens.ts";
import { isStrataError } from "../../core/errors.ts";
import { serveS3 } from "../../gateways/s3/index.ts";
import { remoteBackend } from "../../gateways/webdav/backend.ts";
import { startWebDavServer } from "../../gateways/webdav/server.ts";
import { readConfig, type StrataConfig } from "../../runtime/config.ts";
import { azuriteConnectionString, startAzureStandIn } from "../../standins/azure.ts";
import { freePort, type StandIn, startChildStandIn } from "../../standins/child.ts";
import { gcsStandInStorageOptions, startGcsStandIn } from "../../standins/gcs.ts";
import { s3StandInClientConfig } from "../../standins/s3.ts";
import { type LocalVolumeSpec, startLocalDeployment } from "./deployment.ts";
import { createLog, logOptions } from "./log.ts";

// The AWS SDK warns once per process that its releases after January 2027 need Node 22; strata pins
// its SDK versions (package.json), so the warning says nothing about this deployment.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const here = path.dirname(fileURLToPath(import.meta.url));

const PFS = "default";

// Every variable read once and checked (runtime/config.ts): a bad value stops here, naming it.
let config: StrataConfig;
try {
  config = readConfig();
} catch (err) {
  console.error(`strata: ${(err as Error).message}`);
  process.exit(2);
}
const home = resolve(config.home);
const { port, chunkSize, placementGraceSeconds: graceSeconds, azuriteLazySaves: lazyAzureSaves } = config;

/** Can a server listen on this loopback port now? */
async function portIsFree(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

const STANDINS = ["s3", "azure", "gcs"] as const;

/** Is `pid` a live process started for this home (its command line names the home)? Linux only (/proc). */
function ourProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(home);
  } catch {
    return false;
  }
}

/**
 * Stand-ins of the last run that are still alive (its server was killed: they exit when they
 * notice, see the lifeline in child.ts): wait up to 5 s for them to go, then SIGKILL them, so the
 * new ones get the same ports and no two processes share a data directory.
 */
async function stopLeftovers(saved: Record<string, unknown>): Promise<void> {
  const pids = Object.values((saved.pids ?? {}) as Record<string, unknown>).filter(
    (p): p is number => typeof p === "number" && Number.isInteger(p) && p > 0 && ourProcess(p),
  );
  const deadline = Date.now() + 5_000;
  while (pids.some(ourProcess) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const pid of pids.filter(ourProcess)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
  while (pids.some(ourProcess)) await new Promise((r) => setTimeout(r, 20));
}

/**
 * The stand-ins' ports: last start's when still free (their endpoints are in the volume records,
 * which a restart does not rewrite), else new free ones, saved for the next start.
 */
async function standInPorts(): Promise<{ s3: number; azure: number; gcs: number }> {
  const file = join(home, "standins.json");
  let saved: Record<string, unknown> = {};
  try {
    saved = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  } catch {
    // First start (or an unreadable file): new ports.
  }
  await stopLeftovers(saved);
  const pick = async (name: string) => {
    const p = saved[name];
    if (typeof p === "number" && Number.isInteger(p) && (await portIsFree(p))) return p;
    return freePort();
  };
  const ports = { s3: await pick("s3"), azure: await pick("azure"), gcs: await pick("gcs") };
  await writeFile(file, `${JSON.stringify(ports, null, 2)}\n`);
  return ports;
}

async function startS3(dir: string, p: number): Promise<StandIn> {
  return startChildStandIn({
    name: "s3",
    command: process.execPath,
    args: [
      "--openssl-legacy-provider",
      join(here, "../../standins/s3rver-main.mjs"),
      dir,
      String(p),
      "--lifeline",
    ],
    port: p,
    readyLine: /s3rver listening/,
    ownProcessGroup: true,
  });
}

async function startAzure(dir: string, p: number): Promise<StandIn> {
  return startAzureStandIn({ port: p, location: dir, ownProcessGroup: true, lazySaves: lazyAzureSaves });
}

interface GcsSigner {
  client_email: string;
  private_key: string;
}

/**
 * The service account that signs GCS V4 URLs: an RSA key pair made on the first start and kept in
 * the home (private key 0600), so URLs and the stand-in's trust survive restarts.
 */
async function gcsSigner(): Promise<{ signer: GcsSigner; publicKeyFile: string }> {
  const file = join(home, "gcs-signer.json");
  const publicKeyFile = join(home, "gcs-signer.pub.pem");
  try {
    return { signer: JSON.parse(await readFile(file, "utf8")) as GcsSigner, publicKeyFile };
  } catch {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    const signer = { client_email: "strata-local@strata.invalid", private_key: privateKey };
    await writeFile(publicKeyFile, publicKey);
    await writeFile(file, `${JSON.stringify(signer, null, 2)}\n`, { mode: 0o600 });
    return { signer, publicKeyFile };
  }
}

/** The deployment's volume set: the one place that lists them (site/cost attributes for the reader). */
function localVolumes(
  s3: StandIn,
  azure: StandIn,
  gcs: StandIn,
  signer: GcsSigner,
): Record<string, LocalVolumeSpec> {
  return {
    local: {
      kind: "local",
      root: join(home, "volumes", "local"),
      site: "local",
      cloud: "local",
      class: "local",
      cost: 1,
    },
    s3: {
      kind: "s3",
      bucket: "strata",
      clientConfig: s3StandInClientConfig(s3.endpoint),
      site: "aws-local",
      cloud: "aws",
      class: "durable",
      cost: 2,
    },
    azure: {
      kind: "azure",
      connectionString: azuriteConnectionString(azure.endpoint),
      container: "strata",
      site: "azure-local",
      cloud: "azure",
      class: "durable",
      cost: 2,
    },
    gcs: {
      kind: "gcs",
      bucket: "strata",
      storageOptions: gcsStandInStorageOptions(gcs.endpoint),
      signer: { credential: signer, apiEndpoint: gcs.endpoint },
      site: "gcs-local",
      cloud: "gcp",
      class: "durable",
      cost: 2,
    },
  };
}

interface Connection {
  endpoint: string;
  token: string;
  pfs: string;
}

async function previousConnection(): Promise<Connection | undefined> {
  try {
    return JSON.parse(await readFile(join(home, "connection.json"), "utf8")) as Connection;
  } catch {
    return undefined;
  }
}

await secureHome(home); // 0700 before anything is written into it
await mkdir(join(home, "volumes", "local"), { recursive: true, mode: 0o700 });
await mkdir(join(home, "s3"), { recursive: true, mode: 0o700 });
await mkdir(join(home, "azure"), { recursive: true, mode: 0o700 });
const { signer, publicKeyFile } = await gcsSigner();
const ports = await standInPorts();
const standIns = await Promise.all([
  startS3(join(home, "s3"), ports.s3),
  startAzure(join(home, "azure"), ports.azure),
  startGcsStandIn({
    port: ports.gcs,
    testHooks: false,
    dir: join(home, "gcs"),
    signerKeyFiles: { [signer.client_email]: publicKeyFile },
    ownProcessGroup: true,
  }),
]);
const [s3, azure, gcs] = standIns as [StandIn, StandIn, StandIn];
// Their process ids, for the next start (stopLeftovers) and for tests that kill everything.
await writeFile(
  join(home, "standins.json"),
  `${JSON.stringify({ ...ports, pids: Object.fromEntries(STANDINS.map((n, i) => [n, standIns[i]!.pid])) }, null, 2)}\n`,
);
const stopStandIns = () => Promise.allSettled(standIns.map((s) => s.stop()));

let deployment: Awaited<ReturnType<typeof startLocalDeployment>>;
try {
  deployment = await startLocalDeployment({
    home,
    volumes: localVolumes(s3, azure, gcs, signer),
    defaultVolume: "local",
    port,
    site: "local",
    // GCS volumes added at runtime are signed by the same service account the stand-in trusts.
    gcsSigner: signer,
    placement: { graceMs: graceSeconds * 1000 },
    schedules: config.intervals,
    ...(chunkSize === undefined ? {} : { chunkSize }),
    // One line per request and per job run (STRATA_LOG, STRATA_LOG_FORMAT / --log-format json).
    log: createLog(logOptions(config.log, process.argv.slice(2))),
  });
} catch (err) {
  await stopStandIns();
  console.error(`strata: could not start: ${(err as Error).message}`);
  process.exit(1);
}
const { services, endpoint } = deployment;
for (const name of deployment.registration.conflicts)
  console.error(
    `strata: volume \`${name}\` already has a record with other settings; the record is used (\`strata volume ls --json\` shows it)`,
  );

try {
  await services.namespace.createPfs(PFS);
} catch (err) {
  if (!isStrataError(err, "EEXIST")) throw err;
}

// Reuse the admin token of the last run while it is valid (same keys, so same tokens). A token of
// an older version (`strata1.`) no longer verifies, so a new admin token is issued in its place.
let token = (await previousConnection())?.token;
if (token) {
  try {
    const principal = await services.tokens.verify(token);
    if (principal.pfs !== "*" || !principal.rights.includes("admin")) token = undefined;
  } catch {
    token = undefined;
  }
}
token ??= (
  await services.tokens.create({
    pfs: "*",
    rights: ["admin"],
    ttlSeconds: MAX_TOKEN_TTL_SECONDS,
    label: "npm start admin",
  })
).token;

// The S3 gateway (docs/s3-gateway.md) on the next port (a free one when STRATA_PORT is 0), with S3
// credentials of a read+write token for PFS default: the last run's (s3.json) while valid, else new.
const s3Options = { endpoint, token, host: "127.0.0.1" };
// The next port when it is free, else any free one (the line below prints which).
const s3Gateway = await serveS3({ ...s3Options, port: port === 0 ? 0 : port + 1 }).catch(() =>
  serveS3({ ...s3Options, port: 0 }),
);
const s3File = join(home, "s3.json");
const s3Previous = await readFile(s3File, "utf8")
  .then((text) => String((JSON.parse(text) as { accessKeyId?: unknown }).accessKeyId))
  .catch(() => undefined);
let s3Keys = s3Previous
  ? await services.tokens
      .s3Credentials(s3Previous)
      .then((c) => ({ accessKeyId: s3Previous, secretAccessKey: c.secretAccessKey }))
      .catch(() => undefined)
  : undefined;
if (!s3Keys) {
  const made = await services.tokens.create({
    pfs: PFS,
    rights: ["read", "write"],
    ttlSeconds: MAX_TOKEN_TTL_SECONDS,
    label: "npm start s3",
  });
  s3Keys = {
    accessKeyId: made.id,
    secretAccessKey: (await services.tokens.s3Credentials(made.id)).secretAccessKey,
  };
}
// The key id and endpoint only: the secret is derived on the server, never saved.
await writeFile(
  s3File,
  `${JSON.stringify({ endpoint: s3Gateway.endpoint, accessKeyId: s3Keys.accessKeyId }, null, 2)}\n`,
  {
    mode: 0o600,
  },
);

const connectionFile = join(home, "connection.json");
await writeFile(connectionFile, `${JSON.stringify({ endpoint, token, pfs: PFS }, null, 2)}\n`, {
  mode: 0o600,
});
await chmod(connectionFile, 0o600);

// The WebDAV gateway (gateways/webdav/, docs/webdav.md): a client of this API, each request with
// its own token. Port: the API's + 10 when free (STRATA_PORT=0: a free one).
const webdav = await startWebDavServer({
  backend: remoteBackend({ endpoint, pfs: PFS }),
  port: port !== 0 && (await portIsFree(port + 10)) ? port + 10 : 0,
  log: (line) => console.error(`strata webdav: ${line}`),
});

console.log("strata: local deployment ready");
console.log(`  endpoint     ${endpoint}`);
console.log(`  admin token  ${token}`);
console.log(`  home         ${home}`);
console.log(`  metadata     ${join(home, "metadata.db")} (SQLite)`);
console.log(`  volumes      local (default, site local) → ${join(home, "volumes", "local")}`);
console.log(`               s3 (site aws-local) → s3rver ${s3.endpoint} (data in ${join(home, "s3")})`);
console.log(
  `               azure (site azure-local) → azurite ${azure.endpoint} (data in ${join(home, "azure")})`,
);
console.log(
  `               gcs (site gcs-local) → GCS stand-in ${gcs.endpoint} (data in ${join(home, "gcs")})`,
);
console.log("  placement    objectives and tags move chunks between them (`npx strata objective --help`)");
console.log(`  connection   ${connectionFile} (the CLI here needs no flags)`);
console.log(`  webdav       ${webdav.url} (any user name, a token as the password: docs/webdav.md)`);
console.log(`  s3 gateway   ${s3Gateway.endpoint} (bucket ${PFS}, path style, region ${s3Gateway.region})`);
console.log(`  s3 key id    ${s3Keys.accessKeyId}`);
console.log(`  s3 secret    ${s3Keys.secretAccessKey}`);
console.log("");
console.log("next steps:");
console.log("  npx strata ls /");
console.log("  npx strata put ./README.md /readme.md");
console.log("  npx strata cat /readme.md");
console.log("");
console.log("Ctrl-C stops it; state stays in the home directory.");

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`strata: ${signal}: draining requests and stopping`);
  await webdav.close();
  await s3Gateway.close();
  await deployment.stop();
  await stopStandIns();
  console.log("strata: stopped");
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
