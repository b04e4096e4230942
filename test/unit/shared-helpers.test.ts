/**
 * The small helpers that were written several times and now live once in core/ (issue 15):
 * base64 (core/bytes.ts), UTF-8 length and order (core/text.ts), bounded concurrency
 * (core/concurrency.ts), operator durations (core/duration.ts), jittered retry pauses
 * (core/backoff.ts), hex (core/bytes.ts), groups of 100 (core/batches.ts) and the chunks a version
 * references (core/data/chunk-items.ts `chunkRefsOf`). Where the old copies behaved differently, the test pins the behaviour kept,
 * and a counter-check runs the property against a copy with the other behaviour and sees it fail.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type BackoffPolicy, backoffCeiling, backoffDelay } from "../../core/backoff.ts";
import { groupsOf } from "../../core/batches.ts";
import { base64ToBytes, bytesToBase64, randomHex, toHex } from "../../core/bytes.ts";
import { mapLimit } from "../../core/concurrency.ts";
import { crc32cFromBase64, crc32cToBase64 } from "../../core/crc32c.ts";
import { chunkRefsOf } from "../../core/data/chunk-items.ts";
import { peek } from "../../core/data/chunker.ts";
import { unreadableVerdict } from "../../core/data/chunks.ts";
import { ReadHealth } from "../../core/data/health.ts";
import { parseDurationMs } from "../../core/duration.ts";
import { isStrataError } from "../../core/errors.ts";
import { fromJsonValue, toJsonValue } from "../../core/mirror/format.ts";
import { compareUtf8, utf8Length, wellFormed } from "../../core/text.ts";

const SEED = { seed: 15_015, numRuns: 300 };

describe("base64 (core/bytes.ts): one codec for the wire form, mirror bundles and CRC32C headers", () => {
  it("encodes exactly as Node's Buffer does and decodes its own output back, for any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = bytesToBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString("base64"));
        expect(base64ToBytes(text)).toEqual(bytes);
        expect(base64ToBytes(text.replace(/=+$/, ""))).toEqual(bytes); // padding is optional
      }),
      SEED,
    );
  });

  it("refuses what is not standard base64 (the wire decoder's rules, kept): white space, URL-safe letters, inner '='", () => {
    // `atob` (the old mirror and CRC32C decoders) skipped white space; the wire decoder refused it.
    // The wire decoder is the one the HTTP API already applied to every request, so its rules stay.
    for (const bad of ["AA AA", "AA\nAA", "AA-_", "A=AA", "A"]) expect(base64ToBytes(bad)).toBeUndefined();
    expect(crc32cFromBase64("AAAAAA==")).toBe(0);
    expect(crc32cFromBase64(crc32cToBase64(0xdeadbeef))).toBe(0xdeadbeef);
    expect(crc32cFromBase64("AAAA")).toBeUndefined(); // 3 bytes, not 4
  });

  it("a mirror bundle with bytes that are not base64 is EINVAL (was a DOMException from atob)", () => {
    const good = toJsonValue({ v: new Uint8Array([1, 2, 3]) }) as { v: { $b: string } };
    expect(fromJsonValue(good)).toEqual({ v: new Uint8Array([1, 2, 3]) });
    let caught: unknown;
    try {
      fromJsonValue({ v: { $b: "not base64!" } });
    } catch (err) {
      caught = err;
    }
    expect(isStrataError(caught, "EINVAL")).toBe(true);
  });
});

describe("hex, groups and chunk references: one helper each", () => {
  it("toHex writes exactly Node's hex; randomHex gives 2n hex digits", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(toHex(bytes)).toBe(Buffer.from(bytes).toString("hex"));
      }),
      SEED,
    );
    expect(randomHex(8)).toMatch(/^[0-9a-f]{16}$/);
  });

  it("groupsOf keeps every item in order, in full groups of `size` but the last", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer(), { maxLength: 350 }),
        fc.integer({ min: 1, max: 120 }),
        (items, size) => {
          const groups = groupsOf(items, size);
          expect(groups.flat()).toEqual(items);
          expect(groups.every((g, i) => (i < groups.length - 1 ? g.length === size : g.length >= 1))).toBe(
            true,
          );
        },
      ),
      SEED,
    );
    expect(groupsOf(Array.from({ length: 250 }, (_, i) => i)).map((g) => g.length)).toEqual([100, 100, 50]);
  });

  it("chunkRefsOf reads a version's extents once each, in order; inline or no content references none", () => {
    const e = (chunk: string, length: number, crc32c: number) => ({ chunk, length, crc32c, offset: 0 });
    expect(
      chunkRefsOf({ content: { size: 3, extents: [e("b", 2, 7), e("a", 1, 9), e("b", 2, 7)] } }),
    ).toEqual([
      { chunk: "b", size: 2, crc32c: 7 },
      { chunk: "a", size: 1, crc32c: 9 },
    ]);
    expect(chunkRefsOf({ content: { size: 1, inline: new Uint8Array(1) } })).toEqual([]);
    expect(chunkRefsOf({})).toEqual([]);
    expect(chunkRefsOf(undefined)).toEqual([]);
  });
});

describe("unreadableVerdict (core/data/chunks.ts): the one answer when no copy of a chunk reads", () => {
  const codes = fc.array(fc.constantFrom("ENOENT", "ECORRUPT", "EUNAVAIL", "ETIMEDOUT", "EACCES"), {
    maxLength: 5,
  });
  /** What the embedded plane answered before (now the one rule; test/e2e/data-planes-agree.test.ts runs both planes). */
  const embeddedRule = (tried: string[]) =>
    tried.includes("ECORRUPT") ? "ECORRUPT" : tried.every((c) => c === "ENOENT") ? "EIO" : "EUNAVAIL";
  /** The remote plane's old copy: the last failure only, EIO only when the server listed no source. */
  const oldRemoteRule = (tried: string[]) =>
    tried.at(-1) === "ECORRUPT" ? "ECORRUPT" : tried.length === 0 ? "EIO" : "EUNAVAIL";

  it("ECORRUPT if any copy was corrupt, EIO if every copy tried was missing (or none), else EUNAVAIL — in any order", () => {
    fc.assert(
      fc.property(codes, (tried) => {
        expect(unreadableVerdict(tried)).toBe(embeddedRule(tried));
        expect(unreadableVerdict([...tried].reverse())).toBe(unreadableVerdict(tried));
      }),
      SEED,
    );
  });

  it("counter-check: the remote plane's old verdict fails the property", () => {
    const failed = fc.check(
      fc.property(codes, (tried) => oldRemoteRule(tried) === embeddedRule(tried)),
      SEED,
    );
    expect(failed.failed).toBe(true);
  });
});

