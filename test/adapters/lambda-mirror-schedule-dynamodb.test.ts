/**
 * The mirror schedule's Lambda handler (functions/mirror/schedule.ts) on DynamoDB Local,
 * configured only by the environment the stack sets: a mirror defined through the API handler
 * (`mirror.create`), a commit on its source, the schedule handler invoked once → the mirror's sync
 * TID advances and it holds the new file.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type LambdaWorld, lambdaWorld } from "../support/lambda.ts";
import { bytesOf } from "../support/mirror.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

describe("mirror schedule Lambda (DynamoDB Local)", () => {
  let world: LambdaWorld | undefined;
  afterAll(async () => {
    await world?.dispose();
  });

  it("one invocation runs every defined mirror and advances its sync TID", {
    timeout: 60_000,
  }, async (ctx) => {
    if (!endpoint)
      return ctx.skip("the dynamodb stand-in was not started (STRATA_STANDINS excludes dynamodb)");
    world = await lambdaWorld(endpoint, "lambda-mirror", { pfs: "main", defaultVolume: "disk" });
    const { dir } = world;
    const schedule = await import("../../functions/mirror/schedule.ts");
    const { cloudPlacement } = await import("../../runtime/lambda.ts");
    const call = async <T>(op: string, body: unknown): Promise<T> => {
      const r = await world!.api(`/v1/ops/${op}`, body);
      expect(r.status, `${op}: ${JSON.stringify(r.body)}`).toBe(200);
      return r.body as T;
    };
    const syncOf = async () =>
      (await call<{ mirrors: Array<{ name: string; sync: string }> }>("mirror.status", { name: "main-dr" }))
        .mirrors[0]!.sync;

    // A volume added at runtime is the mirror's volume; the mirror is defined in the table.
    await call("volume.add", { name: "disk", kind: "local", config: { root: join(dir, "disk") } });
    await call("mirror.create", { source: "main", target: "dr", name: "main-dr", volumes: ["disk"] });
    const before = await syncOf();

    // A commit on the source (through the Lambdas' own data plane).
    const p = await cloudPlacement();
    await p.data.writeFile(p.namespace.pfs("main"), "/a.bin", bytesOf(20_000, 5));

    const out = await schedule.handler({}, { getRemainingTimeInMillis: () => 120_000 });
    expect(out.mirrors).toMatchObject([{ name: "main-dr", report: { mode: "incremental", from: before } }]);
    const after = await syncOf();
    expect(after > before, `sync ${after} after ${before}`).toBe(true);
    expect(out.mirrors[0]!.report!.to).toBe(after);
    expect(await p.data.readFile(p.namespace.pfs("dr"), "/a.bin")).toEqual(bytesOf(20_000, 5));

    // Nothing new: the next tick finds nothing to apply and keeps the mirror where it is.
    const idle = await schedule.handler({}, { getRemainingTimeInMillis: () => 120_000 });
    expect(idle.mirrors[0]!.report!.commits).toBe(0);

    // A tick whose time box is over before a mirror's turn defers it to the next tick.
    const { runMirrors } = await import("../../functions/mirror/run.ts");
    const { lambdaDeps } = await import("../../runtime/lambda.ts");
    expect(await runMirrors(await lambdaDeps(), { timeBudgetMs: 0 })).toEqual([
      { name: "main-dr", deferred: true },
    ]);
  });
});
