/**
 * The S3-compatible gateway (docs/s3-gateway.md): `startS3Gateway` over a credential source;
 * `serveS3` wires it to a deployment's HTTP API with the gateway's own admin token.
 */
import { remoteCredentials } from "./credentials.ts";
import { type S3Gateway, type S3GatewayOptions, startS3Gateway } from "./server.ts";

export { type CredentialSource, remoteCredentials, type S3Principal } from "./credentials.ts";
export { S3Error } from "./errors.ts";
export { type S3Gateway, type S3GatewayOptions, startS3Gateway } from "./server.ts";

export interface ServeS3Options extends Omit<S3GatewayOptions, "credentials"> {
  /** The deployment's HTTP API. */
  endpoint: string;
  /** A deployment admin token (pfs "*", rights admin): only used to resolve access keys. */
  token: string;
  host?: string;
  port?: number;
  /** TEST ONLY: serve requests with the gateway's own token (the confinement counter-check). */
  testOnlyActAsGateway?: boolean;
}

/** A gateway in front of the deployment at `endpoint`. */
export async function serveS3(options: ServeS3Options): Promise<S3Gateway> {
  const credentials = await remoteCredentials({
    endpoint: options.endpoint,
    token: options.token,
    clock: options.clock,
    testOnlyActAsGateway: options.testOnlyActAsGateway,
  });
  const gateway = await startS3Gateway({ ...options, credentials });
  return {
    ...gateway,
    server: gateway.server,
    endpoint: gateway.endpoint,
    region: gateway.region,
    async close() {
      await gateway.close();
      await credentials.close();
    },
  };
}
