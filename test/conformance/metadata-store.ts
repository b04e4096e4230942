/**
 * The MetadataStore conformance suite: DynamoDB's semantics as core/metadata/port.ts states them,
 * run against every adapter (memory, SQLite, DynamoDB Local). A backend test file is three lines:
 *
 *   testMetadataStore("sqlite", async () => { const store = …; return { store, dispose } });
 *
 * Each test gets a fresh store from `makeStore` (an empty table). When the fixture also offers
 * `reopen`, the racing tests use a second handle on the same data (a second SQLite connection on
 * the same file, a second DynamoDB client on the same table) to race writers across connections.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isStrataError, type StrataError } from "../../core/errors.ts";
import {
  type CancellationReason,
  type Condition,
  emptyRequestCounts,
  IDEMPOTENCY_WINDOW_MS,
  type Item,
  type Key,
  LIMITS,
  type MetadataStore,
  type QueryOptions,
  type RequestCounts,
  type SortKeyCondition,
  type TransactOp,
  type Value,
} from "../../core/metadata/port.ts";
import { compareUtf8, itemSize } from "../../core/metadata/values.ts";
import { failureOf } from "../support/errors.ts";

export interface MetadataStoreFixture {
  store: MetadataStore;
  /** Another store on the same data (optional); used to race writers across connections. */
  reopen?: () => Promise<MetadataStore>;
  /** Move the store's clock forward (stores whose clock is injectable), for the token window. */
  advanceClock?: (ms: number) => void;
  dispose(): Promise<void>;
}

function total(counts: RequestCounts): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function counts(partial: Partial<RequestCounts>): RequestCounts {
  return { ...emptyRequestCounts(), ...partial };
}

/** Every page of a query, following cursors (an empty last page is allowed, as DynamoDB sends one). */
async function allPages(store: MetadataStore, pk: string, options: QueryOptions = {}): Promise<Item[][]> {
  const pages: Item[][] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const page = await store.query(pk, { ...options, ...(cursor === undefined ? {} : { cursor }) });
    pages.push(page.items);
    if (page.cursor === undefined) return pages;
    cursor = page.cursor;
  }
  throw new Error("query never ended");
}

const sks = (items: Item[]) => items.map((i) => i.sk);

