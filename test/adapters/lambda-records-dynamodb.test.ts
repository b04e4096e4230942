/**
 * The Lambdas over the volume records (functions/workflow/deps.ts): the API handler and the
 * schedules' deps on DynamoDB Local, configured only by the environment the stacks set. A volume
 * added through the API is the schedules' volume too, and the placement operations work.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TokenService } from "../../adapters/auth/tokens.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { freshDynamoDbStore } from "../support/dynamodb.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

describe("Lambdas over the volume records (DynamoDB Local)", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it("volume.add through the API handler reaches the schedules' volumes; objectives work; local volumes have no URLs there", {
    timeout: 60_000,
  }, async (ctx) => {
    if (!endpoint)
      return ctx.skip("the dynamodb stand-in was not started (STRATA_STANDINS excludes dynamodb)");
    const table = await freshDynamoDbStore(endpoint, "strata-lambda-records");
    const dir = await mkdtemp(join(tmpdir(), "strata-lambda-records-"));
    cleanups.push(
      () => table.dispose(),
      () => rm(dir, { recursive: true, force: true }),
    );
    // What the stack sets, plus the SDK's endpoint override for DynamoDB Local (restored after).
    const saved = { ...process.env };
    cleanups.push(async () => {
      process.env = saved;
    });
    Object.assign(process.env, {
      STRATA_TABLE: table.store.tableName,
      STRATA_DEFAULT_VOLUME: "disk",
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "strataLocal",
      AWS_SECRET_ACCESS_KEY: "strataLocal",
    });
    delete process.env.STRATA_BUCKET;
    const token = (await (await TokenService.open(table.store)).create({ pfs: "*", rights: ["admin"] }))
      .token;
    await createNamespace({ store: table.store }).createPfs("default");

    const { handler } = await import("../../functions/api/lambda.ts");
    const { lambdaDeps } = await import("../../functions/schedule/lambda-deps.ts");
    const call = async (path: string, body: unknown) => {
      const r = await handler({
        rawPath: path,
        requestContext: { http: { method: "POST" } },
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: r.statusCode, body: JSON.parse(r.body) };
    };

    expect((await lambdaDeps()).volumes).toEqual({});
    const added = await call("/v1/ops/volume.add", {
      name: "disk",
      kind: "local",
      config: { root: join(dir, "disk") },
      site: "here",
    });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    const status = await call("/v1/ops/status", {});
    expect(status.body.volumes.map((v: { name: string }) => v.name)).toEqual(["disk"]);
    // The schedules see the new volume from the records (another container would within 5 s).
    expect(Object.keys((await lambdaDeps()).volumes)).toEqual(["disk"]);

    await call("/v1/pfs/default/ops/fs.mkdir", { path: "/show" });
    const set = await call("/v1/pfs/default/ops/objective.set", {
      path: "/show",
      text: "place 1 on volume:disk",
    });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    const explained = await call("/v1/pfs/default/ops/objective.explain", { path: "/show" });
    expect(explained.body.desired).toEqual(["disk"]);

    const begun = await call("/v1/pfs/default/ops/upload.begin", { path: "/show/a.bin" });
    expect(begun.body.volume).toBe("disk");
    const chunks = await call("/v1/pfs/default/ops/upload.chunks", {
      uploadId: begun.body.uploadId,
      chunks: [{ sha256: "a".repeat(64), size: 10, crc32c: 1 }],
    });
    expect(chunks.body.error?.code).toBe("ENOTSUP");
  });
});
