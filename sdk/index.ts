/**
 * strata's TypeScript SDK: `connect()` gives a {@link Strata} client shaped like
 * `node:fs/promises`, plus strata's own calls (as-of views, history, revert, snapshots, batches,
 * placement). See docs/sdk.md.
 *
 * @example
 * import { connect } from "strata";
 * const client = await connect({ local: "./data" });
 * await client.mkdir("/a/b", { recursive: true });
 * await client.writeFile("/a/b/c.txt", "hello");
 * await client.close();
 */
export {
  ERROR_CODES,
  type ErrorCode,
  isStrataError,
  StrataError,
} from "../core/errors.ts";
export { createClient, type Deployment } from "./client.ts";
export {
  type ConnectOptions,
  connect,
  DEFAULT_PFS,
  type LocalConnectOptions,
  type RemoteConnectOptions,
} from "./connect.ts";
export * from "./types.ts";
