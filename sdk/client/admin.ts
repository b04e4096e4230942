/** `client.admin` for a deployment that has no operation registry. */
import { strataError } from "../../core/errors.ts";
import type { Deployment } from "../client.ts";
import type { StrataAdmin } from "../types.ts";

/** `client.admin` for a deployment without an operation registry: PFS calls only. */
export function namespaceOnlyAdmin(deployment: Deployment): StrataAdmin {
  const unsupported = (what: string) => () =>
    Promise.reject(
      strataError(
        "ENOTSUP",
        `${what} needs a deployment with an operation registry (a server or npm start)`,
        {
          op: what,
        },
      ),
    );
  return {
    listPfs: () => deployment.namespace.listPfs(),
    createPfs: (name) => deployment.namespace.createPfs(name),
    deletePfs: (name) => deployment.namespace.deletePfs(name),
    createToken: unsupported("token.create"),
    listTokens: unsupported("token.list"),
    revokeToken: unsupported("token.revoke"),
    status: unsupported("status"),
    call: (op) => unsupported(op)(),
  };
}
