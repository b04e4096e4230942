/**
 * The DynamoDB adapter's behaviour where DynamoDB Local cannot take us: throttling, unprocessed
 * batch keys, transaction conflicts, missing tables, network failures. The SDK client is real;
 * its HTTP handler is a script of canned DynamoDB answers (no network).
 */
import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DynamoDbMetadataStore,
  fromAttributeValue,
  toAttributeValue,
} from "../../adapters/metadata/dynamodb.ts";
import { isStrataError, type StrataError } from "../../core/errors.ts";
import { emptyRequestCounts, type Value } from "../../core/metadata/port.ts";

interface Sent {
  target: string;
  body: Record<string, unknown>;
}

type Answer = { status: number; body: unknown } | Error;

/** A store whose client answers each request with the next scripted answer for its operation. */
function scripted(script: Record<string, Answer[]>, maxAttempts = 2) {
  const sent: Sent[] = [];
  const store = new DynamoDbMetadataStore({
    tableName: "T",
    maxRetries: 3,
    clientConfig: {
      region: "us-east-1",
      endpoint: "http://127.0.0.1:9",
      credentials: { accessKeyId: "fake", secretAccessKey: "fake" },
      maxAttempts,
      requestHandler: {
        async handle(request: { headers: Record<string, string>; body?: unknown }) {
          const target = String(request.headers["x-amz-target"]).split(".")[1]!;
          const raw =
            request.body instanceof Uint8Array ? Buffer.from(request.body).toString("utf8") : request.body;
          sent.push({ target, body: JSON.parse(typeof raw === "string" ? raw : "{}") });
          const answer = script[target]?.shift();
          if (answer === undefined) throw new Error(`unscripted ${target}`);
          if (answer instanceof Error) throw answer;
          return {
            response: {
              statusCode: answer.status,
              headers: { "content-type": "application/x-amz-json-1.0" },
              body: Readable.from([Buffer.from(JSON.stringify(answer.body))]),
            },
          };
        },
      },
    },
  });
  return { store, sent };
}

const error = (type: string, message: string, extra: Record<string, unknown> = {}): Answer => ({
  status: 400,
  body: { __type: `com.amazonaws.dynamodb.v20120810#${type}`, message, ...extra },
});

async function failure(promise: Promise<unknown>): Promise<StrataError> {
  try {
    await promise;
  } catch (err) {
    if (isStrataError(err)) return err;
    throw err;
  }
  throw new Error("expected a failure");
}

describe("DynamoDB adapter: values", () => {
  const value: fc.Arbitrary<Value> = fc.letrec<{ v: Value }>((tie) => ({
    v: fc.oneof(
      { depthSize: "small" },
      fc.string(),
      fc.integer(),
      fc
        .double({ noNaN: true, noDefaultInfinity: true, min: -1e100, max: 1e100 })
        .filter((n) => !Object.is(n, -0)),
      fc.boolean(),
      fc.constant(null),
      fc.uint8Array(),
      fc.array(tie("v"), { maxLength: 4 }),
      fc.dictionary(fc.string({ minLength: 1 }), tie("v"), { maxKeys: 4 }),
    ),
  })).v;

  it("round-trips every value through AttributeValues", () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(fromAttributeValue(toAttributeValue(v))).toEqual(v);
      }),
    );
  });

  it("maps each type to its DynamoDB type", () => {
    expect(toAttributeValue("s")).toEqual({ S: "s" });
    expect(toAttributeValue(1.5)).toEqual({ N: "1.5" });
    expect(toAttributeValue(true)).toEqual({ BOOL: true });
    expect(toAttributeValue(null)).toEqual({ NULL: true });
    expect(toAttributeValue(new Uint8Array([1]))).toEqual({ B: new Uint8Array([1]) });
    expect(toAttributeValue([1, { a: "x" }])).toEqual({ L: [{ N: "1" }, { M: { a: { S: "x" } } }] });
  });
});

