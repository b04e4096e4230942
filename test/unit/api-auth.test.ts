import { describe, expect, it } from "vitest";
import { TokenService } from "../../adapters/auth/tokens.ts";
import { ERROR_CODES, type ErrorCode, isStrataError } from "../../core/errors.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { checkMayIssue, checkPaths, type Principal, pathWithin } from "../../functions/api/auth.ts";
import { HTTP_STATUS, statusOf } from "../../functions/api/status-codes.ts";
import { failureOf } from "../support/errors.ts";

describe("status-code table", () => {
  it("has a 4xx/5xx status for every error code", () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      expect(HTTP_STATUS[code], code).toBeGreaterThanOrEqual(400);
      expect(HTTP_STATUS[code], code).toBeLessThan(600);
    }
    expect(Object.keys(HTTP_STATUS).sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
  it("answers 401 for token failures and 403 for other EACCES", () => {
    expect(statusOf("EACCES", { auth: "token" })).toBe(401);
    expect(statusOf("EACCES", {})).toBe(403);
    expect(statusOf("ENOENT")).toBe(404);
    expect(statusOf("ECONFLICT")).toBe(409);
  });
});

describe("tokens", () => {
  const secret = new Uint8Array(32).fill(7);
  function service(now: { t: number }, store = new MemoryMetadataStore()) {
    return new TokenService(store, secret, () => now.t);
  }

  it("a created token verifies to its scope", async () => {
    const now = { t: Date.parse("2030-01-01T00:00:00Z") };
    const tokens = service(now);
    const made = await tokens.create({
      pfs: "p",
      prefix: "/a/./b/",
      rights: ["read", "write"],
      ttlSeconds: 60,
    });
    const principal = await tokens.verify(made.token);
    expect(principal).toMatchObject({
      tokenId: made.id,
      pfs: "p",
      prefix: "/a/b",
      rights: ["read", "write"],
    });
    expect(made.prefix).toBe("/a/b");
  });

  it("refuses an expired token, a tampered one, another deployment's, and a revoked one — as 401", async () => {
    const now = { t: Date.parse("2030-01-01T00:00:00Z") };
    const store = new MemoryMetadataStore();
    const tokens = service(now, store);
    const made = await tokens.create({ pfs: "p", rights: ["read"], ttlSeconds: 60 });

    const [head, body, mac] = made.token.split(".") as [string, string, string];
    const payload = JSON.parse(Buffer.from(body, "base64url").toString());
    const forged = Buffer.from(JSON.stringify({ ...payload, rights: ["admin"] })).toString("base64url");
    for (const bad of [`${head}.${forged}.${mac}`, `${made.token}x`, "nonsense", ""]) {
      const err = await failureOf(tokens.verify(bad));
      expect(isStrataError(err, "EACCES") && statusOf(err.code, err.details)).toBe(401);
    }
    const other = new TokenService(store, new Uint8Array(32).fill(8), () => now.t);
    expect(isStrataError(await failureOf(other.verify(made.token)), "EACCES")).toBe(true);

    now.t += 61_000;
    const expired = await failureOf(tokens.verify(made.token));
    expect(isStrataError(expired, "EACCES") && expired.message).toMatch(/expired/);

    now.t -= 61_000;
    await tokens.revoke(made.id);
    const revoked = await failureOf(tokens.verify(made.token));
    expect(isStrataError(revoked, "EACCES") && revoked.message).toMatch(/revoked/);
    expect((await tokens.list()).find((t) => t.id === made.id)?.revoked).toBe(true);
  });
});

describe("prefix authorisation", () => {
  const principal = (prefix: string, rights: Principal["rights"] = ["read"]): Principal => ({
    tokenId: "t",
    pfs: "p",
    prefix,
    rights,
    expiresAt: Date.parse("2100-01-01T00:00:00Z"),
  });

  it("covers the prefix and below, never a sibling with the same start", () => {
    expect(pathWithin("/a", "/a")).toBe(true);
    expect(pathWithin("/a/", "/a")).toBe(true);
    expect(pathWithin("/a/b/c", "/a/")).toBe(true);
    expect(pathWithin("/ab", "/a")).toBe(false);
    expect(pathWithin("/", "/a")).toBe(false);
  });

  it("`..` and `.` are resolved before the check and cannot escape", () => {
    expect(pathWithin("/a/../b", "/a")).toBe(false);
    expect(pathWithin("/a/b/../../a/c", "/a")).toBe(true);
    expect(pathWithin("/a/./x", "/a")).toBe(true);
    expect(pathWithin("/a/../../../a2", "/a")).toBe(false);
    // Percent-encoding is not decoded by the engine: "%2e%2e" is a literal name inside /a.
    expect(pathWithin("/a/%2e%2e/b", "/a")).toBe(true);
    expect(() => checkPaths(principal("/a"), ["/a/x", "/a/../etc"])).toThrow(/outside/);
    expect(() => checkPaths(principal("/a"), ["/a//x/"])).not.toThrow();
  });

  it("a token only issues tokens inside its own scope", () => {
    const admin = principal("/a", ["admin"]);
    const later = admin.expiresAt + 1;
    expect(() => checkMayIssue(admin, { pfs: "p", prefix: "/a/b", rights: ["write"] }, 0)).not.toThrow();
    expect(() => checkMayIssue(admin, { pfs: "q", prefix: "/a", rights: ["read"] }, 0)).toThrow(/PFS/);
    expect(() => checkMayIssue(admin, { pfs: "p", prefix: "/ab", rights: ["read"] }, 0)).toThrow(/outside/);
    expect(() => checkMayIssue(admin, { pfs: "p", prefix: "/a", rights: ["read"] }, later)).toThrow(
      /outlive/,
    );
    expect(() => checkMayIssue(principal("/", ["write"]), { pfs: "p", rights: ["read"] }, 0)).toThrow(
      /admin/,
    );
  });
});
