import { strataError } from "../core/errors.ts";
import { createClient } from "./client.ts";
import type { Strata } from "./types.ts";

/** Connect to an embedded deployment kept in a local directory. */
export interface LocalConnectOptions {
  /** The deployment's directory: `<local>/metadata.db` and `<local>/volumes/local/` (created if missing). */
  local: string;
  /** The PFS to use (default "default"); created on first use. */
  pfs?: string;
  /** This client's site name: chunk instances on volumes of this site are read first. */
  site?: string;
}

/** Connect to a remote deployment over its HTTP API (docs/http-api.md). */
export interface RemoteConnectOptions {
  /** Base URL of the strata HTTP API. */
  endpoint: string;
  /** Bearer token. */
  token?: string;
  /** The PFS to use (default "default"). */
  pfs?: string;
  site?: string;
}

export type ConnectOptions = LocalConnectOptions | RemoteConnectOptions;

/** The PFS a client uses when `connect` is not told one. */
export const DEFAULT_PFS = "default";

/**
 * Open a strata client. `{ local: dir }` runs the whole engine in this process over SQLite and a
 * local volume in `dir`; `{ endpoint, token }` talks to a deployment's HTTP API (a server,
 * `npm start`, or Lambda): the same client, with file bytes moved by presigned URLs.
 *
 * @example
 * import { connect } from "strata";
 * const client = await connect({ local: "./data" });
 * await client.writeFile("/hello.txt", "hello");
 * console.log(await client.readFile("/hello.txt", "utf8"));
 * await client.close();
 */
export async function connect(options: ConnectOptions): Promise<Strata> {
  if (typeof options !== "object" || options === null) {
    throw strataError("EINVAL", "connect takes { local: dir } or { endpoint, token }");
  }
  if ("local" in options && options.local !== undefined) {
    // The embedded entry point, loaded on demand: a remote-only client never loads the runtime,
    // the adapters or SQLite.
    const { connectLocal } = await import("../runtime/embedded.ts");
    return connectLocal(options, DEFAULT_PFS);
  }
  if ("endpoint" in options && options.endpoint !== undefined) {
    const { remoteDeployment } = await import("./remote.ts");
    const pfs = options.pfs ?? DEFAULT_PFS;
    return createClient(remoteDeployment({ endpoint: options.endpoint, token: options.token, pfs }), pfs);
  }
  throw strataError("EINVAL", "connect takes { local: dir } or { endpoint, token }");
}
