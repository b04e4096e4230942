import { describe, expect, it } from "vitest";
import { ERROR_CODES, type ErrorCode } from "../../core/errors.ts";
import { checkMayIssue, checkPaths, type Principal, pathWithin } from "../../functions/api/auth.ts";
import { HTTP_STATUS, statusOf } from "../../functions/api/status-codes.ts";

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
