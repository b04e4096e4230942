/**
 * The mirror schedule's Lambda handler (functions/mirror/schedule.ts) on DynamoDB Local,
 * configured only by the environment the stack sets: a mirror defined through the API handler
 * (`mirror.create`), a commit on its source, the schedule handler invoked once → the mirror's sync
 * TID advances and it holds the new file.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TokenService } from "../../adapters/auth/tokens.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { freshDynamoDbStore } from "../support/dynamodb.ts";
import { bytesOf } from "../support/mirror.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

describe("mirror schedule Lambda (DynamoDB Local)", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it("one invocation runs every defined mirror and advances its sync TID", {
    timeout: 60_000,
  }, async (ctx) => {
    if (!endpoint)
      return ctx.skip("the dynamodb stand-in was not started (STRATA_STANDINS excludes dynamodb)");
    const table = await freshDynamoDbStore(endpoint, "strata-lambda-mirror");
    const dir = await mkdtemp(join(tmpdir(), "strata-lambda-mirror-"));
    cleanups.push(
      () => table.dispose(),
      () => rm(dir, { recursive: true, force: true }),
    );
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
    await createNamespace({ store: table.store }).createPfs("main");

    const api = await import("../../functions/api/lambda.ts");
    const schedule = await import("../../functions/mirror/schedule.ts");
    const { cloudPlacement } = await import("../../functions/workflow/deps.ts");
    const call = async <T>(op: string, body: unknown): Promise<T> => {
      const r = await api.handler({
        rawPath: `/v1/ops/${op}`,
        requestContext: { http: { method: "POST" } },
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(r.statusCode, `${op}: ${r.body}`).toBe(200);
      return JSON.parse(r.body) as T;
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
    const { lambdaDeps } = await import("../../functions/schedule/lambda-deps.ts");
    expect(await runMirrors(await lambdaDeps(), { timeBudgetMs: 0 })).toEqual([
      { name: "main-dr", deferred: true },
    ]);
  });
});
