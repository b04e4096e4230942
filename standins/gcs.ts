/**
 * The GCS stand-in: strata's own small GCS JSON-API server (standins/gcs-server.ts) as a
 * child process on 127.0.0.1, in memory or (option `dir`) persisted to a directory. Why not the Firebase Storage emulator: it has no bucket
 * creation, no chunked resumable uploads and ignores `ifGenerationMatch`, so create-only puts could
 * not be tested atomically (shared/STANDINS.md).
 *
 * Clients reach it with {@link gcsStandInStorageOptions}: a custom `apiEndpoint` makes
 * `@google-cloud/storage` skip authentication entirely (no token fetch, no metadata-server probe).
 */
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { StorageOptions } from "@google-cloud/storage";
import { freePort, type StandIn, startChildStandIn } from "./child.ts";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

export interface GcsStandInOptions {
  /** A fixed port (e.g. for `npm start`); default: a free one. */
  port?: number;
  /** Serve the test-only `/_strata/…` hooks (default true; `npm start` should pass false). */
  testHooks?: boolean;
  /** Keep objects in this directory across restarts (default: memory only). */
  dir?: string;
  /** Trust V4 signed URLs signed by these keys: service-account email → public key PEM file. */
  signerKeyFiles?: Record<string, string>;
  /** Own process group + lifeline (child.ts `ownProcessGroup`): what `npm start` uses. */
  ownProcessGroup?: boolean;
}

export async function startGcsStandIn(options: GcsStandInOptions = {}): Promise<StandIn> {
  const port = options.port ?? (await freePort());
  return await startChildStandIn({
    name: "gcs",
    command: process.execPath,
    args: [
      "--import",
      require.resolve("tsx"),
      path.join(here, "gcs-main.ts"),
      "--port",
      String(port),
      ...(options.testHooks === false ? [] : ["--test-hooks"]),
      ...(options.dir === undefined ? [] : ["--dir", options.dir]),
      ...(options.ownProcessGroup ? ["--lifeline"] : []),
      ...Object.entries(options.signerKeyFiles ?? {}).flatMap(([email, file]) => [
        "--signer",
        `${email}=${file}`,
      ]),
    ],
    port,
    readyLine: /gcs stand-in listening/,
    ownProcessGroup: options.ownProcessGroup === true,
    readyTimeoutMs: 30_000,
  });
}

/**
 * `Storage` options for the stand-in at `endpoint` (`http://127.0.0.1:N`). A custom `apiEndpoint`
 * with `useAuthWithCustomEndpoint: false` sends requests without credentials (checked in
 * @google-cloud/storage 7.19: nodejs-common/util.js `authorizeRequest`, resumable-upload.js uses
 * plain gaxios), and a fixed `projectId` keeps the client from looking one up.
 */
export function gcsStandInStorageOptions(endpoint: string): StorageOptions {
  return {
    apiEndpoint: endpoint,
    useAuthWithCustomEndpoint: false,
    projectId: "strata-local",
    // Nothing is ever sent to Google, but give the auth library no reason to search for credentials.
    credentials: { client_email: "stand-in@strata.invalid", private_key: "unused" },
  };
}

/** Test-only: flip one stored byte of `bucket/key` on the stand-in without touching its checksums. */
export async function corruptGcsStandInObject(endpoint: string, bucket: string, key: string): Promise<void> {
  const url = `${endpoint}/_strata/corrupt/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(key)}`;
  const res = await fetch(url, { method: "POST" });
  if (res.status !== 204)
    throw new Error(`could not corrupt ${bucket}/${key} on the GCS stand-in: ${res.status}`);
}

/** Test-only: make the stand-in at `endpoint` trust V4 signed URLs of `clientEmail` (its public key). */
export async function trustGcsStandInSigner(
  endpoint: string,
  clientEmail: string,
  publicKeyPem: string,
): Promise<void> {
  const res = await fetch(`${endpoint}/_strata/signers`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ clientEmail, publicKeyPem }),
  });
  if (res.status !== 204)
    throw new Error(`the GCS stand-in refused the signer ${clientEmail}: ${res.status}`);
}
