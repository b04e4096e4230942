/**
 * The table's TTL on DynamoDB Local: the table names `ttl` as its TTL attribute, and the items
 * that expire on their own (an intent, a TID lease, an engine idempotency record, a token) store
 * it as a Number of epoch seconds (DynamoDB ignores a TTL that is not a Number, and reads a
 * millisecond value as a date thousands of years away).
 */
import {
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, describe, expect, it } from "vitest";
import { memoryKeyRing } from "../../adapters/auth/keys.ts";
import { TokenService } from "../../adapters/auth/tokens.ts";
import { Intent } from "../../core/data/chunks.ts";
import { METADATA_TABLE } from "../../core/metadata/table.ts";
import { recordItem } from "../../core/namespace/idempotency.ts";
import { takeLease } from "../../core/retention/lease.ts";
import { dynamoDbLocalClientConfig } from "../../standins/dynamodb.ts";
import { type FreshDynamoDbStore, freshDynamoDbStore } from "../support/dynamodb.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");
const T0 = Date.parse("2030-01-01T00:00:00Z");

describe("TTL attribute on DynamoDB Local", () => {
  let table: FreshDynamoDbStore | undefined;
  afterAll(async () => {
    await table?.dispose();
  });

  it("the table's TTL is on `ttl`, and every expiring item stores it as a Number of epoch seconds", async (ctx) => {
    if (!endpoint) {
      console.info("[ttl-dynamodb] skipped: the dynamodb stand-in was not started (STRATA_STANDINS)");
      ctx.skip();
      return;
    }
    table = await freshDynamoDbStore(endpoint, "strata-ttl");
    const { store } = table;
    const client = new DynamoDBClient(dynamoDbLocalClientConfig(endpoint));
    const TableName = store.tableName;
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe("ttl");

    const intent = new Intent({
      store,
      pfs: "p",
      path: "/a",
      volumes: ["v"],
      ttlMs: 3600_000,
      clock: () => T0,
    });
    await intent.protect(["a".repeat(64)]);
    await takeLease(store, { id: "1", name: "p" }, "0000000000000001", { clock: () => T0 });
    await store.put(
      recordItem("1", { key: "k".repeat(16), fingerprint: "f" }, undefined, "0000000000000001", T0),
    );
    const created = await new TokenService(store, memoryKeyRing(), () => T0).create({
      pfs: "p",
      rights: ["read"],
    });

    const raw = async (pk: string, sk?: string) => {
      if (sk !== undefined)
        return (await client.send(new GetItemCommand({ TableName, Key: { pk: { S: pk }, sk: { S: sk } } })))
          .Item!;
      const q = await client.send(
        new QueryCommand({
          TableName,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": { S: pk } },
        }),
      );
      return q.Items![0]!;
    };
    const items = {
      intent: await raw("intent#p"),
      lease: await raw("ret#1"),
      idempotency: await raw(`idem#1#${"k".repeat(16)}`, "r"),
      token: await raw("tokens", created.id),
    };
    for (const [what, item] of Object.entries(items)) {
      const attr = item[METADATA_TABLE.ttlAttribute];
      expect(attr?.N, `${what}: ttl is a Number`).toBeDefined();
      const seconds = Number(attr!.N);
      expect(Number.isInteger(seconds), what).toBe(true);
      // Seconds: after T0 and within a few months of it (milliseconds would be ~1000× larger).
      expect(seconds, what).toBeGreaterThan(T0 / 1000);
      expect(seconds, what).toBeLessThan(T0 / 1000 + 400 * 24 * 3600);
    }
    client.destroy();
  });
});