describe("UTF-8 (core/text.ts)", () => {
  it("utf8Length equals the length TextEncoder writes, for any string (lone surrogates count as U+FFFD)", () => {
    const enc = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        expect(utf8Length(s)).toBe(enc.encode(s).length);
      }),
      SEED,
    );
  });

  it("counter-check: UTF-16 length is not the UTF-8 length (the property can fail)", () => {
    const enc = new TextEncoder();
    const wrong = (s: string) => s.length;
    expect(() =>
      fc.assert(
        fc.property(fc.string({ unit: "binary" }), (s) => {
          expect(wrong(s)).toBe(enc.encode(s).length);
        }),
        SEED,
      ),
    ).toThrow();
  });

  // The memory volume compared by encoding both keys; the metadata layer compared code units with
  // a surrogate rule. They agree on well-formed strings — the only ones keys may be — and the
  // encoding-free one is kept (no allocation per comparison).
  const byBytes = (a: string, b: string) =>
    Math.sign(Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));
  const wellFormedString = fc.string({ unit: "binary" }).filter(wellFormed);

  it("compareUtf8 orders well-formed strings as their UTF-8 bytes, astral characters included", () => {
    fc.assert(
      fc.property(wellFormedString, wellFormedString, (a, b) => {
        expect(Math.sign(compareUtf8(a, b))).toBe(byBytes(a, b));
      }),
      SEED,
    );
    expect(compareUtf8("\u{1F600}", "\uE000")).toBeGreaterThan(0);
  });

  it("counter-check: JavaScript's UTF-16 order disagrees (the property can fail)", () => {
    const utf16 = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    expect(utf16("\u{1F600}", "\uE000")).toBeLessThan(0);
    expect(() =>
      fc.assert(
        fc.property(wellFormedString, wellFormedString, (a, b) => {
          expect(utf16(a, b)).toBe(byBytes(a, b));
        }),
        { seed: 15_015, numRuns: 3000 },
      ),
    ).toThrow();
  });
});

type Limiter = <T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>) => Promise<R[]>;

/**
 * The property every copy was meant to have: at most `limit` at once, results in input order, no
 * call starts after a failure, the first failure is thrown, and only after every started call
 * settled. The calls finish one at a time in an order drawn from `picks` (each step lets every
 * microtask run, so the limiter has seen each outcome before the next call finishes).
 */
