/** Principals for calling the operation registry (`invoke`) directly, without tokens. */
import type { Principal } from "../../functions/api/auth.ts";

/** A principal that never expires: by default an admin of every PFS; `over` narrows it. */
export function testPrincipal(over: Partial<Principal> = {}): Principal {
  return {
    tokenId: "test",
    pfs: "*",
    prefix: "/",
    rights: ["read", "write", "admin"],
    expiresAt: 8.64e15, // the largest Date
    ...over,
  };
}
