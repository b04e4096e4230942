/**
 * S3 gateway fixtures: a whole local deployment (startApiFixture) with the gateway in front of
 * it on 127.0.0.1 and a free port, S3 credentials of a token, and client config files in a
 * temp directory (never ~/.aws). Tools missing on the machine: `has(tool)` is false and the
 * test skips with the tool's name.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TokenSpec } from "../../core/auth/scope.ts";
import { type S3Gateway, serveS3 } from "../../gateways/s3/index.ts";
import { type ApiFixture, startApiFixture } from "./api-server.ts";

export interface S3Keys {
  accessKeyId: string;
  secretAccessKey: string;
  token: string;
}

export interface S3Fixture {
  api: ApiFixture;
  gateway: S3Gateway;
  endpoint: string;
  /** Credentials of a read+write token for PFS "default" (whole PFS). */
  keys: S3Keys;
  /** A temp directory for config files and local data (removed by dispose). */
  dir: string;
  /** Mint S3 credentials for another token spec. */
  credentials(spec: TokenSpec): Promise<S3Keys>;
  dispose(): Promise<void>;
}

export function has(tool: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export async function startS3Fixture(
  options: { testOnlyActAsGateway?: boolean; chunkSize?: number; api?: ApiFixture } = {},
): Promise<S3Fixture> {
  const api = options.api ?? (await startApiFixture("local", undefined, { chunkSize: options.chunkSize }));
  const dir = await mkdtemp(join(tmpdir(), "strata-s3-client-"));
  const tokens = api.deployment.services.tokens;
  const credentials = async (spec: TokenSpec): Promise<S3Keys> => {
    const made = await tokens.create(spec);
    const s3 = await tokens.s3Credentials(made.id);
    return { accessKeyId: made.id, secretAccessKey: s3.secretAccessKey, token: made.token };
  };
  const keys = await credentials({
    pfs: "default",
    rights: ["read", "write"],
    ttlSeconds: 3600,
    label: "s3 test",
  });
  const gateway = await serveS3({
    endpoint: api.deployment.endpoint,
    token: api.adminToken,
    host: "127.0.0.1",
    port: 0,
    testOnlyActAsGateway: options.testOnlyActAsGateway,
  });
  return {
    api,
    gateway,
    endpoint: gateway.endpoint,
    keys,
    dir,
    credentials,
    async dispose() {
      await gateway.close();
      if (!options.api) await api.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
