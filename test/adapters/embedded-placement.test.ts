/**
 * `connect({ local })` with placement: volume records, objectives and placement runs in-process
 * (runtime/embedded.ts `embeddedDeployment`), on two local-directory volumes.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { connect, type Strata } from "../../sdk/index.ts";

const present = async (client: Strata, path: string) =>
  [
    ...new Set(
      (await client.placement(path)).flatMap((e) =>
        e.instances.filter((i) => i.state === "present").map((i) => i.volume),
      ),
    ),
  ].sort();

describe("embedded deployment with placement", () => {
  const dirs: string[] = [];
  const clients: Strata[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  const open = async (dir: string) => {
    const client = await connect({ local: dir });
    clients.push(client);
    return client;
  };

  it("volume, objective and placement operations work; writes and tags follow objectives; a reopen reads them", {
    timeout: 120_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "strata-embedded-placement-"));
    dirs.push(dir);
    const client = await open(dir);
    const listed = await client.admin.call<{ volumes: Array<{ name: string; kind: string }> }>(
      "volume.list",
      {},
    );
    expect(listed.volumes.map((v) => [v.name, v.kind])).toEqual([["local", "local"]]);
    await client.admin.call("volume.add", {
      name: "second",
      kind: "local",
      config: { root: join(dir, "second") },
    });

    // A write under an objective goes straight to the chosen volume.
    await client.mkdir("/hot");
    await client.admin.call("objective.set", { path: "/hot", text: "place 1 on volume:second" });
    const hot = randomBytes(20_000);
    await client.writeFile("/hot/a.bin", hot);
    expect(await present(client, "/hot/a.bin")).toEqual(["second"]);

    // A tag change moves an existing file (the worker follows the change feed).
    await client.mkdir("/cold");
    const cold = randomBytes(20_000);
    await client.writeFile("/cold/b.bin", cold);
    expect(await present(client, "/cold/b.bin")).toEqual(["local"]);
    await client.admin.call("objective.set", {
      path: "/cold",
      text: "when tag:tier place 1 on volume:$tag:tier",
    });
    await client.tags.set("/cold", "tier", "second");
    await client.waitForPlacement("/cold", { timeoutMs: 60_000 });
    expect(await present(client, "/cold/b.bin")).toContain("second");
    await client.close();
    clients.length = 0;

    // Reopened: the records, objectives and bytes are all there.
    const again = await open(dir);
    expect(
      (await again.admin.call<{ volumes: Array<{ name: string }> }>("volume.list", {})).volumes.map(
        (v) => v.name,
      ),
    ).toEqual(["local", "second"]);
    expect(Buffer.from(await again.readFile("/hot/a.bin"))).toEqual(hot);
    expect(Buffer.from(await again.readFile("/cold/b.bin"))).toEqual(cold);
    const objectives = await again.admin.call<{ objectives: Array<{ path: string }> }>("objective.list", {});
    expect(objectives.objectives.map((o) => o.path).sort()).toEqual(["/cold", "/hot"]);
  });
});
