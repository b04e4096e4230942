/**
 * The WebDAV gateway's pure parts: the lock table (gateways/webdav/locks.ts) and the If header
 * parser (gateways/webdav/if-header.ts).
 *
 * Lock invariant, over random sequences of LOCK / UNLOCK / refresh / time passing on a small tree:
 * no two live locks whose resources overlap (one is the other's, or inside a depth-infinity one)
 * unless both are shared; and a change without tokens is refused exactly where a live lock
 * applies. Counter-check: without the conflict check the first half fails.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isStrataError } from "../../core/errors.ts";
import { parseIf, submittedTokens } from "../../gateways/webdav/if-header.ts";
import {
  type Lock,
  LockTable,
  timeoutFrom,
  UNSAFE_LOCK_SWITCHES,
  within,
} from "../../gateways/webdav/locks.ts";

const SEED = { seed: 20261207, numRuns: 300 };
const PATHS = ["/", "/a", "/a/b", "/a/b/c", "/a/d", "/e"];

type Step =
  | { op: "lock"; path: string; scope: "exclusive" | "shared"; depth: "0" | "infinity"; seconds: number }
  | { op: "unlock"; pick: number }
  | { op: "refresh"; pick: number; seconds: number }
  | { op: "wait"; seconds: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    op: fc.constant("lock" as const),
    path: fc.constantFrom(...PATHS),
    scope: fc.constantFrom("exclusive" as const, "shared" as const),
    depth: fc.constantFrom("0" as const, "infinity" as const),
    seconds: fc.integer({ min: 1, max: 100 }),
  }),
  fc.record({ op: fc.constant("unlock" as const), pick: fc.nat() }),
  fc.record({
    op: fc.constant("refresh" as const),
    pick: fc.nat(),
    seconds: fc.integer({ min: 1, max: 100 }),
  }),
  fc.record({ op: fc.constant("wait" as const), seconds: fc.integer({ min: 1, max: 60 }) }),
);

const overlap = (a: Lock, b: Lock) =>
  a.root === b.root ||
  (a.depth === "infinity" && within(b.root, a.root)) ||
  (b.depth === "infinity" && within(a.root, b.root));

/** Runs the steps; throws when the invariant breaks. */
function check(steps: Step[]): void {
  let now = 1_000_000;
  const table = new LockTable(() => now);
  const tokens: string[] = [];
  for (const s of steps) {
    if (s.op === "lock") {
      try {
        const l = table.acquire({
          root: s.path,
          scope: s.scope,
          depth: s.depth,
          owner: "",
          timeoutSeconds: s.seconds,
          principal: "p",
        });
        tokens.push(l.token);
      } catch (err) {
        if (!isStrataError(err, "ECONFLICT")) throw err;
      }
    } else if (s.op === "unlock" && tokens.length > 0) table.release(tokens[s.pick % tokens.length]!);
    else if (s.op === "refresh" && tokens.length > 0) {
      const l = table.get(tokens[s.pick % tokens.length]!);
      if (l) table.refresh(l, s.seconds);
    } else if (s.op === "wait") now += s.seconds * 1000;
    const live = tokens.map((t) => table.get(t)).filter((l): l is Lock => l !== undefined);
    for (const a of live)
      for (const b of live)
        if (a !== b && overlap(a, b) && (a.scope === "exclusive" || b.scope === "exclusive"))
          throw new Error(
            `conflicting locks ${a.scope} ${a.root} (${a.depth}) and ${b.scope} ${b.root} (${b.depth})`,
          );
    for (const p of PATHS) {
      const applies = live.some((l) => l.root === p || (l.depth === "infinity" && within(p, l.root)));
      if (table.blocking(p, new Set(), "p", false).length > 0 !== applies)
        throw new Error(`a change to ${p} without tokens: blocked ≠ locked`);
    }
  }
}

