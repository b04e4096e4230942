/**
 * HTTP fixtures: a whole API deployment in this process (functions/local/deployment.ts) on a temp
 * directory and a free port, with a deployment-admin token, and SDK clients over real HTTP.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type LocalDeployment,
  type LocalVolumeSpec,
  startLocalDeployment,
} from "../../functions/local/deployment.ts";
import { connect, type Strata } from "../../sdk/index.ts";
import { azuriteConnectionString } from "../../standins/azure.ts";
import { gcsStandInStorageOptions, trustGcsStandInSigner } from "../../standins/gcs.ts";
import { s3StandInClientConfig } from "../../standins/s3.ts";
import type { SdkFixture } from "../conformance/sdk.ts";

export type VolumeKind = "local" | "s3" | "azure" | "gcs";

let seq = 0;

/** This test process's GCS signing service account (an RSA key pair made once). */
export const gcsTestSigner = (() => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return { client_email: `strata-test-${process.pid}@strata.invalid`, private_key: privateKey, publicKey };
})();

/** The volume spec of one kind in `dir` (or on the stand-in at `endpoint`), with a unique bucket. */
export function volumeSpec(kind: VolumeKind, dir: string, endpoint?: string): LocalVolumeSpec {
  const unique = `strata-api-${process.pid}-${Date.now().toString(36)}-${seq++}`;
  if (kind === "local") return { kind, root: join(dir, "volume") };
  if (!endpoint) throw new Error(`the ${kind} stand-in is not running`);
  if (kind === "s3") return { kind, bucket: unique, clientConfig: s3StandInClientConfig(endpoint) };
  if (kind === "gcs")
    return {
      kind,
      bucket: unique,
      storageOptions: gcsStandInStorageOptions(endpoint),
      signer: {
        credential: { client_email: gcsTestSigner.client_email, private_key: gcsTestSigner.private_key },
        apiEndpoint: endpoint,
      },
    };
  return { kind, connectionString: azuriteConnectionString(endpoint), container: unique };
}

export interface ApiFixture {
  deployment: LocalDeployment;
  dir: string;
  adminToken: string;
  client(options?: { token?: string; pfs?: string }): Promise<Strata>;
  dispose(): Promise<void>;
}

export async function startApiFixture(
  kind: VolumeKind,
  endpoint?: string,
  tune: { chunkSize?: number; presignTtlSeconds?: number; clock?: () => number } = {},
): Promise<ApiFixture> {
  const dir = await mkdtemp(join(tmpdir(), `strata-api-${kind}-`));
  if (kind === "gcs" && endpoint)
    await trustGcsStandInSigner(endpoint, gcsTestSigner.client_email, gcsTestSigner.publicKey);
  const deployment = await startLocalDeployment({
    home: dir,
    volumes: { v: volumeSpec(kind, dir, endpoint) },
    defaultVolume: "v",
    port: 0,
    ...tune,
  });
  const admin = await deployment.services.tokens.create({ pfs: "*", rights: ["admin"], label: "test admin" });
  // As npm start does: a read never creates a PFS (issue 13), so the clients' PFS exists up front.
  await deployment.services.namespace.createPfs("default");
  return {
    deployment,
    dir,
    adminToken: admin.token,
    client: (options = {}) =>
      connect({
        endpoint: deployment.endpoint,
        token: options.token ?? admin.token,
        pfs: options.pfs ?? "default",
      }),
    async dispose() {
      await deployment.stop();
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    },
  };
}

/** For testSdk: a fresh deployment per test, the admin's client on PFS "default". */
export async function remoteSdkFixture(
  kind: VolumeKind,
  endpoint?: string,
  chunkSize?: number,
): Promise<SdkFixture> {
  const fx = await startApiFixture(kind, endpoint, { chunkSize });
  const client = await fx.client();
  return {
    client,
    dispose: async () => {
      await client.close();
      await fx.dispose();
    },
  };
}
