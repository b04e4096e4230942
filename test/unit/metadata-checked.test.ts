/**
 * The checked MetadataStore wrapper (core/metadata/checked.ts): bad input never reaches a driver
 * and is never counted; requests are counted once (by the wrapper, or by a driver that counts its
 * own attempts); cursors round-trip and keep their format. Counter-check: the same bad input
 * handed to a driver directly is accepted, so it is the wrapper that refuses it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isStrataError } from "../../core/errors.ts";
import {
  CheckedMetadataStore,
  type DriverPage,
  type DriverQuery,
  decodeCursor,
  encodeCursor,
} from "../../core/metadata/checked.ts";
import { MemoryMetadataDriver } from "../../core/metadata/memory-store.ts";
import {
  type Condition,
  emptyRequestCounts,
  type Item,
  type Key,
  type MetadataStore,
  type RequestKind,
  type TransactOp,
} from "../../core/metadata/port.ts";

const SEED = 15_015;

/** A memory driver that records every call it receives. */
class RecordingDriver extends MemoryMetadataDriver {
  readonly calls: string[] = [];
  override get(key: Key) {
    this.calls.push("get");
    return super.get(key);
  }
  override put(item: Item, condition: Condition | undefined) {
    this.calls.push("put");
    return super.put(item, condition);
  }
  override delete(key: Key, condition: Condition | undefined) {
    this.calls.push("delete");
    return super.delete(key, condition);
  }
  override transact(ops: TransactOp[], token: string | undefined) {
    this.calls.push("transact");
    return super.transact(ops, token);
  }
  override transactGet(keys: Key[]) {
    this.calls.push("transactGet");
    return super.transactGet(keys);
  }
  override batchGet(keys: Key[]) {
    this.calls.push("batchGet");
    return super.batchGet(keys);
  }
  override query(pk: string, query: DriverQuery): DriverPage {
    this.calls.push("query");
    return super.query(pk, query);
  }
}

const long = (n: number) => "k".repeat(n);

/** Requests the port refuses before sending anything, each as a call on a store. */
const BAD: Array<[string, (s: MetadataStore) => Promise<unknown>, "EINVAL" | "E2BIG"]> = [
  ["get with an empty pk", (s) => s.get({ pk: "", sk: "a" }), "EINVAL"],
  ["get with a lone surrogate", (s) => s.get({ pk: "p", sk: "\uD800" }), "EINVAL"],
  ["get with a 1,025-byte sk", (s) => s.get({ pk: "p", sk: long(1025) }), "E2BIG"],
  ["put of an item over 400 KB", (s) => s.put({ pk: "p", sk: "a", v: long(400 * 1024) }), "E2BIG"],
  ["put of a non-finite number", (s) => s.put({ pk: "p", sk: "a", v: Number.NaN }), "EINVAL"],
  [
    "put with a boolean ordering condition",
    (s) => s.put({ pk: "p", sk: "a" }, { condition: { op: "lt", attr: "x", value: true } }),
    "EINVAL",
  ],
  ["update of the sort key", (s) => s.update({ pk: "p", sk: "a" }, { set: { sk: "b" } }), "EINVAL"],
  [
    "delete with an empty and",
    (s) => s.delete({ pk: "p", sk: "a" }, { condition: { op: "and", of: [] } }),
    "EINVAL",
  ],
  ["an empty transaction", (s) => s.transact([]), "EINVAL"],
  [
    "a transaction of 101 ops",
    (s) =>
      s.transact(Array.from({ length: 101 }, (_, i) => ({ kind: "put", item: { pk: "p", sk: `k${i}` } }))),
    "E2BIG",
  ],
  [
    "a transaction touching one item twice",
    (s) =>
      s.transact([
        { kind: "put", item: { pk: "p", sk: "a" } },
        { kind: "delete", key: { pk: "p", sk: "a" } },
      ]),
    "EINVAL",
  ],
  [
    "a transaction token with a space",
    (s) => s.transact([{ kind: "put", item: { pk: "p", sk: "a" } }], { token: "a b" }),
    "EINVAL",
  ],
  [
    "a transactGet of a repeated key",
    (s) =>
      s.transactGet([
        { pk: "p", sk: "a" },
        { pk: "p", sk: "a" },
      ]),
    "EINVAL",
  ],
  ["a batchGet with an empty sk", (s) => s.batchGet([{ pk: "p", sk: "" }]), "EINVAL"],
  ["a query with limit 0", (s) => s.query("p", { limit: 0 }), "EINVAL"],
  ["a query with a foreign cursor", (s) => s.query("p", { cursor: "bm90IG91cnM=" }), "EINVAL"],
  [
    "a query between high and low",
    (s) => s.query("p", { sk: { op: "between", low: "b", high: "a" } }),
    "EINVAL",
  ],
];

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (err) {
    return isStrataError(err) ? err.code : String(err);
  }
}

