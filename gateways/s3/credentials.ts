/**
 * Access key id → (secret, the token's own client). The gateway holds one deployment-admin
 * client (its own token) and uses it for exactly one thing: the `token.s3Credentials` operation,
 * which answers the S3 secret of a token id together with that token's bearer text. Every S3
 * request is then served by a client carrying the *requester's* token, so the deployment's
 * confinement (PFS, prefix, rights, expiry, revocation) applies to it unchanged
 * (docs/s3-gateway.md "Auth").
 *
 * Answers are remembered for {@link CREDENTIALS_CACHE_MS} (the API's own token cache is 1 s, so
 * a revocation is seen within about the same bound).
 */
import { connect, isStrataError, type Strata } from "../../sdk/index.ts";
import { S3Error } from "./errors.ts";

export const CREDENTIALS_CACHE_MS = 1_000;

export interface S3Principal {
  accessKeyId: string;
  secretAccessKey: string;
  /** The token's bearer text: what every request made for this principal carries. */
  token: string;
  pfs: string;
  prefix: string;
  rights: string[];
  expiresAt: string;
}

export interface CredentialSource {
  resolve(accessKeyId: string): Promise<S3Principal>;
  /** A client for this principal (its own token) on `pfs`. */
  client(principal: S3Principal, pfs: string): Promise<Strata>;
  close(): Promise<void>;
}

export interface RemoteCredentialOptions {
  endpoint: string;
  /** The gateway's own token: a deployment admin token (pfs "*", admin), used only to resolve access keys. */
  token: string;
  clock?: () => number;
  /**
   * TEST ONLY (the confinement counter-check): serve every request with the gateway's own
   * token instead of the requester's, so the deployment no longer confines gateway requests.
   */
  testOnlyActAsGateway?: boolean;
}

/** Credentials and clients over a deployment's HTTP API. */
export async function remoteCredentials(options: RemoteCredentialOptions): Promise<CredentialSource> {
  const clock = options.clock ?? Date.now;
  const admin = await connect({ endpoint: options.endpoint, token: options.token });
  const cache = new Map<string, { at: number; principal: S3Principal }>();
  const clients = new Map<string, Promise<Strata>>();
  return {
    async resolve(accessKeyId) {
      const now = clock();
      const hit = cache.get(accessKeyId);
      if (
        hit &&
        now - hit.at >= 0 &&
        now - hit.at < CREDENTIALS_CACHE_MS &&
        Date.parse(hit.principal.expiresAt) > now
      )
        return hit.principal;
      let principal: S3Principal;
      try {
        principal = await admin.admin.call<S3Principal>("token.s3Credentials", { accessKeyId });
      } catch (err) {
        if (isStrataError(err, "EACCES") || isStrataError(err, "EINVAL"))
          throw new S3Error(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
          );
        throw err;
      }
      if (cache.size > 10_000) cache.clear();
      cache.set(accessKeyId, { at: now, principal });
      return principal;
    },
    async client(principal, pfs) {
      const token = options.testOnlyActAsGateway ? options.token : principal.token;
      const key = `${token}\u0000${pfs}`;
      let client = clients.get(key);
      if (!client) {
        if (clients.size > 1_000) clients.clear();
        client = connect({ endpoint: options.endpoint, token, pfs });
        clients.set(key, client);
      }
      return client;
    },
    async close() {
      await admin.close();
    },
  };
}
