/** `client.admin` for a deployment that has no operation registry. */
import { strataError } from "../../core/errors.ts";
import type { Namespace } from "../../core/namespace/api.ts";
import type { StrataAdmin } from "../types.ts";

/** `client.admin` for a deployment without an operation registry: PFS calls only. */
export function namespaceOnlyAdmin(namespace: Namespace): StrataAdmin {
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
    listPfs: () => namespace.listPfs(),
    createPfs: (name) => namespace.createPfs(name),
    deletePfs: (name) => namespace.deletePfs(name),
    createToken: unsupported("token.create"),
    listTokens: unsupported("token.list"),
    revokeToken: unsupported("token.revoke"),
    status: unsupported("status"),
    call: (op) => unsupported(op)(),
  };
}