describe("checked MetadataStore wrapper: validation", () => {
  it("refuses each bad request with its code, without calling the driver or counting a request", async () => {
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray(BAD, { minLength: 1 }), async (cases) => {
        const driver = new RecordingDriver();
        const store = new CheckedMetadataStore(driver);
        for (const [, call, code] of cases) expect(await codeOf(call(store))).toBe(code);
        expect(driver.calls).toEqual([]);
        expect(store.requestCounts()).toEqual(emptyRequestCounts());
      }),
      { seed: SEED, numRuns: 50 },
    );
  });

  it("counter-check: a driver without the wrapper accepts the same bad input", async () => {
    const driver = new MemoryMetadataDriver();
    driver.put({ pk: "", sk: "" }, undefined);
    driver.put({ pk: "p", sk: "a", v: Number.NaN }, undefined);
    driver.transact(
      [
        { kind: "put", item: { pk: "p", sk: "b" } },
        { kind: "delete", key: { pk: "p", sk: "b" } },
      ],
      "a b",
    );
    expect(driver.get({ pk: "", sk: "" })).toEqual({ pk: "", sk: "" });
    expect(driver.get({ pk: "p", sk: "a" })).toEqual({ pk: "p", sk: "a", v: Number.NaN });
    // The same calls through the wrapper are refused.
    const store = new CheckedMetadataStore(new MemoryMetadataDriver());
    expect(await codeOf(store.put({ pk: "", sk: "" }))).toBe("EINVAL");
    expect(await codeOf(store.put({ pk: "p", sk: "a", v: Number.NaN }))).toBe("EINVAL");
  });
});

describe("checked MetadataStore wrapper: request counting", () => {
  it("counts one request per call and one BatchGetItem per 100 keys", async () => {
    const store = new CheckedMetadataStore(new MemoryMetadataDriver());
    await store.put({ pk: "p", sk: "a" });
    await store.get({ pk: "p", sk: "a" });
    await store.query("p");
    await store.batchGet(Array.from({ length: 250 }, (_, i) => ({ pk: "p", sk: `k${i}` })));
    // A failed condition is still a request sent.
    expect(await codeOf(store.delete({ pk: "p", sk: "a" }, { condition: { op: "notExists" } }))).toBe(
      "ECONFLICT",
    );
    expect(store.requestCounts()).toEqual({
      ...emptyRequestCounts(),
      PutItem: 1,
      GetItem: 1,
      Query: 1,
      BatchGetItem: 3,
      DeleteItem: 1,
    });
  });

  it("leaves counting to a driver that counts its own attempts, without counting twice", async () => {
    class RetryingDriver extends MemoryMetadataDriver {
      private count: (kind: RequestKind) => void = () => {};
      countRequestsWith(count: (kind: RequestKind) => void): void {
        this.count = count;
      }
      override get(key: Key) {
        this.count("GetItem"); // a throttled attempt
        this.count("GetItem"); // the retry that succeeded
        return super.get(key);
      }
    }
    const store = new CheckedMetadataStore(new RetryingDriver());
    await store.get({ pk: "p", sk: "a" });
    expect(store.requestCounts()).toEqual({ ...emptyRequestCounts(), GetItem: 2 });
    store.resetRequestCounts();
    await store.get({ pk: "p", sk: "a" });
    expect(store.requestCounts().GetItem).toBe(2);
  });
});

describe("checked MetadataStore wrapper: cursors", () => {
  const sortKey = fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 });

  it("round-trips every sort key through a cursor, in the format the stores always wrote", () => {
    fc.assert(
      fc.property(sortKey, (sk) => {
        const cursor = encodeCursor(sk);
        expect(decodeCursor(cursor)).toBe(sk);
        // base64 of the UTF-8 JSON {"sk": …}: cursors handed out before this wrapper still decode.
        expect(cursor).toBe(Buffer.from(JSON.stringify({ sk }), "utf8").toString("base64"));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it("pages a query through the driver's sort keys", async () => {
    const store = new CheckedMetadataStore(new MemoryMetadataDriver());
    for (const sk of ["a", "é", "😀"]) await store.put({ pk: "p", sk });
    const first = await store.query("p", { limit: 2 });
    expect(first.items.map((i) => i.sk)).toEqual(["a", "é"]);
    expect(decodeCursor(first.cursor!)).toBe("é");
    const rest = await store.query("p", { cursor: first.cursor! });
    expect(rest).toEqual({ items: [{ pk: "p", sk: "😀" }] });
  });

  it("refuses text that is not a cursor", () => {
    for (const text of ["", "garbage", btoa("{}"), btoa('{"sk":""}'), btoa("\xff\xfe")])
      expect(() => decodeCursor(text)).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });
});
