/**
 * Maintenance over a volume added at runtime: on a running local deployment (HTTP server,
 * placement, schedules off), `volume.add` a second local volume, place chunks on it by objective,
 * then `scrub.run` (over HTTP) repairs a corrupted copy there from the other volume, and an
 * applying `vacuum.run` deletes a pruned version's chunk object from it — both without a restart
 * (the runs take the one volume registry, `services.volumes`, and ask it at each step).
 */
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { corruptLocalObject, LocalVolumeDriver } from "../../adapters/volumes/local.ts";
import { chunkObjectKey } from "../../core/data/chunk-items.ts";
import { type LocalDeployment, startLocalDeployment } from "../../functions/local/deployment.ts";
import { remoteDeployment } from "../../sdk/remote.ts";
import { freePort } from "../../standins/child.ts";
import { bytesOf } from "../support/mirror.ts";

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

describe("maintenance over a volume added at runtime", () => {
  let home: string | undefined;
  let deployment: LocalDeployment | undefined;
  afterAll(async () => {
    await deployment?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("scrub.run repairs a corrupt chunk on it; vacuum.run deletes garbage on it", {
    timeout: 120_000,
  }, async () => {
    home = await mkdtemp(path.join(tmpdir(), "strata-runtime-volume-"));
    // A clock the test moves, so retention lets vacuum prune an old version.
    let now = Date.now();
    const d = await startLocalDeployment({
      home,
      volumes: { base: { kind: "local", root: path.join(home, "base") } },
      defaultVolume: "base",
      port: await freePort(),
      inlineThreshold: 16,
      clock: () => now,
      schedules: { vacuumMs: 0, scrubMs: 0, mirrorMs: 0 },
      placement: { sweepEveryMs: 0 },
    });
    deployment = d;
    const admin = (await d.services.tokens.create({ pfs: "*", rights: ["admin"], ttlSeconds: 86_400 })).token;
    const ops = remoteDeployment({ endpoint: d.endpoint, token: admin, pfs: "p" }).admin!;
    const ns = d.services.namespace;
    await ns.createPfs("p");
    const fs = ns.pfs("p");

    const extraRoot = path.join(home, "extra");
    await ops.call("volume.add", { name: "extra", kind: "local", config: { root: extraRoot } });
    // Startup configured only base (there is no startup volume list any more: one registry over
    // the records); the runs must find extra in the records.
    expect(d.registration.added).toEqual(["base"]);

    // /both: a copy on each volume (scrub repairs from the other); /only: on extra alone.
    await fs.mkdir("/both");
    await fs.mkdir("/only");
    await ops.call("objective.set", {
      path: "/both",
      text: "place 1 on volume:base\nplace 1 on volume:extra",
    });
    await ops.call("objective.set", { path: "/only", text: "override\nplace 1 on volume:extra" });
    await d.services.data.writeFile(fs, "/both/f", bytesOf(50_000, 1));
    await ops.call("placement.wait", { path: "/both/f", timeoutSeconds: 60 });
    const [both] = await d.services.data.placement(fs, "/both/f");
    expect(both!.instances.map((i) => i.volume).sort()).toEqual(["base", "extra"]);

    // Scrub: a data byte of the copy on extra is flipped at rest and repaired from base.
    const extra = new LocalVolumeDriver({ name: "extra", root: extraRoot });
    const chunkFile = (sha: string) => extra.pathOf(chunkObjectKey(sha));
    const corrupt = chunkFile(both!.chunk);
    const good = await readFile(corrupt);
    await corruptLocalObject(extra, chunkObjectKey(both!.chunk), 100);
    expect(await readFile(corrupt)).not.toEqual(good);
    const scrubbed = await ops.call<{
      complete: boolean;
      findings: Array<{ chunk: string; volume: string; repaired: boolean }>;
    }>("scrub.run", { restart: true });
    expect(scrubbed.findings).toMatchObject([{ chunk: both!.chunk, volume: "extra", repaired: true }]);
    expect(await readFile(corrupt)).toEqual(good);

    // Vacuum: /only/g's first version is pruned by retention and its chunk deleted from extra.
    await d.services.data.writeFile(fs, "/only/g", bytesOf(40_000, 2));
    const [old] = await d.services.data.placement(fs, "/only/g");
    expect(old!.instances.map((i) => i.volume)).toEqual(["extra"]);
    now += 1000;
    await d.services.data.writeFile(fs, "/only/g", bytesOf(40_000, 3));
    const [current] = await d.services.data.placement(fs, "/only/g");
    await ops.call("retention.set", { policy: "all 1h" });
    now += 3 * 3600_000;
    const vacuumed = await ops.call<{ complete: boolean; chunks: { count: number } }>("vacuum.run", {
      apply: true,
      timeBudgetSeconds: 60,
    });
    expect(vacuumed).toMatchObject({ complete: true, chunks: { count: 1 } });
    expect(await exists(chunkFile(old!.chunk))).toBe(false);
    expect(await exists(chunkFile(current!.chunk))).toBe(true);
    expect(await d.services.data.readFile(fs, "/only/g")).toEqual(bytesOf(40_000, 3));
  });
});