async function checkLimiter(
  limiter: Limiter,
  outcomes: Array<"ok" | "fail">,
  limit: number,
  picks: number[],
) {
  const events: string[] = [];
  const gates = new Map<number, () => void>();
  let peak = 0;
  const fn = async (i: number) => {
    events.push(`start ${i}`);
    peak = Math.max(peak, gates.size + 1);
    await new Promise<void>((resolve) => gates.set(i, resolve));
    events.push(`end ${i}`);
    if (outcomes[i] === "fail") throw new Error(`task ${i}`);
    return i * 10;
  };
  const flush = () => new Promise((resolve) => setImmediate(resolve));
  let settled: { values: number[] } | { error: unknown } | undefined;
  let runningAtSettle = -1;
  void limiter(
    outcomes.map((_, i) => i),
    limit,
    fn,
  ).then(
    (values) => {
      settled = { values };
      runningAtSettle = gates.size;
    },
    (error: unknown) => {
      settled = { error };
      runningAtSettle = gates.size;
    },
  );
  await flush();
  for (let step = 0; settled === undefined; step++) {
    const running = [...gates.keys()];
    expect(running.length).toBeGreaterThan(0); // else the limiter hangs
    const i = running[(picks[step % picks.length] ?? 0) % running.length]!;
    gates.get(i)!();
    gates.delete(i);
    await flush();
  }
  for (const release of gates.values()) release();
  expect(peak).toBeLessThanOrEqual(limit);
  expect(runningAtSettle).toBe(0); // nothing of ours still running when the caller goes on
  const firstEnd = events.find((e) => e.startsWith("end ") && outcomes[Number(e.slice(4))] === "fail");
  if (firstEnd === undefined) {
    expect(settled).toEqual({ values: outcomes.map((_, i) => i * 10) });
    return;
  }
  expect("error" in settled && (settled.error as Error).message).toBe(`task ${firstEnd.slice(4)}`);
  expect(events.slice(events.indexOf(firstEnd)).some((e) => e.startsWith("start"))).toBe(false);
}

const limiterCase = fc.tuple(
  fc.array(fc.constantFrom<"ok" | "fail">("ok", "ok", "ok", "fail"), { minLength: 1, maxLength: 12 }),
  fc.integer({ min: 1, max: 5 }),
  fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
);

describe("mapLimit (core/concurrency.ts): the one bounded-concurrency helper", () => {
  it("runs at most `limit` at once, keeps input order, throws the first failure only after every started call settled", async () => {
    await fc.assert(
      fc.asyncProperty(limiterCase, ([outcomes, limit, picks]) =>
        checkLimiter(mapLimit, outcomes, limit, picks),
      ),
      SEED,
    );
  });

  it("counter-check: the old upload.commit copy (rejects while calls still run) fails the property", async () => {
    // functions/api/ops/data.ts `inTurn` as it was: a worker rethrew, so Promise.all rejected at once.
    const inTurn = async <T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>) => {
      const results = new Array<R>(items.length); // (results added so only the timing differs)
      let next = 0;
      let failed = false;
      const worker = async () => {
        while (!failed && next < items.length) {
          const i = next++;
          try {
            results[i] = await fn(items[i]!);
          } catch (err) {
            failed = true;
            throw err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
      return results;
    };
    const run = await fc.check(
      fc.asyncProperty(limiterCase, ([outcomes, limit, picks]) =>
        checkLimiter(inTurn, outcomes, limit, picks),
      ),
      SEED,
    );
    expect(run.failed).toBe(true);
    // It fails on "nothing of ours still running when the caller goes on", nothing else.
    expect(String(run.errorInstance)).toMatch(/expected [1-9]\d* to be \+0/);
  });
});

describe("parseDurationMs (core/duration.ts): the CLI's --ttl and the local server's intervals", () => {
  it("reads a decimal number with an optional unit (none = seconds) and nothing else", () => {
    expect(parseDurationMs("90")).toBe(90_000);
    expect(parseDurationMs("90s")).toBe(90_000);
    expect(parseDurationMs("1.5m")).toBe(90_000);
    expect(parseDurationMs("2h")).toBe(7_200_000);
    expect(parseDurationMs("30d")).toBe(30 * 86_400_000);
    // Both old copies had these rules; trimming and case folding stay with the caller (the
    // schedules do both, the CLI neither).
    for (const bad of ["", " 90s", "90S", "-1", "1e3", "90 s", "1w", ".5s", "off"])
      expect(parseDurationMs(bad)).toBeUndefined();
  });
});

describe("backoffDelay (core/backoff.ts): every retry loop's pause, with its own numbers", () => {
  // Each old copy's formula, for the same draw of `random`: the unified helper must give the same pause.
  const copies: Array<{ name: string; policy: BackoffPolicy; old: (attempt: number, r: number) => number }> =
    [
      {
        name: "engine write loop",
        policy: { baseMs: 1, capMs: 200, jitter: "around" },
        old: (a, r) => Math.min(200, 2 ** a) * (0.5 + r),
      },
      {
        name: "data plane lost race",
        policy: { baseMs: 1, capMs: 100 },
        old: (a, r) => r * Math.min(2 ** a, 100),
      },
      {
        name: "DynamoDB adapter",
        policy: { baseMs: 25, capMs: 1_000 },
        old: (a, r) => r * Math.min(25 * 2 ** a, 1_000),
      },
      { name: "remote SDK call", policy: { baseMs: 25 }, old: (a, r) => r * 25 * 2 ** a },
      { name: "remote SDK append", policy: { baseMs: 20, growth: "linear" }, old: (a, r) => r * 20 * a },
      {
        name: "volume wrapper (50 ms, 2 s)",
        policy: { baseMs: 50, capMs: 2_000 },
        old: (a, r) => r * Math.min(2_000, 50 * 2 ** a),
      },
    ];

  it("gives each call site the pause its own copy gave, for any attempt and draw", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, r) => {
          for (const c of copies)
            expect(backoffDelay(attempt, c.policy, () => r)).toBeCloseTo(c.old(attempt, r), 9);
        },
      ),
      SEED,
    );
  });

  it("stays within its jitter band: full in [0, ceiling), around in [ceiling/2, 3·ceiling/2)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (a, r) => {
          const full: BackoffPolicy = { baseMs: 25, capMs: 1_000 };
          const around: BackoffPolicy = { ...full, jitter: "around" };
          const c = backoffCeiling(a, full);
          expect(c).toBeLessThanOrEqual(1_000);
          expect(backoffDelay(a, full, () => r)).toBeLessThanOrEqual(c); // (≤: rounding)
          expect(backoffDelay(a, around, () => r)).toBeGreaterThanOrEqual(c / 2);
          expect(backoffDelay(a, around, () => r)).toBeLessThanOrEqual((3 * c) / 2);
        },
      ),
      SEED,
    );
  });
});

