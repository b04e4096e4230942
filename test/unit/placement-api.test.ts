/**
 * The placement operations through the operation registry (`invoke`, as the HTTP API and
 * `client.admin.call` run them) and the SDK's waitForPlacement, on SQLite + local volumes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import type { StrataError } from "../../core/errors.ts";
import type { Namespace } from "../../core/namespace/api.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { invoke } from "../../functions/api/handle.ts";
import type { Services } from "../../functions/api/services.ts";
import { openPlacement, type PlacementServices } from "../../runtime/services.ts";
import { createClient } from "../../sdk/client.ts";
import type { Strata } from "../../sdk/types.ts";
import { failureOf } from "../support/errors.ts";
import { testPrincipal } from "../support/principals.ts";

const ADMIN = testPrincipal();

describe("placement operations and waitForPlacement", () => {
  let dir: string;
  let store: SqliteMetadataStore;
  let namespace: Namespace;
  let p: PlacementServices;
  let call: (op: string, input: Record<string, unknown>) => Promise<unknown>;
  let client: Strata;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-placement-api-"));
    store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
    namespace = createNamespace({ store });
    await namespace.createPfs("main");
    p = openPlacement({
      store,
      namespace,
      defaultVolume: "home",
      graceMs: 0,
      retryIntervalMs: 2,
      volumesTtlMs: 0,
      data: { chunkSize: 64 * 1024, sha256: nodeSha256 },
    });
    const services = { namespace, data: p.data, store, placement: p } as unknown as Services;
    call = (op, input) => {
      const { pfs, ...rest } = input;
      return invoke(services, ADMIN, op, rest, typeof pfs === "string" ? { pfs } : {});
    };
    client = createClient(
      {
        namespace,
        data: p.data,
        openPfs: async (name) => namespace.pfs(name),
        close: async () => {},
        admin: { call: call as never } as never,
      },
      "main",
    );
    p.orchestrator.start({ pollMs: 20 });
  });

  afterEach(async () => {
    await p.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("volume.add/list, objective.set/explain/list, tag → waitForPlacement → placement.get", async () => {
    for (const [name, site] of [
      ["home", "home"],
      ["eu", "gcs-eu"],
    ] as const)
      await call("volume.add", { name, kind: "local", config: { root: join(dir, name) }, site });
    const listed = (await call("volume.list", {})) as { volumes: Array<{ name: string; state: string }> };
    expect(listed.volumes.map((v) => [v.name, v.state])).toEqual([
      ["eu", "active"],
      ["home", "active"],
    ]);
    await client.mkdir("/show/shot42", { recursive: true });
    await client.writeFile("/show/shot42/a.exr", new Uint8Array(100_000).fill(3));
    await call("objective.set", {
      pfs: "main",
      path: "/show",
      text: "when tag:render-site place 1 on site:$tag:render-site",
    });
    await client.tags.set("/show/shot42", "render-site", "gcs-eu");
    const report = await client.waitForPlacement("/show/shot42", { timeoutMs: 20_000 });
    expect(report.placed).toBe(true);
    expect(report.files).toMatchObject([
      { path: "/show/shot42/a.exr", status: "placed", desired: ["eu"], missing: 0 },
    ]);
    const explained = (await call("objective.explain", { pfs: "main", path: "/show/shot42/a.exr" })) as {
      inherited: unknown[];
      desired: string[];
      tags: Record<string, string>;
    };
    expect(explained).toMatchObject({
      inherited: [{ path: "/show", text: "when tag:render-site place 1 on site:$tag:render-site" }],
      desired: ["eu"],
      tags: { "render-site": "gcs-eu" },
    });
    expect(await call("objective.list", { pfs: "main" })).toMatchObject({ objectives: [{ path: "/show" }] });
    const got = (await call("placement.get", { pfs: "main", path: "/show" })) as { placed: boolean };
    expect(got.placed).toBe(true);
    // `eu` is in use: draining and then removing it is refused until it is empty.
    await expect(call("volume.remove", { name: "eu" })).rejects.toMatchObject({ code: "ECONFLICT" });
  });

  it("volume.add refuses settings that build no driver, before any record exists", async () => {
    const err = await failureOf(call("volume.add", { name: "bad", kind: "s3", config: {} }));
    expect(err).toMatchObject({ code: "EINVAL", details: { volume: "bad", field: "bucket" } });
    const azure = await failureOf(
      call("volume.add", { name: "bad", kind: "azure", config: { container: "c" } }),
    );
    expect(azure.code).toBe("EINVAL");
    expect(await call("volume.list", {})).toEqual({ volumes: [] });
  });

  it("objectives follow their inode through a rename; explain shows the live path", async () => {
    await call("volume.add", { name: "home", kind: "local", config: { root: join(dir, "home") } });
    await call("volume.add", {
      name: "eu",
      kind: "local",
      config: { root: join(dir, "eu") },
      site: "gcs-eu",
    });
    await client.mkdir("/a");
    await client.writeFile("/a/f", new Uint8Array(100_000).fill(4));
    await call("objective.set", { pfs: "main", path: "/a", text: "place 1 on site:gcs-eu" });
    await client.rename("/a", "/b");
    const explained = (await call("objective.explain", { pfs: "main", path: "/b/f" })) as {
      inherited: unknown[];
      desired: string[];
    };
    expect(explained).toMatchObject({
      inherited: [{ path: "/b", text: "place 1 on site:gcs-eu" }],
      desired: ["eu"],
    });
    expect(await client.waitForPlacement("/b", { timeoutMs: 20_000 })).toMatchObject({ placed: true });
    // The listing shows the path given when the objective was set (docs/objectives.md).
    expect(await call("objective.list", { pfs: "main" })).toMatchObject({ objectives: [{ path: "/a" }] });
  });

  it("a bad objective is EINVAL with its line and column, and nothing is attached", async () => {
    const err = (await failureOf(
      call("objective.set", {
        pfs: "main",
        path: "/",
        text: "place 1 on site:a\nkeep two copies on durable",
      }),
    )) as StrataError;
    expect(err.code).toBe("EINVAL");
    expect(err.details).toMatchObject({ line: 2, column: 6 });
    expect(await call("objective.list", { pfs: "main" })).toEqual({ objectives: [] });
  });

  it("waitForPlacement fails at once (EINVAL: rule, site, the sites that exist) when no volume can hold the files", async () => {
    await call("volume.add", {
      name: "home",
      kind: "local",
      site: "earth",
      config: { root: join(dir, "home") },
    });
    await client.writeFile("/f", new Uint8Array(100_000).fill(1));
    await call("objective.set", { pfs: "main", path: "/", text: "place 1 on site:mars" });
    // A 10-minute timeout: the answer comes from the first look, not from waiting it out.
    const err = await failureOf(client.waitForPlacement("/f", { timeoutMs: 600_000 }));
    expect(err.code).toBe("EINVAL");
    expect(err.details).toMatchObject({
      reason: "unsatisfiable",
      path: "/f",
      rule: { statement: "place 1 on site:mars", at: "/", wants: "site:mars", found: 0 },
      sites: ["earth"],
    });
    expect(err.message).toContain("site:mars");
    expect(err.message).toContain("home (site earth)");
    // Counter-check: with fail-fast off (test-only) the same wait runs into its timeout instead.
    const slow = await failureOf(
      p.placement.waitPlaced("main", "/f", { timeoutMs: 50, pollMs: 5, failUnsatisfied: false }),
    );
    expect(slow.code).toBe("ETIMEDOUT");
    expect(slow.details.pending).toMatchObject([{ path: "/f", status: "unsatisfied" }]);
  });
});