export function testMetadataStore(backend: string, makeStore: () => Promise<MetadataStoreFixture>): void {
  describe(`metadata store conformance: ${backend}`, () => {
    let fixture: MetadataStoreFixture;
    let store: MetadataStore;
    const extra: MetadataStore[] = [];

    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
    });
    afterEach(async () => {
      for (const s of extra.splice(0)) await s.close();
      await fixture.dispose();
    });

    /** Fails `promise` must, with `code`, and without sending any request. */
    async function rejectsBeforeAnyRequest(promise: Promise<unknown>, code: string): Promise<StrataError> {
      store.resetRequestCounts();
      const err = await failureOf(promise);
      expect(err.code).toBe(code);
      expect(store.requestCounts()).toEqual(emptyRequestCounts());
      return err;
    }

    describe("get / put / delete", () => {
      it("returns undefined for a missing item and the item after a put", async () => {
        expect(await store.get({ pk: "p", sk: "a" })).toBeUndefined();
        await store.put({ pk: "p", sk: "a", n: 1, s: "x" });
        expect(await store.get({ pk: "p", sk: "a" })).toEqual({ pk: "p", sk: "a", n: 1, s: "x" });
      });

      it("replaces the whole item on put", async () => {
        await store.put({ pk: "p", sk: "a", n: 1, old: "gone" });
        await store.put({ pk: "p", sk: "a", n: 2 });
        expect(await store.get({ pk: "p", sk: "a" })).toEqual({ pk: "p", sk: "a", n: 2 });
      });

      it("round-trips every value type, nested, with bytes, unicode and empty strings", async () => {
        const item: Item = {
          pk: "p/ü/😀",
          sk: "s\u0001\uFFFD😀",
          empty: "",
          unicode: "naïve — 日本語 — 😀 — \uFFFD",
          int: 42,
          negative: -7,
          float: 0.1,
          big: Number.MAX_SAFE_INTEGER,
          tiny: 1.5e-10,
          huge: 1.25e125,
          negativeTiny: -2.5e-130,
          zero: 0,
          yes: true,
          no: false,
          nothing: null,
          bytes: new Uint8Array([0, 1, 2, 253, 254, 255]),
          noBytes: new Uint8Array(0),
          list: [1, "two", null, true, new Uint8Array([9]), [3, [4]], { k: "v" }],
          emptyList: [],
          map: {
            a: 1,
            nested: { deeper: { list: ["x", { y: false }] } },
            "\u0000tricky": "name",
          },
          emptyMap: {},
        };
        await store.put(item);
        const back = await store.get(item);
        expect(back).toEqual(item);
        expect(back?.bytes).toBeInstanceOf(Uint8Array);
        expect((back!.list as Value[])[4]).toBeInstanceOf(Uint8Array);
        const page = await store.query(item.pk);
        expect(page.items).toEqual([item]);
        expect(await store.batchGet([item])).toEqual([item]);
        expect(await store.transactGet([item])).toEqual([item]);
      });

      it("returns copies: changing a returned item does not change the store", async () => {
        await store.put({ pk: "p", sk: "a", list: [1] });
        const got = await store.get({ pk: "p", sk: "a" });
        (got!.list as number[]).push(2);
        expect(await store.get({ pk: "p", sk: "a" })).toEqual({ pk: "p", sk: "a", list: [1] });
      });

      it("deletes, and deleting a missing item succeeds", async () => {
        await store.put({ pk: "p", sk: "a" });
        await store.delete({ pk: "p", sk: "a" });
        expect(await store.get({ pk: "p", sk: "a" })).toBeUndefined();
        await store.delete({ pk: "p", sk: "a" });
      });

      it("refuses a conditional put with ECONFLICT carrying the current item, and writes nothing", async () => {
        await store.put({ pk: "p", sk: "a", v: 1 }, { condition: { op: "notExists" } });
        const err = await failureOf(
          store.put({ pk: "p", sk: "a", v: 2 }, { condition: { op: "notExists" } }),
        );
        expect(err.code).toBe("ECONFLICT");
        expect(err.details.item).toEqual({ pk: "p", sk: "a", v: 1 });
        expect(await store.get({ pk: "p", sk: "a" })).toEqual({ pk: "p", sk: "a", v: 1 });
      });

      it("reports details.item undefined when the conflicting item is absent", async () => {
        const err = await failureOf(store.put({ pk: "p", sk: "a" }, { condition: { op: "exists" } }));
        expect(err.code).toBe("ECONFLICT");
        expect(err.details.item).toBeUndefined();
        expect(await store.get({ pk: "p", sk: "a" })).toBeUndefined();
      });

      it("refuses a conditional delete with ECONFLICT carrying the item, and keeps it", async () => {
        await store.put({ pk: "p", sk: "a", v: 1 });
        const err = await failureOf(
          store.delete({ pk: "p", sk: "a" }, { condition: { op: "eq", attr: "v", value: 2 } }),
        );
        expect(err.code).toBe("ECONFLICT");
        expect(err.details.item).toEqual({ pk: "p", sk: "a", v: 1 });
        expect(await store.get({ pk: "p", sk: "a" })).toEqual({ pk: "p", sk: "a", v: 1 });
        await store.delete({ pk: "p", sk: "a" }, { condition: { op: "eq", attr: "v", value: 1 } });
        expect(await store.get({ pk: "p", sk: "a" })).toBeUndefined();
      });
    });

    describe("conditions (DynamoDB's rules)", () => {
      const present: Item = { pk: "c", sk: "-", n: 5, s: "m", t: true, astral: "😀", fffd: "\uFFFD" };
      // [name, item present?, condition, holds]
      const cases: Array<[string, boolean, Condition, boolean]> = [
        ["exists on a present item", true, { op: "exists" }, true],
        ["exists on a missing item", false, { op: "exists" }, false],
        ["notExists on a present item", true, { op: "notExists" }, false],
        ["notExists on a missing item", false, { op: "notExists" }, true],
        ["attrExists on a present attribute", true, { op: "attrExists", attr: "n" }, true],
        ["attrExists on a missing attribute", true, { op: "attrExists", attr: "zz" }, false],
        ["attrExists on a missing item", false, { op: "attrExists", attr: "n" }, false],
        ["attrNotExists on a present attribute", true, { op: "attrNotExists", attr: "n" }, false],
        ["attrNotExists on a missing attribute", true, { op: "attrNotExists", attr: "zz" }, true],
        ["attrNotExists on a missing item", false, { op: "attrNotExists", attr: "n" }, true],
        ["eq number", true, { op: "eq", attr: "n", value: 5 }, true],
        ["eq number, other value", true, { op: "eq", attr: "n", value: 6 }, false],
        ["ne number", true, { op: "ne", attr: "n", value: 6 }, true],
        ["ne number, same value", true, { op: "ne", attr: "n", value: 5 }, false],
        ["lt number", true, { op: "lt", attr: "n", value: 6 }, true],
        ["lt number, equal", true, { op: "lt", attr: "n", value: 5 }, false],
        ["le number, equal", true, { op: "le", attr: "n", value: 5 }, true],
        ["gt number", true, { op: "gt", attr: "n", value: 4 }, true],
        ["gt number, equal", true, { op: "gt", attr: "n", value: 5 }, false],
        ["ge number, equal", true, { op: "ge", attr: "n", value: 5 }, true],
        ["ge number, larger", true, { op: "ge", attr: "n", value: 5.5 }, false],
        ["eq string", true, { op: "eq", attr: "s", value: "m" }, true],
        ["lt string", true, { op: "lt", attr: "s", value: "n" }, true],
        ["gt string", true, { op: "gt", attr: "s", value: "l" }, true],
        [
          "gt string compares UTF-8 bytes: astral > U+FFFD",
          true,
          { op: "gt", attr: "astral", value: "\uFFFD" },
          true,
        ],
        [
          "lt string compares UTF-8 bytes: U+FFFD < astral",
          true,
          { op: "lt", attr: "fffd", value: "😀" },
          true,
        ],
        ["eq boolean", true, { op: "eq", attr: "t", value: true }, true],
        ["eq boolean, other value", true, { op: "eq", attr: "t", value: false }, false],
        ["ne boolean", true, { op: "ne", attr: "t", value: false }, true],
        ["eq with a type mismatch is false", true, { op: "eq", attr: "n", value: "5" }, false],
        ["ne with a type mismatch is true", true, { op: "ne", attr: "n", value: "5" }, true],
        ["lt with a type mismatch is false", true, { op: "lt", attr: "s", value: 100 }, false],
        ["ge with a type mismatch is false", true, { op: "ge", attr: "n", value: "0" }, false],
        ["eq on a missing attribute is false", true, { op: "eq", attr: "zz", value: 1 }, false],
        ["ne on a missing attribute is true", true, { op: "ne", attr: "zz", value: 1 }, true],
        ["lt on a missing attribute is false", true, { op: "lt", attr: "zz", value: 1 }, false],
        ["ne on a missing item is true", false, { op: "ne", attr: "n", value: 1 }, true],
        ["eq on a missing item is false", false, { op: "eq", attr: "n", value: 5 }, false],
        [
          "and of true and true",
          true,
          {
            op: "and",
            of: [{ op: "exists" }, { op: "eq", attr: "n", value: 5 }],
          },
          true,
        ],
        [
          "and of true and false",
          true,
          {
            op: "and",
            of: [{ op: "exists" }, { op: "eq", attr: "n", value: 6 }],
          },
          false,
        ],
        [
          "or of false and true",
          true,
          {
            op: "or",
            of: [
              { op: "eq", attr: "n", value: 6 },
              { op: "eq", attr: "s", value: "m" },
            ],
          },
          true,
        ],
        [
          "or of false and false",
          false,
          {
            op: "or",
            of: [{ op: "exists" }, { op: "eq", attr: "s", value: "m" }],
          },
          false,
        ],
        ["not of false", true, { op: "not", of: { op: "eq", attr: "n", value: 6 } }, true],
        ["not of true", true, { op: "not", of: { op: "attrExists", attr: "n" } }, false],
        [
          "nested and / or / not",
          true,
          {
            op: "and",
            of: [
              { op: "or", of: [{ op: "notExists" }, { op: "ge", attr: "n", value: 5 }] },
              { op: "not", of: { op: "attrExists", attr: "deleted" } },
            ],
          },
          true,
        ],
      ];

      it.each(cases)("%s", async (_name, exists, condition, holds) => {
        if (exists) await store.put(present);
        const result = await store.delete(present, { condition }).then(
          () => true,
          (err: unknown) => {
            if (isStrataError(err, "ECONFLICT")) return false;
            throw err;
          },
        );
        expect(result).toBe(holds);
        // A failed condition left the item as it was; a passed one deleted it.
        expect(await store.get(present)).toEqual(exists && !holds ? present : undefined);
      });

      it("evaluates the same condition kinds in transactions (check op)", async () => {
        await store.put(present);
        await store.transact([
          { kind: "check", key: present, condition: { op: "ne", attr: "zz", value: 1 } },
        ]);
        const err = await failureOf(
          store.transact([{ kind: "check", key: present, condition: { op: "eq", attr: "n", value: "5" } }]),
        );
        expect(err.code).toBe("ECONFLICT");
      });
    });

    describe("update", () => {
      it("creates a missing item and returns the item after the update", async () => {
        const after = await store.update(
          { pk: "p", sk: "u" },
          { set: { a: "x", m: { k: [1] } }, add: { n: 3 } },
        );
        expect(after).toEqual({ pk: "p", sk: "u", a: "x", m: { k: [1] }, n: 3 });
        expect(await store.get({ pk: "p", sk: "u" })).toEqual(after);
      });

      it("ADD on a missing attribute starts from 0, and adds to an existing number", async () => {
        await store.put({ pk: "p", sk: "u", keep: "k" });
        expect(await store.update({ pk: "p", sk: "u" }, { add: { n: 0 } })).toEqual({
          pk: "p",
          sk: "u",
          keep: "k",
          n: 0,
        });
        expect((await store.update({ pk: "p", sk: "u" }, { add: { n: 2.5 } })).n).toBe(2.5);
        expect((await store.update({ pk: "p", sk: "u" }, { add: { n: -1 } })).n).toBe(1.5);
      });

      it("SETs, REMOVEs and ADDs in one request and keeps other attributes", async () => {
        await store.put({ pk: "p", sk: "u", a: 1, b: 2, c: 3, n: 10 });
        const after = await store.update(
          { pk: "p", sk: "u" },
          { set: { a: "one", d: new Uint8Array([1]) }, remove: ["b", "missing"], add: { n: 5 } },
        );
        expect(after).toEqual({ pk: "p", sk: "u", a: "one", c: 3, d: new Uint8Array([1]), n: 15 });
      });

      it("ADD to a string attribute is EINVAL and changes nothing", async () => {
        await store.put({ pk: "p", sk: "u", s: "text" });
        const err = await failureOf(store.update({ pk: "p", sk: "u" }, { add: { s: 1 } }));
        expect(err.code).toBe("EINVAL");
        expect(await store.get({ pk: "p", sk: "u" })).toEqual({ pk: "p", sk: "u", s: "text" });
      });

      it("a failed condition is ECONFLICT with the current item, and nothing changes", async () => {
        await store.put({ pk: "p", sk: "u", version: 2 });
        const err = await failureOf(
          store.update(
            { pk: "p", sk: "u" },
            { set: { version: 3 } },
            { condition: { op: "eq", attr: "version", value: 1 } },
          ),
        );
        expect(err.code).toBe("ECONFLICT");
        expect(err.details.item).toEqual({ pk: "p", sk: "u", version: 2 });
        expect(await store.get({ pk: "p", sk: "u" })).toEqual({ pk: "p", sk: "u", version: 2 });
      });

      it("an update with condition exists does not create a missing item", async () => {
        const err = await failureOf(
          store.update({ pk: "p", sk: "u" }, { set: { a: 1 } }, { condition: { op: "exists" } }),
        );
        expect(err.code).toBe("ECONFLICT");
        expect(err.details.item).toBeUndefined();
        expect(await store.get({ pk: "p", sk: "u" })).toBeUndefined();
      });

      it("refuses to change pk or sk, empty updates and repeated attributes, before any request", async () => {
        await rejectsBeforeAnyRequest(store.update({ pk: "p", sk: "u" }, { set: { pk: "q" } }), "EINVAL");
        await rejectsBeforeAnyRequest(store.update({ pk: "p", sk: "u" }, { remove: ["sk"] }), "EINVAL");
        await rejectsBeforeAnyRequest(store.update({ pk: "p", sk: "u" }, {}), "EINVAL");
        await rejectsBeforeAnyRequest(
          store.update({ pk: "p", sk: "u" }, { set: { a: 1 }, remove: ["a"] }),
          "EINVAL",
        );
      });

      it("an update that grows the item past the size limit is E2BIG and changes nothing", async () => {
        const half = "x".repeat(LIMITS.itemBytes / 2);
        await store.put({ pk: "p", sk: "u", a: half });
        const err = await failureOf(store.update({ pk: "p", sk: "u" }, { set: { b: half } }));
        expect(err.code).toBe("E2BIG");
        expect(await store.get({ pk: "p", sk: "u" })).toEqual({ pk: "p", sk: "u", a: half });
      });
    });

    describe("limits and bad input", () => {
      it("accepts an item just under the size limit and refuses a larger one with E2BIG, before any request", async () => {
        const fits: Item = { pk: "p", sk: "big", blob: new Uint8Array(LIMITS.itemBytes - 1024) };
        expect(itemSize(fits)).toBeLessThan(LIMITS.itemBytes);
        await store.put(fits);
        expect((await store.get(fits))?.blob).toEqual(fits.blob);
        const tooBig: Item = { pk: "p", sk: "big2", blob: new Uint8Array(LIMITS.itemBytes + 1) };
        await rejectsBeforeAnyRequest(store.put(tooBig), "E2BIG");
        await rejectsBeforeAnyRequest(store.transact([{ kind: "put", item: tooBig }]), "E2BIG");
      });

      it("accepts keys at their byte limits and refuses longer ones with E2BIG", async () => {
        // "é" is 2 UTF-8 bytes: limits count bytes, not characters.
        const pk = "é".repeat(LIMITS.pkBytes / 2);
        const sk = "é".repeat(LIMITS.skBytes / 2);
        await store.put({ pk, sk, v: 1 });
        expect(await store.get({ pk, sk })).toEqual({ pk, sk, v: 1 });
        expect((await store.query(pk)).items).toHaveLength(1);
        await rejectsBeforeAnyRequest(store.put({ pk: `${pk}x`, sk: "a" }), "E2BIG");
        await rejectsBeforeAnyRequest(store.get({ pk: "p", sk: `${sk}x` }), "E2BIG");
      });

      it("refuses bad input with EINVAL before sending any request", async () => {
        const bad = (value: unknown) => ({ pk: "p", sk: "a", v: value }) as unknown as Item;
        await rejectsBeforeAnyRequest(store.get({ pk: "", sk: "a" }), "EINVAL");
        await rejectsBeforeAnyRequest(store.get({ pk: "p", sk: "" }), "EINVAL");
        await rejectsBeforeAnyRequest(store.put({ pk: "", sk: "a" }), "EINVAL");
        await rejectsBeforeAnyRequest(store.put({ pk: 7, sk: "a" } as unknown as Item), "EINVAL");
        await rejectsBeforeAnyRequest(store.put(bad(Number.NaN)), "EINVAL");
        await rejectsBeforeAnyRequest(store.put(bad(Number.POSITIVE_INFINITY)), "EINVAL");
        // DynamoDB's numbers: 38 digits, magnitudes 1e-130 ..< 1e126.
        await rejectsBeforeAnyRequest(store.put(bad(1e126)), "EINVAL");
        await rejectsBeforeAnyRequest(store.put(bad([-1e-131])), "EINVAL");
        await rejectsBeforeAnyRequest(store.put(bad({ ok: { "": 1 } })), "EINVAL");
        // A lone surrogate has no UTF-8 form: refused in keys, values and names.
        await rejectsBeforeAnyRequest(store.put(bad("a\uD800b")), "EINVAL");
        await rejectsBeforeAnyRequest(store.put(bad({ "\uDC00": 1 })), "EINVAL");
        await rejectsBeforeAnyRequest(store.get({ pk: "p", sk: "\uD83D" }), "EINVAL");
        await rejectsBeforeAnyRequest(store.put(bad(() => 1)), "EINVAL");
        await rejectsBeforeAnyRequest(store.put(bad(new Date())), "EINVAL");
        await rejectsBeforeAnyRequest(store.put(bad(new Map())), "EINVAL");
        await rejectsBeforeAnyRequest(store.put(bad(10n)), "EINVAL");
        await rejectsBeforeAnyRequest(store.put(bad(undefined)), "EINVAL");
        await rejectsBeforeAnyRequest(store.put(bad({ nested: [Symbol("s")] })), "EINVAL");
        await rejectsBeforeAnyRequest(
          store.update({ pk: "p", sk: "a" }, { add: { n: Number.NaN } }),
          "EINVAL",
        );
        await rejectsBeforeAnyRequest(
          store.update({ pk: "p", sk: "a" }, { set: { f: (() => 1) as unknown as Value } }),
          "EINVAL",
        );
        await rejectsBeforeAnyRequest(
          store.put({ pk: "p", sk: "a" }, { condition: { op: "eq", attr: "", value: 1 } }),
          "EINVAL",
        );
        await rejectsBeforeAnyRequest(
          store.put(
            { pk: "p", sk: "a" },
            { condition: { op: "eq", attr: "a", value: null } as unknown as Condition },
          ),
          "EINVAL",
        );
        await rejectsBeforeAnyRequest(
          store.put({ pk: "p", sk: "a" }, { condition: { op: "and", of: [] } }),
          "EINVAL",
        );
        // DynamoDB refuses ordering comparisons on booleans.
        await rejectsBeforeAnyRequest(
          store.put({ pk: "p", sk: "a" }, { condition: { op: "lt", attr: "a", value: true } }),
          "EINVAL",
        );
        await rejectsBeforeAnyRequest(store.query(""), "EINVAL");
        await rejectsBeforeAnyRequest(store.query("p", { limit: 0 }), "EINVAL");
        await rejectsBeforeAnyRequest(store.query("p", { limit: 1.5 }), "EINVAL");
        await rejectsBeforeAnyRequest(store.query("p", { cursor: "not a cursor" }), "EINVAL");
        await rejectsBeforeAnyRequest(store.query("p", { sk: { op: "beginsWith", value: "" } }), "EINVAL");
        await rejectsBeforeAnyRequest(
          store.query("p", { sk: { op: "between", low: "b", high: "a" } }),
          "EINVAL",
        );
        await rejectsBeforeAnyRequest(
          store.batchGet([
            { pk: "p", sk: "a" },
            { pk: "", sk: "b" },
          ]),
          "EINVAL",
        );
        await rejectsBeforeAnyRequest(store.transactGet([]), "EINVAL");
        await rejectsBeforeAnyRequest(store.transact([]), "EINVAL");
        expect(await store.get({ pk: "p", sk: "a" })).toBeUndefined();
      });
    });

    describe("transact", () => {
      const keyOf = (i: number): Item => ({ pk: "t", sk: `k${String(i).padStart(3, "0")}` });

      it("applies 100 ops in one TransactWriteItems", async () => {
        store.resetRequestCounts();
        await store.transact(
          Array.from({ length: 100 }, (_, i) => ({ kind: "put", item: { ...keyOf(i), i } })),
        );
        expect(store.requestCounts()).toEqual(counts({ TransactWriteItems: 1 }));
        const page = await store.query("t");
        expect(page.items).toHaveLength(100);
        expect(page.items[99]).toEqual({ ...keyOf(99), i: 99 });
      });

      it("refuses 101 ops with E2BIG before any request", async () => {
        const ops: TransactOp[] = Array.from({ length: 101 }, (_, i) => ({ kind: "put", item: keyOf(i) }));
        await rejectsBeforeAnyRequest(store.transact(ops), "E2BIG");
        expect((await store.query("t")).items).toEqual([]);
      });

      it("refuses two ops on the same item with EINVAL before any request", async () => {
        await rejectsBeforeAnyRequest(
          store.transact([
            { kind: "put", item: keyOf(1) },
            { kind: "update", key: keyOf(2), update: { add: { n: 1 } } },
            { kind: "delete", key: keyOf(1) },
          ]),
          "EINVAL",
        );
        expect((await store.query("t")).items).toEqual([]);
      });

      it("applies put, update, delete and check together", async () => {
        await store.put({ ...keyOf(2), n: 1, s: "keep" });
        await store.put({ ...keyOf(3) });
        await store.put({ ...keyOf(4), state: "ready" });
        await store.transact([
          { kind: "put", item: { ...keyOf(1), v: "new" }, condition: { op: "notExists" } },
          {
            kind: "update",
            key: keyOf(2),
            update: { add: { n: 1 }, set: { t: true } },
            condition: { op: "exists" },
          },
          { kind: "delete", key: keyOf(3), condition: { op: "exists" } },
          { kind: "check", key: keyOf(4), condition: { op: "eq", attr: "state", value: "ready" } },
          { kind: "update", key: keyOf(5), update: { add: { n: 7 } } },
        ]);
        expect(await store.batchGet([1, 2, 3, 4, 5].map(keyOf))).toEqual([
          { ...keyOf(1), v: "new" },
          { ...keyOf(2), n: 2, s: "keep", t: true },
          undefined,
          { ...keyOf(4), state: "ready" },
          { ...keyOf(5), n: 7 },
        ]);
      });

      it("is all-or-nothing: when op k's condition fails nothing is applied, failedIndex = k, reasons[k] holds the item", async () => {
        await store.put({ ...keyOf(3), version: 9 });
        await store.put({ ...keyOf(0), n: 1 });
        const ops: TransactOp[] = [
          { kind: "update", key: keyOf(0), update: { add: { n: 1 } } },
          { kind: "put", item: { ...keyOf(1), v: 1 } },
          { kind: "delete", key: keyOf(2) },
          {
            kind: "update",
            key: keyOf(3),
            update: { set: { version: 10 } },
            condition: { op: "eq", attr: "version", value: 8 },
          },
          { kind: "put", item: { ...keyOf(4), v: 4 }, condition: { op: "notExists" } },
        ];
        store.resetRequestCounts();
        const err = await failureOf(store.transact(ops));
        expect(err.code).toBe("ECONFLICT");
        expect(err.details.failedIndex).toBe(3);
        const reasons = err.details.reasons as Array<CancellationReason | null>;
        expect(reasons).toHaveLength(5);
        expect(reasons[3]?.code).toBe("ConditionalCheckFailed");
        expect(reasons[3]?.item).toEqual({ ...keyOf(3), version: 9 });
        for (const i of [0, 1, 2, 4]) expect(reasons[i]).toBeNull();
        expect(store.requestCounts()).toEqual(counts({ TransactWriteItems: 1 }));
        expect(await store.batchGet([0, 1, 3, 4].map(keyOf))).toEqual([
          { ...keyOf(0), n: 1 },
          undefined,
          { ...keyOf(3), version: 9 },
          undefined,
        ]);
      });

      it("reports every failed op, the first as failedIndex, and a missing item as no item", async () => {
        await store.put({ ...keyOf(2), v: 1 });
        const err = await failureOf(
          store.transact([
            { kind: "put", item: keyOf(0) },
            { kind: "check", key: keyOf(1), condition: { op: "exists" } },
            { kind: "put", item: keyOf(2), condition: { op: "notExists" } },
          ]),
        );
        expect(err.details.failedIndex).toBe(1);
        const reasons = err.details.reasons as Array<CancellationReason | null>;
        expect(reasons[0]).toBeNull();
        expect(reasons[1]?.code).toBe("ConditionalCheckFailed");
        expect(reasons[1]?.item).toBeUndefined();
        expect(reasons[2]?.code).toBe("ConditionalCheckFailed");
        expect(reasons[2]?.item).toEqual({ ...keyOf(2), v: 1 });
        expect(await store.get(keyOf(0))).toBeUndefined();
      });

      it("an update op that ADDs to a string is EINVAL and nothing is applied", async () => {
        await store.put({ ...keyOf(1), s: "text" });
        const err = await failureOf(
          store.transact([
            { kind: "put", item: keyOf(0) },
            { kind: "update", key: keyOf(1), update: { add: { s: 1 } } },
          ]),
        );
        expect(err.code).toBe("EINVAL");
        expect(await store.get(keyOf(0))).toBeUndefined();
      });

      it("an update op that grows its item past the size limit is E2BIG and nothing is applied", async () => {
        const big = "x".repeat(LIMITS.itemBytes / 2);
        await store.put({ ...keyOf(1), a: big });
        const err = await failureOf(
          store.transact([
            { kind: "put", item: keyOf(0) },
            { kind: "update", key: keyOf(1), update: { set: { b: big } } },
          ]),
        );
        expect(err.code).toBe("E2BIG");
        expect(await store.get(keyOf(0))).toBeUndefined();
        expect(await store.get(keyOf(1))).toEqual({ ...keyOf(1), a: big });
      });

      it("transactGet reads up to 100 items in order, missing ones undefined", async () => {
        await store.put({ ...keyOf(1), v: 1 });
        await store.put({ ...keyOf(3), v: 3 });
        store.resetRequestCounts();
        expect(await store.transactGet([keyOf(3), keyOf(2), keyOf(1)])).toEqual([
          { ...keyOf(3), v: 3 },
          undefined,
          { ...keyOf(1), v: 1 },
        ]);
        expect(store.requestCounts()).toEqual(counts({ TransactGetItems: 1 }));
        const hundred = await store.transactGet(Array.from({ length: 100 }, (_, i) => keyOf(i)));
        expect(hundred.filter(Boolean)).toHaveLength(2);
        await rejectsBeforeAnyRequest(
          store.transactGet(Array.from({ length: 101 }, (_, i) => keyOf(i))),
          "EINVAL",
        );
        await rejectsBeforeAnyRequest(store.transactGet([keyOf(1), keyOf(1)]), "EINVAL");
      });
    });

    describe("transaction tokens (ClientRequestToken)", () => {
      const k = (sk: string): Key => ({ pk: "tok", sk });
      const bump = (token: string, by = 1): Promise<void> =>
        store.transact(
          [
            { kind: "update", key: k("n"), update: { add: { n: by } } },
            { kind: "put", item: { ...k("p"), by } },
          ],
          { token },
        );

      it("a re-send of a committed transaction with its token succeeds without applying it again", async () => {
        await bump("tok-1");
        store.resetRequestCounts();
        await bump("tok-1");
        await bump("tok-1");
        expect(store.requestCounts()).toEqual(counts({ TransactWriteItems: 2 }));
        expect(await store.get(k("n"))).toEqual({ ...k("n"), n: 1 });
      });

      it("a token reused with different ops is EINVAL (idempotency mismatch) and applies nothing", async () => {
        await bump("tok-2");
        const err = await failureOf(bump("tok-2", 5));
        expect(err.code).toBe("EINVAL");
        expect(err.details.idempotency).toBe("mismatch");
        expect(await store.get(k("n"))).toEqual({ ...k("n"), n: 1 });
        expect(await store.get(k("p"))).toEqual({ ...k("p"), by: 1 });
      });

      it("without a token, or with another token, the same ops apply again", async () => {
        await bump("tok-3");
        await bump("tok-4");
        await store.transact([{ kind: "update", key: k("n"), update: { add: { n: 1 } } }]);
        expect(await store.get(k("n"))).toEqual({ ...k("n"), n: 3 });
      });

      it("a cancelled transaction does not keep its token: the re-send is evaluated again", async () => {
        const guarded = () =>
          store.transact(
            [
              { kind: "check", key: k("gate"), condition: { op: "exists" } },
              { kind: "update", key: k("n"), update: { add: { n: 1 } } },
            ],
            { token: "tok-5" },
          );
        expect((await failureOf(guarded())).code).toBe("ECONFLICT");
        await store.put({ ...k("gate") });
        await guarded();
        await guarded();
        expect(await store.get(k("n"))).toEqual({ ...k("n"), n: 1 });
      });

      it("refuses a malformed token with EINVAL before any request", async () => {
        const op: TransactOp[] = [{ kind: "put", item: { ...k("x") } }];
        await rejectsBeforeAnyRequest(store.transact(op, { token: "x".repeat(37) }), "EINVAL");
        await rejectsBeforeAnyRequest(store.transact(op, { token: "" }), "EINVAL");
        await rejectsBeforeAnyRequest(store.transact(op, { token: "with space" }), "EINVAL");
        expect(await store.get(k("x"))).toBeUndefined();
      });

      it("forgets a token after the 10-minute window (stores with a settable clock)", async (ctx) => {
        if (!fixture.advanceClock)
          return ctx.skip("this backend's clock cannot be moved (DynamoDB's window is 10 real minutes)");
        await bump("tok-6");
        fixture.advanceClock(IDEMPOTENCY_WINDOW_MS - 1);
        await bump("tok-6");
        expect(await store.get(k("n"))).toEqual({ ...k("n"), n: 1 });
        fixture.advanceClock(1);
        await bump("tok-6");
        expect(await store.get(k("n"))).toEqual({ ...k("n"), n: 2 });
      });

      it("two handles on the same data share the tokens (a re-send may reach another connection)", async (ctx) => {
        if (!fixture.reopen) return ctx.skip("this backend has no second handle");
        const other = await fixture.reopen();
        extra.push(other);
        await bump("tok-7");
        await other.transact(
          [
            { kind: "update", key: k("n"), update: { add: { n: 1 } } },
            { kind: "put", item: { ...k("p"), by: 1 } },
          ],
          { token: "tok-7" },
        );
        expect(await store.get(k("n"))).toEqual({ ...k("n"), n: 1 });
      });
    });

    describe("batchGet", () => {
      it("returns 250 keys in the order asked, missing ones undefined, in 3 BatchGetItem requests", async () => {
        const keys: Key[] = Array.from({ length: 250 }, (_, i) => ({ pk: `b${i % 3}`, sk: `k${i}` }));
        const present = keys.filter((_, i) => i % 4 !== 0);
        for (let i = 0; i < present.length; i += 100)
          await store.transact(
            present.slice(i, i + 100).map((k) => ({ kind: "put", item: { ...k, v: k.sk } })),
          );
        // Reverse order, so "in the order asked" is not an accident of storage order.
        const asked = [...keys].reverse();
        store.resetRequestCounts();
        const got = await store.batchGet(asked);
        expect(store.requestCounts()).toEqual(counts({ BatchGetItem: 3 }));
        expect(got).toHaveLength(250);
        got.forEach((item, i) => {
          const key = asked[i]!;
          const n = Number(key.sk.slice(1));
          expect(item).toEqual(n % 4 === 0 ? undefined : { ...key, v: key.sk });
        });
      });

      it("answers repeated keys and an empty list", async () => {
        await store.put({ pk: "b", sk: "a", v: 1 });
        expect(
          await store.batchGet([
            { pk: "b", sk: "a" },
            { pk: "b", sk: "x" },
            { pk: "b", sk: "a" },
          ]),
        ).toEqual([{ pk: "b", sk: "a", v: 1 }, undefined, { pk: "b", sk: "a", v: 1 }]);
        store.resetRequestCounts();
        expect(await store.batchGet([])).toEqual([]);
        expect(store.requestCounts()).toEqual(emptyRequestCounts());
      });
    });

    describe("query", () => {
      const keys = ["a", "b", "ba", "bab", "bb", "c", "d"];
      beforeEach(async () => {
        await store.transact([
          ...keys.map((sk): TransactOp => ({ kind: "put", item: { pk: "q", sk, v: sk } })),
          { kind: "put", item: { pk: "q2", sk: "b" } },
          { kind: "put", item: { pk: "q ", sk: "b" } },
          { kind: "put", item: { pk: "Q", sk: "b" } },
        ]);
      });

      it("returns one partition in sort-key order, isolated from others", async () => {
        store.resetRequestCounts();
        const page = await store.query("q");
        expect(sks(page.items)).toEqual(keys);
        expect(page.items[0]).toEqual({ pk: "q", sk: "a", v: "a" });
        expect(page.cursor).toBeUndefined();
        expect(store.requestCounts()).toEqual(counts({ Query: 1 }));
        expect((await store.query("nothing-here")).items).toEqual([]);
      });

      const conditions: Array<[SortKeyCondition, string[]]> = [
        [{ op: "eq", value: "ba" }, ["ba"]],
        [{ op: "eq", value: "bc" }, []],
        [{ op: "lt", value: "ba" }, ["a", "b"]],
        [{ op: "le", value: "ba" }, ["a", "b", "ba"]],
        [{ op: "gt", value: "bb" }, ["c", "d"]],
        [{ op: "ge", value: "bb" }, ["bb", "c", "d"]],
        [{ op: "beginsWith", value: "b" }, ["b", "ba", "bab", "bb"]],
        [{ op: "beginsWith", value: "ba" }, ["ba", "bab"]],
        [{ op: "beginsWith", value: "e" }, []],
        [{ op: "between", low: "b", high: "bb" }, ["b", "ba", "bab", "bb"]],
        [{ op: "between", low: "aa", high: "bz" }, ["b", "ba", "bab", "bb"]],
        [{ op: "between", low: "c", high: "c" }, ["c"]],
      ];
      it.each(conditions)("sort-key condition %o, forward and reverse", async (sk, expected) => {
        expect(sks((await store.query("q", { sk })).items)).toEqual(expected);
        expect(sks((await store.query("q", { sk, reverse: true })).items)).toEqual([...expected].reverse());
      });

      it("pages with limit and cursor, forward and reverse, with and without a sort-key condition", async () => {
        for (const reverse of [false, true]) {
          for (const limit of [1, 2, 3, 7, 8]) {
            const pages = await allPages(store, "q", { limit, reverse });
            for (const page of pages) expect(page.length).toBeLessThanOrEqual(limit);
            expect(pages.filter((p) => p.length > 0)).toHaveLength(Math.ceil(keys.length / limit));
            expect(sks(pages.flat())).toEqual(reverse ? [...keys].reverse() : keys);
          }
          const prefixed = await allPages(store, "q", {
            limit: 1,
            reverse,
            sk: { op: "beginsWith", value: "b" },
          });
          const expected = ["b", "ba", "bab", "bb"];
          expect(sks(prefixed.flat())).toEqual(reverse ? expected.reverse() : expected);
        }
        const first = await store.query("q", { limit: 3 });
        expect(sks(first.items)).toEqual(["a", "b", "ba"]);
        expect(first.cursor).toEqual(expect.any(String));
      });

      it("orders by UTF-8 bytes: astral characters after U+FFFD, as compareUtf8 says", async () => {
        const odd = ["\uFFFD", "😀", "\uE000", "z", "é", "\u0001", "~", "\uD7FF", "𐀀", "A", "a😀", "a\uFFFD"];
        await store.transact(odd.map((sk): TransactOp => ({ kind: "put", item: { pk: "u", sk } })));
        const expected = [...odd].sort(compareUtf8);
        expect(expected.indexOf("😀")).toBeGreaterThan(expected.indexOf("\uFFFD"));
        expect(sks((await store.query("u")).items)).toEqual(expected);
        expect(sks((await store.query("u", { reverse: true })).items)).toEqual([...expected].reverse());
        expect(sks(await allPages(store, "u", { limit: 5 }).then((p) => p.flat()))).toEqual(expected);
        expect(sks((await store.query("u", { sk: { op: "gt", value: "\uFFFD" } })).items)).toEqual(
          expected.filter((s) => compareUtf8(s, "\uFFFD") > 0),
        );
        expect(sks((await store.query("u", { sk: { op: "beginsWith", value: "a" } })).items)).toEqual([
          "a\uFFFD",
          "a😀",
        ]);
      });

      it("stops a page at 1 MB: ~3 MB of items take 3 pages", async () => {
        const blob = "x".repeat(100 * 1024);
        for (let i = 0; i < 30; i++)
          await store.put({ pk: "big", sk: `i${String(i).padStart(2, "0")}`, blob });
        store.resetRequestCounts();
        const pages = await allPages(store, "big");
        const nonEmpty = pages.filter((p) => p.length > 0);
        expect(nonEmpty).toHaveLength(3);
        expect(pages.flat()).toHaveLength(30);
        for (const page of nonEmpty) {
          const bytes = page.reduce((sum, item) => sum + itemSize(item), 0);
          expect(bytes - itemSize(page[page.length - 1]!)).toBeLessThan(LIMITS.queryPageBytes);
        }
        expect(store.requestCounts().Query).toBe(pages.length);
      });
    });

    describe("racing conditional writes", () => {
      async function contenders(n: number): Promise<MetadataStore[]> {
        const out: MetadataStore[] = [store];
        for (let i = 1; i < n; i++) {
          if (!fixture.reopen) out.push(store);
          else {
            const other = await fixture.reopen();
            extra.push(other);
            out.push(other);
          }
        }
        return out;
      }

      it("20 rounds of concurrent `add n=1 if version = v`: exactly one winner per round", async () => {
        const key = { pk: "race", sk: "r" };
        await store.put({ ...key, version: 0, n: 0 });
        const racers = await contenders(3);
        for (let round = 0; round < 20; round++) {
          const attempts = Array.from({ length: 6 }, (_, i) =>
            racers[i % racers.length]!.update(
              key,
              { add: { n: 1, version: 1 } },
              { condition: { op: "eq", attr: "version", value: round } },
            ),
          );
          const results = await Promise.allSettled(attempts);
          const won = results.filter((r) => r.status === "fulfilled");
          expect(won).toHaveLength(1);
          for (const r of results)
            if (r.status === "rejected") expect(isStrataError(r.reason, "ECONFLICT")).toBe(true);
        }
        expect(await store.get(key)).toEqual({ ...key, version: 20, n: 20 });
      });

      it("a counter incremented concurrently with version conditions never loses an increment", async () => {
        const key = { pk: "race", sk: "counter" };
        await store.put({ ...key, version: 0, n: 0 });
        const racers = await contenders(4);
        const perWorker = 8;
        await Promise.all(
          racers.map(async (s) => {
            for (let done = 0; done < perWorker; ) {
              const current = (await s.get(key))!;
              try {
                await s.update(
                  key,
                  { set: { version: (current.version as number) + 1 }, add: { n: 1 } },
                  { condition: { op: "eq", attr: "version", value: current.version as number } },
                );
                done++;
              } catch (err) {
                if (!isStrataError(err, "ECONFLICT")) throw err;
              }
            }
          }),
        );
        expect(await store.get(key)).toEqual({
          ...key,
          version: racers.length * perWorker,
          n: racers.length * perWorker,
        });
      });

      it("concurrent transactions on overlapping items keep a sum invariant", async () => {
        const a = { pk: "race", sk: "a" };
        const b = { pk: "race", sk: "b" };
        await store.transact([
          { kind: "put", item: { ...a, v: 100, version: 0 } },
          { kind: "put", item: { ...b, v: 100, version: 0 } },
        ]);
        const racers = await contenders(3);
        await Promise.all(
          racers.map(async (s, w) => {
            for (let done = 0; done < 5; ) {
              const [x, y] = await s.transactGet([a, b]);
              const move = w + 1;
              try {
                await s.transact([
                  {
                    kind: "update",
                    key: a,
                    update: { add: { v: -move, version: 1 } },
                    condition: { op: "eq", attr: "version", value: x!.version as number },
                  },
                  {
                    kind: "update",
                    key: b,
                    update: { add: { v: move, version: 1 } },
                    condition: { op: "eq", attr: "version", value: y!.version as number },
                  },
                ]);
                done++;
              } catch (err) {
                if (!isStrataError(err, "ECONFLICT")) throw err;
              }
            }
          }),
        );
        const [x, y] = await store.transactGet([a, b]);
        expect((x!.v as number) + (y!.v as number)).toBe(200);
        expect(x!.version).toBe(racers.length * 5);
        expect(y!.v).toBe(100 + 5 * ((racers.length * (racers.length + 1)) / 2));
      });
    });

    describe("request counters", () => {
      it("count each request by kind, failed ones included, and reset to zero", async () => {
        store.resetRequestCounts();
        await store.put({ pk: "r", sk: "a", n: 1 });
        await store.put({ pk: "r", sk: "a" }, { condition: { op: "notExists" } }).catch(() => undefined);
        await store.get({ pk: "r", sk: "a" });
        await store.update({ pk: "r", sk: "a" }, { add: { n: 1 } });
        await store.delete({ pk: "r", sk: "b" });
        await store.query("r");
        await store.query("r", { limit: 1 });
        await store.batchGet([{ pk: "r", sk: "a" }]);
        await store.transact([{ kind: "put", item: { pk: "r", sk: "c" } }]);
        await store.transactGet([{ pk: "r", sk: "c" }]);
        expect(store.requestCounts()).toEqual({
          GetItem: 1,
          PutItem: 2,
          UpdateItem: 1,
          DeleteItem: 1,
          Query: 2,
          BatchGetItem: 1,
          TransactWriteItems: 1,
          TransactGetItems: 1,
        });
        const snapshot = store.requestCounts();
        snapshot.GetItem = 99;
        expect(store.requestCounts().GetItem).toBe(1);
        store.resetRequestCounts();
        expect(store.requestCounts()).toEqual(emptyRequestCounts());
        expect(total(store.requestCounts())).toBe(0);
      });
    });
  });
}