describe("lock table", () => {
  it("never holds two overlapping locks unless both are shared; a change without tokens is blocked exactly where a lock applies", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => check(steps)),
      SEED,
    );
  });

  it("counter-check: without the conflict check, overlapping exclusive locks appear", () => {
    UNSAFE_LOCK_SWITCHES.noConflictCheck = true;
    try {
      let failure: unknown;
      try {
        fc.assert(
          fc.property(fc.array(step, { maxLength: 40 }), (steps) => check(steps)),
          SEED,
        );
      } catch (err) {
        failure = err;
      }
      // fast-check reports the property's own error as the cause.
      expect(String((failure as Error | undefined)?.cause)).toMatch(/conflicting locks/);
    } finally {
      UNSAFE_LOCK_SWITCHES.noConflictCheck = false;
    }
  });

  it("a token is usable only by the principal that took the lock, and the holder of any shared lock may write", () => {
    const table = new LockTable(() => 0);
    const mine = table.acquire({
      root: "/a",
      scope: "shared",
      depth: "0",
      owner: "",
      timeoutSeconds: 60,
      principal: "me",
    });
    table.acquire({
      root: "/a",
      scope: "shared",
      depth: "0",
      owner: "",
      timeoutSeconds: 60,
      principal: "you",
    });
    expect(table.blocking("/a", new Set([mine.token]), "me", false)).toEqual([]);
    expect(table.blocking("/a", new Set([mine.token]), "you", false).length).toBeGreaterThan(0);
  });

  it("Timeout headers: seconds capped, Infinite → the cap, garbage → the default", () => {
    expect(timeoutFrom("Second-30")).toBe(30);
    expect(timeoutFrom("Infinite, Second-4100000000")).toBe(86_400);
    expect(timeoutFrom("Second-99999999")).toBe(86_400);
    expect(timeoutFrom("soon")).toBe(3600);
    expect(timeoutFrom(undefined)).toBe(3600);
  });
});

describe("If header", () => {
  it("parses untagged and tagged lists with Not, tokens and entity tags", () => {
    expect(parseIf('(<urn:uuid:1> ["e1"]) (Not <DAV:no-lock>)')).toEqual([
      {
        conditions: [
          { not: false, token: "urn:uuid:1" },
          { not: false, etag: '"e1"' },
        ],
      },
      { conditions: [{ not: true, token: "DAV:no-lock" }] },
    ]);
    expect(parseIf("<http://h/a/b> (<urn:uuid:2>)")).toEqual([
      { resource: "http://h/a/b", conditions: [{ not: false, token: "urn:uuid:2" }] },
    ]);
  });

  it("round-trips any header written from lists (property)", () => {
    const condition = fc.oneof(
      fc.record({ not: fc.boolean(), token: fc.stringMatching(/^[a-z:0-9-]{1,12}$/) }),
      fc.record({ not: fc.boolean(), etag: fc.stringMatching(/^"[a-z0-9-]{0,8}"$/) }),
    );
    const list = fc.record(
      {
        resource: fc.stringMatching(/^\/[a-z/]{0,8}$/),
        conditions: fc.array(condition, { minLength: 1, maxLength: 3 }),
      },
      { requiredKeys: ["conditions"] },
    );
    fc.assert(
      fc.property(fc.array(list, { minLength: 1, maxLength: 4 }), (lists) => {
        const text = lists
          .map((l) => {
            const conds = l.conditions
              .map((c) => `${c.not ? "Not " : ""}${"token" in c ? `<${c.token}>` : `[${c.etag}]`}`)
              .join(" ");
            return `${l.resource !== undefined ? `<${l.resource}> ` : ""}(${conds})`;
          })
          .join(" ");
        const parsed = parseIf(text);
        // A resource tag applies to the lists after it until the next tag.
        let tag: string | undefined;
        const expected = lists.map((l) => {
          if (l.resource !== undefined) tag = l.resource;
          return { ...(tag !== undefined ? { resource: tag } : {}), conditions: l.conditions };
        });
        expect(parsed).toEqual(expected);
        expect([...submittedTokens(parsed)].sort()).toEqual(
          [
            ...new Set(lists.flatMap((l) => l.conditions.flatMap((c) => ("token" in c ? [c.token] : [])))),
          ].sort(),
        );
      }),
      SEED,
    );
  });

  it("refuses malformed headers (EINVAL → 400)", () => {
    for (const bad of ["", "(", "()", "<a>", "(<a>", "([e)", "x"]) {
      expect(() => parseIf(bad), bad).toThrow(expect.objectContaining({ code: "EINVAL" }));
    }
  });
});
