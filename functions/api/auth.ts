/**
 * Authorisation, pure: who a request is (a {@link Principal} from a verified token), and what it
 * may touch. Rights are ordered read < write < admin; a token's level is its highest right.
 *
 * - A token is for one PFS, or for "*" (every PFS: deployment administration).
 * - Every path in a request must lie inside the token's prefix, compared by canonical components
 *   (core/namespace/path.ts parsePath: `.`/`..`/empty components resolved first, so `..` never
 *   escapes; "/a" covers "/a" and "/a/b" but not "/ab").
 * - admin of a PFS = manage tokens inside its own scope; admin of "*" also creates/deletes PFSs
 *   and sees every token inside its prefix.
 * - Operations that touch a whole PFS (snapshots, retention, mirror source side, backups,
 *   placement.sweep) need a token whose prefix is "/" on that PFS; deployment administration
 *   needs pfs "*", admin and prefix "/". A "*" token's prefix binds it like any other token's.
 * - What an operation touches is declared in the registry (operation.ts `touches`);
 *   {@link authorise} turns the declaration into these checks before the operation runs.
 */

import {
  canonicalPrefix,
  levelOf,
  type Principal,
  pathWithin,
  RIGHT_LEVEL,
  type Right,
  type TokenSpec,
} from "../../core/auth/scope.ts";
import { strataError } from "../../core/errors.ts";
import { parsePath } from "../../core/namespace/path.ts";
import type { Operation } from "./operation.ts";

// The auth domain lives in core/auth/scope.ts; re-exported for the API's callers.
export { canonicalPrefix, levelOf, type Principal, pathWithin, RIGHT_LEVEL };

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

/** The token's prefix is the whole PFS ("/"). */
export function isWholePfs(principal: Principal): boolean {
  return parsePath(principal.prefix).length === 0;
}

/** A deployment administrator: pfs "*", rights admin, prefix "/". */
export function isDeploymentAdmin(principal: Principal): boolean {
  return principal.pfs === "*" && levelOf(principal.rights) >= RIGHT_LEVEL.admin && isWholePfs(principal);
}

/** Deployment-wide administration ("*" with admin and prefix "/"). */
export function checkDeploymentAdmin(principal: Principal, what: string): void {
  if (!isDeploymentAdmin(principal))
    throw denied(`${what} needs a deployment admin token (pfs "*", rights admin, prefix "/")`, {
      op: what,
      tokenPfs: principal.pfs,
      prefix: principal.prefix,
    });
}

/**
 * An operation on the whole of `pfs` (snapshots, retention, the mirror source side…): the token
 * must be for that PFS (or "*") with `right`, and its prefix must be "/".
 */
export function checkWholePfs(principal: Principal, pfs: string, right: Right, op: string): void {
  checkPfs(principal, pfs, right);
  if (!isWholePfs(principal))
    throw denied(
      `${op} acts on the whole PFS \`${pfs}\`: it needs a token whose prefix is "/", and this one is confined to ${principal.prefix}`,
      { op, pfs, prefix: principal.prefix },
    );
}

/** Most paths one request may name (fs.batch: 100 ops × 2 paths); checked before any work. */
export const MAX_PATHS_PER_REQUEST = 200;

/**
 * Authorise one operation from its declaration (operation.ts `touches`), before it runs:
 * `pfs` is the PFS of the URL for PFS-scoped operations, undefined for deployment ones.
 */
export function authorise(
  principal: Principal,
  op: Operation,
  input: unknown,
  pfs: string | undefined,
): void {
  switch (op.touches) {
    case "paths": {
      if (pfs === undefined || !op.paths) throw denied(`${op.name} declares no paths`, { op: op.name });
      checkPfs(principal, pfs, op.right);
      const paths = op.paths(input);
      if (paths.length > MAX_PATHS_PER_REQUEST)
        throw strataError(
          "E2BIG",
          `${op.name} names ${paths.length} paths; one request may name at most ${MAX_PATHS_PER_REQUEST}`,
          { op: op.name, limit: MAX_PATHS_PER_REQUEST, paths: paths.length },
        );
      checkPaths(principal, paths);
      return;
    }
    case "pfs": {
      const targets = pfs !== undefined ? [pfs] : (op.pfsOf?.(input) ?? []);
      if (targets.length === 0) throw denied(`${op.name} names no PFS`, { op: op.name });
      for (const target of targets) checkWholePfs(principal, target, op.right, op.name);
      return;
    }
    case "deployment":
      if (pfs !== undefined) checkPfs(principal, pfs, op.right);
      else checkRight(principal, op.right, { op: op.name });
      return;
    default:
      // Unreachable for a registered operation (the registry refuses it); fail closed anyway.
      throw denied(`${op.name} declares nothing it touches`, { op: op.name });
  }
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
  if (principal.pfs !== "*" && token.pfs !== principal.pfs) return false;
  return pathWithin(token.prefix, principal.prefix);
}
