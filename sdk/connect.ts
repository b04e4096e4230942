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

/** Connect to a remote deployment over HTTP (issue 5: not available yet). */
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
 * local volume in `dir`; `{ endpoint, token }` will talk to a deployment's HTTP API once it
 * exists (issue 5) and throws ENOTSUP until then.
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
    // Loaded on demand so a remote-only client never loads SQLite.
    const { openEmbedded } = await import("../adapters/embedded.ts");
    const deployment = await openEmbedded({ dir: options.local, site: options.site });
    return createClient(deployment, options.pfs ?? DEFAULT_PFS);
  }
  if ("endpoint" in options && options.endpoint !== undefined) {
    throw strataError(
      "ENOTSUP",
      `connect({ endpoint }) needs strata's HTTP API, which does not exist yet (issue 5); use connect({ local: dir }) for an embedded deployment`,
      { endpoint: options.endpoint },
    );
  }
  throw strataError("EINVAL", "connect takes { local: dir } or { endpoint, token }");
}
