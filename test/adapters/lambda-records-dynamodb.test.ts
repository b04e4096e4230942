/**
 * The Lambdas over the volume records (runtime/lambda.ts): the API handler and the
 * schedules' deps on DynamoDB Local, configured only by the environment the stacks set. A volume
 * added through the API is the schedules' volume too, and the placement operations work.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type LambdaWorld, lambdaWorld } from "../support/lambda.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

describe("Lambdas over the volume records (DynamoDB Local)", () => {
  let world: LambdaWorld | undefined;
  afterAll(async () => {
    await world?.dispose();
  });

  it("volume.add through the API handler reaches the schedules' volumes; objectives work; local volumes have no URLs there", {
    timeout: 60_000,
  }, async (ctx) => {
    if (!endpoint)
      return ctx.skip("the dynamodb stand-in was not started (STRATA_STANDINS excludes dynamodb)");
    world = await lambdaWorld(endpoint, "lambda-records", { pfs: "default", defaultVolume: "disk" });
    const { dir } = world;
    const call = world.api;
    const { lambdaDeps } = await import("../../runtime/lambda.ts");

    expect(await (await lambdaDeps()).volumes.handles()).toEqual({});
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
    expect(Object.keys(await (await lambdaDeps()).volumes.handles())).toEqual(["disk"]);

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
