/**
 * The Azure Blob stand-in: azurite 3.37 (Microsoft's emulator) as a child process on 127.0.0.1,
 * in memory (tests) or on disk and durable at acknowledgement (`npm start`, azurite-main.mjs), with
 * the well-known development account `devstoreaccount1`.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BlobServiceClient } from "@azure/storage-blob";
import { freePort, type StandIn, startChildStandIn } from "./child.ts";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

/** Azurite's published development account (not a secret: it is in Microsoft's docs and azurite's README). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzureStandInOptions {
  /** Default: a free one. */
  port?: number;
  /** Keep the data in this directory (`npm start`); default: in memory. */
  location?: string;
  /** Own process group + lifeline (child.ts `ownProcessGroup`): what `npm start` uses. */
  ownProcessGroup?: boolean;
  /**
   * TEST ONLY: with `location`, leave azurite's metadata saves as azurite does them (every 5 s)
   * instead of before each acknowledgement (azurite-main.mjs), so a test can show that a kill then
   * loses acknowledged blobs. Default false.
   */
  lazySaves?: boolean;
}

/**
 * Start azurite's blob service on 127.0.0.1: on `port` (default: a free one), in memory unless
 * `location` names a directory to keep its data in (the local deployment's `npm start`). With a
 * location it runs through azurite-main.mjs, which saves azurite's metadata before each mutating
 * request is acknowledged (azurite alone saves every 5 s: a kill lost acknowledged blobs).
 */
export async function startAzureStandIn(options: AzureStandInOptions = {}): Promise<StandIn> {
  const main = path.join(
    path.dirname(require.resolve("azurite/package.json")),
    "dist",
    "src",
    "blob",
    "main.js",
  );
  const durableMain = path.join(here, "azurite-main.mjs");
  const port = options.port ?? (await freePort());
  const persistence =
    options.location === undefined
      ? [main, "--inMemoryPersistence"]
      : [
          durableMain,
          ...(options.lazySaves ? ["--strata-lazy-saves"] : []),
          ...(options.ownProcessGroup ? ["--strata-lifeline"] : []),
          "--location",
          options.location,
        ];
  return await startChildStandIn({
    name: "azure",
    command: process.execPath,
    ownProcessGroup: options.ownProcessGroup === true,
    args: [
      ...persistence,
      "--silent",
      "--disableTelemetry",
      "--skipApiVersionCheck",
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      String(port),
    ],
    port,
    readyLine: /successfully listens/,
  });
}

/** Connection string for the development account on an azurite at `endpoint` (e.g. `http://127.0.0.1:N`). */
export function azuriteConnectionString(endpoint: string): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=${endpoint.replace(/\/$/, "")}/${AZURITE_ACCOUNT};`
  );
}

/** A service client for the development account on an azurite at `endpoint`. */
export function azuriteServiceClient(endpoint: string): BlobServiceClient {
  return BlobServiceClient.fromConnectionString(azuriteConnectionString(endpoint));
}
