/**
 * Tenant isolation through the HTTP API (test/reliability/tenants.ts): another tenant's token,
 * forged/guessed/expired/revoked tokens, prefix escapes, other spellings of the PFS name,
 * malformed bodies, rewritten presigned URLs — 0 cross-tenant reads or writes.
 */
import { describe, expect, it } from "vitest";
import { runTenantIsolation } from "../reliability/tenants.ts";

describe("reliability: tenant isolation over HTTP", () => {
  it("every cross-tenant attempt is refused and the other tenant's state is unchanged", {
    timeout: 120_000,
  }, async () => {
    const f = await runTenantIsolation({ seed: 1 });
    console.log(`[reliability] tenants: ${JSON.stringify({ ...f, failures: f.failures.length })}`);
    expect(f.failures).toEqual([]);
    expect(f.leaks).toBe(0);
    expect(f.attempts).toBeGreaterThan(150);
    expect(f.refused).toBe(f.attempts);
  });
});
