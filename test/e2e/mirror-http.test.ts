/**
 * Mirroring across two deployments over HTTP, as an operator drives it: deployment B mirrors a
 * PFS of deployment A through A's API (a read token of that PFS only), through B's operation
 * registry (`mirror.create`, `mirror.run`, `mirror.status`, `mirror.promote`); A writes a backup
 * bundle and restores it (`backup.create`, `backup.restore`). Both are real local deployments
 * (SQLite + a local-directory volume each) on loopback ports.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isStrataError } from "../../core/errors.ts";
import { fromJsonValue, recordChunks, type StreamRecord } from "../../core/mirror/index.ts";
import { type LocalDeployment, startLocalDeployment } from "../../functions/local/deployment.ts";
import { runMirrors } from "../../functions/mirror/run.ts";
import { remoteDeployment } from "../../sdk/remote.ts";
import { freePort } from "../../standins/child.ts";
import { bytesOf, snapshotTree } from "../support/mirror.ts";

async function deploymentAt(home: string, site: string): Promise<LocalDeployment> {
  return startLocalDeployment({
    home,
    volumes: { [site]: { kind: "local", root: path.join(home, "volume") } },
    defaultVolume: site,
    port: await freePort(),
    site,
    inlineThreshold: 16,
  });
}

describe("mirroring between two deployments over HTTP", () => {
  const homes: string[] = [];
  const running: LocalDeployment[] = [];
  afterAll(async () => {
    for (const d of running) await d.stop();
    for (const h of homes) await rm(h, { recursive: true, force: true });
  });

  it("mirror.create / run / status / promote across deployments, backup.create / restore", {
    timeout: 120_000,
  }, async () => {
    for (let i = 0; i < 2; i++) homes.push(await mkdtemp(path.join(tmpdir(), "strata-mirror-")));
    const a = await deploymentAt(homes[0]!, "aws");
    running.push(a);
    const b = await deploymentAt(homes[1]!, "gcs");
    running.push(b);

    const ns = a.services.namespace;
    await ns.createPfs("main");
    const fs = ns.pfs("main");
    await fs.mkdir("/d");
    await a.services.data.writeFile(fs, "/d/big", bytesOf(300_000, 1));
    await a.services.data.writeFile(fs, "/d/small", bytesOf(5, 2));
    await fs.setTag("/d/big", "site", "gcs");

    const readToken = (await a.services.tokens.create({ pfs: "main", rights: ["read"], ttlSeconds: 3600 }))
      .token;
    const adminB = (await b.services.tokens.create({ pfs: "*", rights: ["admin"], ttlSeconds: 3600 })).token;
    const adminA = (await a.services.tokens.create({ pfs: "*", rights: ["admin"], ttlSeconds: 3600 })).token;
    const opsB = remoteDeployment({ endpoint: b.endpoint, token: adminB }).admin!;
    const opsA = remoteDeployment({ endpoint: a.endpoint, token: adminA }).admin!;

    await opsB.call("mirror.create", {
      source: { url: a.endpoint, pfs: "main", token: readToken },
      target: "dr",
      name: "main-dr",
    });
    const run = await opsB.call<{ mode: string; to: string; chunksCopied: number }>("mirror.run", {
      name: "main-dr",
    });
    expect(run.mode).toBe("incremental");
    expect(run.chunksCopied).toBeGreaterThan(0);
    const mirror = b.services.namespace.pfs("dr");
    expect(await snapshotTree(mirror, b.services.data)).toEqual(
      await snapshotTree(fs.asOf(run.to), a.services.data),
    );
    // Chunks cross by presigned GET from A's volume (the API hands out URLs, not bytes).
    const [extent] = await a.services.data.placement(fs, "/d/big");
    const readerA = remoteDeployment({ endpoint: a.endpoint, token: readToken }).admin!;
    // A chunk is asked for by the stream record that references it (mirror.chunk hands out only those).
    const streamed = await readerA.call<{ records: unknown }>("mirror.read", { pfs: "main" });
    const from = recordChunks(fromJsonValue(streamed.records) as StreamRecord[]).find(
      (r) => r.chunk === extent!.chunk,
    )!.from;
    const ref = { pfs: "main", chunk: extent!.chunk, size: extent!.length, crc32c: extent!.crc32c, from };
    const urls = await readerA.call<{ sources: Array<{ volume: string; url: string }> }>("mirror.chunk", ref);
    expect(urls.sources.map((u) => u.volume)).toEqual(["aws"]);
    expect(urls.sources[0]!.url.startsWith(a.endpoint)).toBe(true);
    // The mirror's bytes are on B's own volume.
    expect((await b.services.data.placement(mirror, "/d/big"))[0]!.instances.map((i) => i.volume)).toEqual([
      "gcs",
    ]);

    await fs.unlink("/d/small");
    const again = await opsB.call<{ to: string; records: number }>("mirror.run", { name: "main-dr" });
    expect(again.records).toBeGreaterThan(0);
    const status = await opsB.call<{ mirrors: Array<{ name: string; sync: string; role: string }> }>(
      "mirror.status",
      {},
    );
    expect(status.mirrors).toMatchObject([{ name: "main-dr", sync: again.to, role: "mirror" }]);

    // The schedule's handler runs every defined mirror.
    await a.services.data.writeFile(fs, "/d/scheduled", bytesOf(9, 9));
    const tick = await runMirrors(b.services, { maxPages: 10 });
    expect(tick).toMatchObject([{ name: "main-dr", report: { mode: "incremental" } }]);
    expect(await b.services.data.readFile(mirror, "/d/scheduled")).toEqual(bytesOf(9, 9));

    // The read token cannot reach another PFS of A, nor administer it.
    await ns.createPfs("other");
    const denied = await remoteDeployment({ endpoint: a.endpoint, token: readToken })
      .admin!.call("mirror.read", { pfs: "other" })
      .catch((err) => err);
    expect(isStrataError(denied, "EACCES")).toBe(true);

    // Writes to the mirror are refused; after promotion they are not.
    const writeB = remoteDeployment({ endpoint: b.endpoint, token: adminB, pfs: "dr" });
    expect(
      await writeB.namespace
        .pfs("dr")
        .mkdir("/x")
        .catch((err) => err.code),
    ).toBe("EROFS");
    await opsB.call("mirror.promote", { name: "main-dr" });
    await writeB.namespace.pfs("dr").mkdir("/x");

    // Backups on A's volume, restored as a new PFS.
    const full = await opsA.call<{ id: string; upto: string }>("backup.create", {
      pfs: "main",
      volume: "aws",
    });
    await a.services.data.writeFile(fs, "/d/later", bytesOf(70_000, 3));
    const inc = await opsA.call<{ id: string; upto: string }>("backup.create", {
      pfs: "main",
      volume: "aws",
      base: full.id,
    });
    await opsA.call("backup.restore", {
      name: "restored",
      volume: "aws",
      prefix: "backups/main",
      bundle: inc.id,
    });
    expect(await snapshotTree(ns.pfs("restored"), a.services.data)).toEqual(
      await snapshotTree(fs.asOf(inc.upto), a.services.data),
    );
  });
});