describe("the data plane's pieces the remote SDK now shares (core/data/)", () => {
  it("ReadHealth counts what both old copies counted: failures within the window, of the last 64", () => {
    // The embedded plane kept the last 64 times and filtered by the window when ordering; the
    // remote SDK pruned by the window on each failure and kept the last 64. Same count.
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("a", "b"), fc.integer({ min: 0, max: 500 })), { maxLength: 200 }),
        fc.integer({ min: 1, max: 2_000 }),
        fc.integer({ min: 0, max: 3_000 }),
        (events, windowMs, after) => {
          let now = 0;
          const health = new ReadHealth(windowMs, () => now);
          const embedded = new Map<string, number[]>();
          const remote = new Map<string, number[]>();
          for (const [volume, gap] of events) {
            now += gap;
            health.failed(volume);
            const e = embedded.get(volume) ?? [];
            e.push(now);
            if (e.length > 64) e.shift();
            embedded.set(volume, e);
            const r = (remote.get(volume) ?? []).filter((t) => now - t < windowMs);
            r.push(now);
            remote.set(volume, r.slice(-64));
          }
          now += after;
          for (const volume of ["a", "b"]) {
            const want = (embedded.get(volume) ?? []).filter((t) => now - t < windowMs).length;
            expect(health.recent(volume)).toBe(want);
            expect((remote.get(volume) ?? []).filter((t) => now - t < windowMs).length).toBe(want);
          }
        },
      ),
      SEED,
    );
  });

  it("peek splits any body into at most limit + 1 bytes of head and the rest, losing and reordering nothing", async () => {
    const asStream = (pieces: Uint8Array[]) =>
      (async function* () {
        yield* pieces;
      })();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }),
        fc.integer({ min: 0, max: 100 }),
        fc.boolean(),
        async (pieces, limit, oneArray) => {
          const all = Buffer.concat(pieces);
          const body = oneArray ? new Uint8Array(all) : asStream(pieces);
          const { head, done, rest } = await peek(body, limit);
          expect(done).toBe(all.length <= limit);
          if (done) {
            expect(Buffer.from(head)).toEqual(all);
            return;
          }
          // A Uint8Array is not split (head is all of it); a stream gives just over `limit` first.
          const tail: Uint8Array[] = [];
          for await (const piece of rest) tail.push(piece);
          expect(Buffer.concat([head, ...tail])).toEqual(all);
          if (!oneArray) expect(head.length).toBeGreaterThan(limit);
        },
      ),
      SEED,
    );
  });
});