describe("DynamoDB adapter: failures become StrataErrors", () => {
  it("retries throttling in the SDK, counts every attempt, then fails with ETHROTTLED", async () => {
    const { store, sent } = scripted({
      GetItem: [error("ThrottlingException", "slow down"), error("ThrottlingException", "slow down")],
    });
    const err = await failure(store.get({ pk: "p", sk: "s" }));
    expect(err.code).toBe("ETHROTTLED");
    expect(err.retryable).toBe(true);
    expect(sent).toHaveLength(2);
    expect(store.requestCounts()).toEqual({ ...emptyRequestCounts(), GetItem: 2 });
  });

  it("succeeds when a throttled request succeeds on the SDK's retry", async () => {
    const { store } = scripted({
      GetItem: [
        error("ProvisionedThroughputExceededException", "too fast"),
        { status: 200, body: { Item: { pk: { S: "p" }, sk: { S: "s" }, n: { N: "7" } } } },
      ],
    });
    expect(await store.get({ pk: "p", sk: "s" })).toEqual({ pk: "p", sk: "s", n: 7 });
    expect(store.requestCounts().GetItem).toBe(2);
  });

  it("says how to fix a missing table (EUNAVAIL)", async () => {
    const { store } = scripted({
      PutItem: [error("ResourceNotFoundException", "Requested resource not found")],
    });
    const err = await failure(store.put({ pk: "p", sk: "s" }));
    expect(err.code).toBe("EUNAVAIL");
    expect(err.message).toContain("table T does not exist: create it (npm start does) or fix the table name");
  });

  it("reports a ValidationException as EINVAL with DynamoDB's message", async () => {
    const { store } = scripted({
      Query: [error("ValidationException", "Invalid KeyConditionExpression: odd")],
    });
    const err = await failure(store.query("p"));
    expect(err.code).toBe("EINVAL");
    expect(err.message).toContain("Invalid KeyConditionExpression: odd");
  });

  it("reports an oversize update as E2BIG", async () => {
    const { store } = scripted({
      UpdateItem: [error("ValidationException", "Item size to update has exceeded the maximum allowed size")],
    });
    const err = await failure(store.update({ pk: "p", sk: "s" }, { set: { a: "x" } }));
    expect(err.code).toBe("E2BIG");
  });

  it("reports network failures as EUNAVAIL", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
    const { store } = scripted({ GetItem: [refused, refused] });
    const err = await failure(store.get({ pk: "p", sk: "s" }));
    expect(err.code).toBe("EUNAVAIL");
    expect(err.cause).toBeDefined();
  });

  it("turns a failed condition into ECONFLICT carrying the item DynamoDB returned", async () => {
    const { store, sent } = scripted({
      DeleteItem: [
        error("ConditionalCheckFailedException", "The conditional request failed", {
          Item: { pk: { S: "p" }, sk: { S: "s" }, v: { N: "2" } },
        }),
      ],
    });
    const err = await failure(
      store.delete({ pk: "p", sk: "s" }, { condition: { op: "eq", attr: "v", value: 1 } }),
    );
    expect(err.code).toBe("ECONFLICT");
    expect(err.details.item).toEqual({ pk: "p", sk: "s", v: 2 });
    expect(sent[0]!.body).toMatchObject({
      ConditionExpression: "#n0 = :v0",
      ExpressionAttributeNames: { "#n0": "v" },
      ExpressionAttributeValues: { ":v0": { N: "1" } },
      ReturnValuesOnConditionCheckFailure: "ALL_OLD",
    });
  });

  it("retries a single write that collided with a transaction, then succeeds", async () => {
    const { store } = scripted({
      PutItem: [
        error("TransactionConflictException", "Transaction is ongoing for the item"),
        { status: 200, body: {} },
      ],
    });
    await store.put({ pk: "p", sk: "s" });
    expect(store.requestCounts().PutItem).toBe(2);
  });

  it("reports TransactionConflict reasons of a cancelled transaction, with failedIndex", async () => {
    const { store } = scripted({
      TransactWriteItems: [
        error("TransactionCanceledException", "Transaction cancelled", {
          CancellationReasons: [{ Code: "None" }, { Code: "TransactionConflict", Message: "conflict" }],
        }),
      ],
    });
    const err = await failure(
      store.transact([
        { kind: "put", item: { pk: "p", sk: "a" } },
        { kind: "put", item: { pk: "p", sk: "b" } },
      ]),
    );
    expect(err.code).toBe("ECONFLICT");
    expect(err.details.failedIndex).toBe(1);
    expect(err.details.reasons).toEqual([null, { code: "TransactionConflict", message: "conflict" }]);
  });

  it("reports a cancelled transaction's ValidationError as EINVAL", async () => {
    const { store } = scripted({
      TransactWriteItems: [
        error("TransactionCanceledException", "Transaction cancelled", {
          CancellationReasons: [
            {
              Code: "ValidationError",
              Message: "An operand in the update expression has an incorrect data type",
            },
          ],
        }),
      ],
    });
    const err = await failure(
      store.transact([{ kind: "update", key: { pk: "p", sk: "a" }, update: { add: { s: 1 } } }]),
    );
    expect(err.code).toBe("EINVAL");
    expect(err.message).toContain("incorrect data type");
  });

  it("retries a transactGet that met a running transaction", async () => {
    const { store } = scripted({
      TransactGetItems: [
        error("TransactionCanceledException", "Transaction cancelled", {
          CancellationReasons: [{ Code: "TransactionConflict" }],
        }),
        { status: 200, body: { Responses: [{ Item: { pk: { S: "p" }, sk: { S: "a" } } }] } },
      ],
    });
    expect(await store.transactGet([{ pk: "p", sk: "a" }])).toEqual([{ pk: "p", sk: "a" }]);
    expect(store.requestCounts().TransactGetItems).toBe(2);
  });
});

