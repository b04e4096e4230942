/**
 * Jobs through the operation registry (`invoke`, as the HTTP API and `client.admin.call` run
 * them) and the SDK's `client.jobs`: placement.sweep answers at once with a job; job.get,
 * job.wait, job.list and job.cancel watch it; a PFS-scoped token cannot see jobs.
 */
import { describe, expect, it } from "vitest";
import type { StrataError } from "../../core/errors.ts";
import { invoke } from "../../functions/api/handle.ts";
import type { Services } from "../../functions/api/services.ts";
import { createClient } from "../../sdk/client.ts";
import { failureOf } from "../support/errors.ts";
import { testPrincipal } from "../support/principals.ts";
import { deployment, fileOfChunks } from "./workflow-helpers.ts";

const ADMIN = testPrincipal();

describe("job operations and client.jobs", () => {
  it("placement.sweep starts a job and answers with it; job.wait / job.get / job.list show it finished; the files are placed", async () => {
    const d = await deployment({});
    await d.fs.mkdir("/a");
    for (let i = 0; i < 5; i++) await fileOfChunks(d, `/a/f${i}`, 2, i + 1);
    await d.p.placement.setObjectives("main", "/a", "place 1 on site:eu");
    const services = {
      namespace: d.ns,
      data: d.p.data,
      store: d.store,
      placement: d.p,
    } as unknown as Services;
    const call = (op: string, input: Record<string, unknown>) => {
      const { pfs, ...rest } = input;
      return invoke(services, ADMIN, op, rest, typeof pfs === "string" ? { pfs } : {});
    };
    const client = createClient(
      {
        namespace: d.ns,
        data: d.p.data,
        openPfs: async (name) => d.ns.pfs(name),
        close: async () => {},
        admin: { call: call as never } as never,
      },
      "main",
    );
    const job = await client.jobs.sweep({ limit: 2 });
    expect(job).toMatchObject({
      kind: "placement.sweep",
      status: "running",
      input: { pfs: "main", limit: 2 },
    });
    const done = await client.jobs.wait(job.id, { timeoutMs: 120_000 });
    expect(done).toMatchObject({ status: "succeeded", counts: { placed: 5, scanned: 5 } });
    expect(done.executions).toBe(3); // pages of 2, 2, 1
    expect(done.maxEvents).toBeGreaterThan(0);
    expect(await client.jobs.get(job.id)).toEqual(done);
    expect((await client.jobs.list()).jobs.map((j) => j.id)).toEqual([job.id]);
    expect((await client.jobs.list({ status: "running" })).jobs).toEqual([]);
    expect((await client.jobs.cancel(job.id)).status).toBe("succeeded"); // finished: left as it was
    expect((await d.p.placement.status("main", "/a")).placed).toBe(true);
    // Bad ids are EINVAL; unknown ones ENOENT; a PFS-scoped token sees no jobs.
    expect(((await failureOf(call("job.get", { id: "../x" }))) as StrataError).code).toBe("EINVAL");
    expect(
      ((await failureOf(call("job.get", { id: "0000000000-00000000".slice(1) }))) as StrataError).code,
    ).toBe("ENOENT");
    const scoped = testPrincipal({ pfs: "main" });
    expect(((await failureOf(invoke(services, scoped, "job.list", {}, {}))) as StrataError).code).toBe(
      "EACCES",
    );
    await d.p.close();
  }, 120_000);
});
