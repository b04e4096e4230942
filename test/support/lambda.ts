/**
 * The Lambdas on DynamoDB Local, configured only by the environment the stacks set: a fresh
 * table, a temp dir, the env (restored by `dispose`), a deployment-admin token, one PFS, and the
 * API handler called as API Gateway / a function URL would call it, inside Lambda's limits with
 * its deployed settings (test/support/lambda-limits.ts).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatKeyRing, newKey, staticKeyRing } from "../../adapters/auth/keys.ts";
import { TokenService } from "../../adapters/auth/tokens.ts";
import type { DynamoDbMetadataStore } from "../../adapters/metadata/dynamodb.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { freshDynamoDbStore } from "./dynamodb.ts";
import { deployedSettings, withLambdaLimits } from "./lambda-limits.ts";

export interface LambdaWorld {
  store: DynamoDbMetadataStore;
  dir: string;
  token: string;
  /** POST `path` (e.g. "/v1/ops/volume.add") through functions/api/lambda.ts with the admin token. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read the JSON reply field by field
  api(path: string, body: unknown): Promise<{ status: number; body: any }>;
  dispose(): Promise<void>;
}

export async function lambdaWorld(
  endpoint: string,
  name: string,
  options: { pfs: string; defaultVolume: string },
): Promise<LambdaWorld> {
  const table = await freshDynamoDbStore(endpoint, `strata-${name}`);
  const dir = await mkdtemp(join(tmpdir(), `strata-${name}-`));
  // What the stack sets, plus the SDK's endpoint override for DynamoDB Local.
  const saved = { ...process.env };
  Object.assign(process.env, {
    STRATA_TABLE: table.store.tableName,
    STRATA_DEFAULT_VOLUME: options.defaultVolume,
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "strataLocal",
    AWS_SECRET_ACCESS_KEY: "strataLocal",
    // The stack names an SSM SecureString (STRATA_TOKEN_KEYS_PARAMETER); tests pass the ring itself.
    STRATA_TOKEN_KEYS: formatKeyRing({ keys: [newKey()] }),
  });
  delete process.env.STRATA_BUCKET;
  const keys = staticKeyRing(process.env.STRATA_TOKEN_KEYS!, "STRATA_TOKEN_KEYS");
  const token = (await (await TokenService.open(table.store, keys)).create({ pfs: "*", rights: ["admin"] }))
    .token;
  await createNamespace({ store: table.store }).createPfs(options.pfs);
  // The API handler with its deployed timeout and memory and Lambda's 6 MB payloads around it.
  const handler = withLambdaLimits(
    (await import("../../functions/api/lambda.ts")).handler,
    deployedSettings("functions/api/lambda.ts"),
  );
  return {
    store: table.store,
    dir,
    token,
    async api(path, body) {
      const r = await handler({
        rawPath: path,
        requestContext: { http: { method: "POST" } },
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: r.statusCode, body: JSON.parse(r.body) };
    },
    async dispose() {
      process.env = saved;
      await rm(dir, { recursive: true, force: true });
      await table.dispose();
    },
  };
}
