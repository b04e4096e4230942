/**
 * The auth domain, pure: rights, what a token is asked for and shown as, and who a request is
 * (a {@link Principal}: the claims of a verified token). The token service (adapters/auth/tokens.ts)
 * makes and verifies tokens; the HTTP API (functions/api/auth.ts) checks operations against a
 * principal; the SDK (sdk/types.ts) re-exports the client-facing types.
 */
import { formatPath, isWithin, parsePath } from "../namespace/path.ts";

/** A token's rights, from least to most: read < write < admin. */
export type Right = "read" | "write" | "admin";

/** What `admin.createToken` is asked for. */
export interface TokenSpec {
  /** The PFS the token is for; "*" = every PFS (deployment administration). */
  pfs: string;
  /** Path prefix inside the PFS the token may touch (default "/"). */
  prefix?: string;
  rights: Right[];
  /** Lifetime in seconds (the deployment's default when absent). */
  ttlSeconds?: number;
  /** A free-form label shown by `token ls`. */
  label?: string;
}

/** A token as listed (never the secret itself). */
export interface TokenInfo {
  id: string;
  pfs: string;
  prefix: string;
  rights: Right[];
  createdAt: string;
  expiresAt: string;
  revoked: boolean;
  label?: string;
}

/** A newly created token: the only time the bearer string is shown. */
export interface CreatedToken extends TokenInfo {
  token: string;
}

/** Who a request is: the scope of a verified token, read from its record. */
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

export const RIGHT_LEVEL: Record<Right, number> = { read: 1, write: 2, admin: 3 };

/** A token's level: its highest right (0 for none). */
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