describe("DynamoDB adapter: batchGet", () => {
  const item = (sk: string) => ({ pk: { S: "p" }, sk: { S: sk } });

  it("retries UnprocessedKeys, counts each request, and keeps the asked order", async () => {
    const { store, sent } = scripted({
      BatchGetItem: [
        {
          status: 200,
          body: { Responses: { T: [item("b")] }, UnprocessedKeys: { T: { Keys: [item("a")] } } },
        },
        { status: 200, body: { Responses: { T: [item("a")] } } },
      ],
    });
    const got = await store.batchGet([
      { pk: "p", sk: "a" },
      { pk: "p", sk: "missing" },
      { pk: "p", sk: "b" },
      { pk: "p", sk: "a" },
    ]);
    expect(got).toEqual([{ pk: "p", sk: "a" }, undefined, { pk: "p", sk: "b" }, { pk: "p", sk: "a" }]);
    expect(store.requestCounts().BatchGetItem).toBe(2);
    // Repeated keys are asked once (DynamoDB refuses duplicates); reads are consistent.
    expect(sent[0]!.body).toMatchObject({ RequestItems: { T: { ConsistentRead: true } } });
    expect((sent[0]!.body as { RequestItems: { T: { Keys: unknown[] } } }).RequestItems.T.Keys).toHaveLength(
      3,
    );
    expect((sent[1]!.body as { RequestItems: { T: { Keys: unknown[] } } }).RequestItems.T.Keys).toEqual([
      item("a"),
    ]);
  });

  it("gives up with ETHROTTLED after its bounded retries", async () => {
    const stuck = {
      status: 200,
      body: { Responses: { T: [] }, UnprocessedKeys: { T: { Keys: [item("a")] } } },
    };
    const { store } = scripted({ BatchGetItem: Array.from({ length: 10 }, () => stuck) });
    const err = await failure(store.batchGet([{ pk: "p", sk: "a" }]));
    expect(err.code).toBe("ETHROTTLED");
    expect(store.requestCounts().BatchGetItem).toBe(4); // 1 + maxRetries (3)
  });
});
