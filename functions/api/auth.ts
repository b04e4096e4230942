/**
 * Authorisation, pure: who a request is (a {@link Principal} from a verified token), and what it
 * may touch. Rights are ordered read < write < admin; a token's level is its highest right.
 *
 * - A token is for one PFS, or for "*" (every PFS: deployment administration).
 * - Every path in a request must lie inside the token's prefix, compared by canonical components
 *   (core/namespace/path.ts parsePath: `.`/`..`/empty components resolved first, so `..` never
 *   escapes; "/a" covers "/a" and "/a/b" but not "/ab").
 * - admin of a PFS = manage tokens inside its own scope, delete snapshots; admin of "*" also
 *   creates/deletes PFSs and sees every token.
 */
import { strataError } from "../../core/errors.ts";
import { formatPath, isWithin, parsePath } from "../../core/namespace/path.ts";
import type { Right, TokenSpec } from "../../sdk/types.ts";

export const RIGHT_LEVEL: Record<Right, number> = { read: 1, write: 2, admin: 3 };

export interface Principal {
  tokenId: string;
  /** The PFS this token is for, or "*" for all. */
  pfs: string;
  /** Canonical path prefix ("/" = everything). */
  prefix: string;
  rights: Right[];
  /** ms since epoch. */
  expiresAt: number;
}

export function levelOf(rights: readonly Right[]): number {
  return Math.max(0, ...rights.map((r) => RIGHT_LEVEL[r] ?? 0));
}

/** Canonical form of a prefix ("/a/../b/" → "/b"); EINVAL when not an absolute path. */
export function canonicalPrefix(prefix: string): string {
  return formatPath(parsePath(prefix));
}

/** True when `path` (any spelling) lies inside `prefix` (canonical or not). */
export function pathWithin(path: string, prefix: string): boolean {
  return isWithin(parsePath(path), parsePath(prefix));
}

function denied(message: string, details: Record<string, unknown>) {
  return strataError("EACCES", message, details);
}

/** The principal may act on `pfs` with at least `right`. */
export function checkPfs(principal: Principal, pfs: string, right: Right): void {
  if (principal.pfs !== "*" && principal.pfs !== pfs)
    throw denied(`this token is for PFS \`${principal.pfs}\`, not \`${pfs}\`; use a token of that PFS`, {
      pfs,
      tokenPfs: principal.pfs,
    });
  checkRight(principal, right, { pfs });
}

export function checkRight(principal: Principal, right: Right, details: Record<string, unknown> = {}): void {
  if (levelOf(principal.rights) < RIGHT_LEVEL[right])
    throw denied(
      `this token has rights [${principal.rights.join(", ")}]; the operation needs ${right}. Ask an admin for a token with ${right}`,
      { ...details, need: right, rights: principal.rights },
    );
}

/** Every path must lie inside the principal's prefix. */
export function checkPaths(principal: Principal, paths: readonly string[]): void {
  if (principal.prefix === "/") return;
  for (const path of paths) {
    if (!pathWithin(path, principal.prefix))
      throw denied(`${path} is outside this token's prefix ${principal.prefix}`, {
        path,
        prefix: principal.prefix,
      });
  }
}

/** Deployment-wide administration ("*" with admin). */
export function checkDeploymentAdmin(principal: Principal, what: string): void {
  if (principal.pfs !== "*" || levelOf(principal.rights) < RIGHT_LEVEL.admin)
    throw denied(`${what} needs a deployment admin token (pfs "*", rights admin)`, { op: what });
}

/**
 * A token may only mint tokens inside its own scope: same PFS (or any, for "*"), a prefix inside
 * its own, rights no higher, an expiry no later. Needs admin.
 */
export function checkMayIssue(principal: Principal, spec: TokenSpec, expiresAt: number): void {
  checkRight(principal, "admin", { op: "token.create" });
  if (principal.pfs !== "*" && spec.pfs !== principal.pfs)
    throw denied(`a token of PFS \`${principal.pfs}\` cannot create tokens for \`${spec.pfs}\``, {
      pfs: spec.pfs,
    });
  if (!pathWithin(spec.prefix ?? "/", principal.prefix))
    throw denied(`prefix ${spec.prefix} is outside this token's prefix ${principal.prefix}`, {
      prefix: spec.prefix,
    });
  if (levelOf(spec.rights) > levelOf(principal.rights))
    throw denied("a token cannot grant rights above its own", { rights: spec.rights });
  if (expiresAt > principal.expiresAt)
    throw denied("a token cannot outlive the token that creates it; ask for a shorter ttlSeconds", {
      expiresAt: new Date(expiresAt).toISOString(),
    });
}

/** A token record is inside the principal's scope (listing, revoking). */
export function covers(principal: Principal, token: { pfs: string; prefix: string }): boolean {
  if (principal.pfs === "*") return true;
  return token.pfs === principal.pfs && pathWithin(token.prefix, principal.prefix);
}
