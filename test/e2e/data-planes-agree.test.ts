/**
 * The embedded data plane (core/data/) and the remote SDK's (sdk/remote/data.ts, over real HTTP to
 * a running local deployment) give the same answer when no copy of a chunk can be read: one
 * verdict (core/data/chunks.ts `unreadableVerdict`) — EIO when the only copy is gone, ECORRUPT
 * when it has the wrong bytes. Before, the remote plane answered EUNAVAIL for the gone copy (it
 * looked at the last failure only); the counter-check for the verdict itself is in
 * test/unit/shared-helpers.test.ts.
 */
import { mkdtemp, rm, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { corruptLocalObject, LocalVolumeDriver } from "../../adapters/volumes/local.ts";
import { chunkObjectKey } from "../../core/data/chunk-items.ts";
import { isStrataError } from "../../core/errors.ts";
import { type LocalDeployment, startLocalDeployment } from "../../functions/local/deployment.ts";
import { remoteDeployment } from "../../sdk/remote.ts";
import { freePort } from "../../standins/child.ts";
import { bytesOf } from "../support/mirror.ts";

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (err) => (isStrataError(err) ? err.code : `not a StrataError: ${String(err)}`),
  );

describe("the embedded and the remote data plane agree when no copy can be read", () => {
  let home: string | undefined;
  let deployment: LocalDeployment | undefined;
  afterAll(async () => {
    await deployment?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("a gone copy is EIO and a corrupt one ECORRUPT, on both planes", { timeout: 120_000 }, async () => {
    home = await mkdtemp(path.join(tmpdir(), "strata-planes-agree-"));
    const root = path.join(home, "base");
    const d = await startLocalDeployment({
      home,
      volumes: { base: { kind: "local", root } },
      defaultVolume: "base",
      port: await freePort(),
      inlineThreshold: 16,
      schedules: { vacuumMs: 0, scrubMs: 0, mirrorMs: 0 },
      placement: { sweepEveryMs: 0 },
    });
    deployment = d;
    const token = (await d.services.tokens.create({ pfs: "*", rights: ["admin"], ttlSeconds: 3600 })).token;
    await d.services.namespace.createPfs("p");
    const embedded = { data: d.services.data, fs: d.services.namespace.pfs("p") };
    const r = remoteDeployment({ endpoint: d.endpoint, token, pfs: "p", retries: 0 });
    const remote = { data: r.data, fs: await r.openPfs("p") };
    const volume = new LocalVolumeDriver({ name: "base", root });

    const gone = await embedded.data.writeFile(embedded.fs, "/gone", bytesOf(50_000, 1));
    const corrupt = await embedded.data.writeFile(embedded.fs, "/corrupt", bytesOf(50_000, 2));
    // Both read back first, on both planes.
    for (const plane of [embedded, remote]) {
      expect(await plane.data.readFile(plane.fs, "/gone")).toEqual(bytesOf(50_000, 1));
      expect(await plane.data.readFile(plane.fs, "/corrupt")).toEqual(bytesOf(50_000, 2));
    }
    await unlink(volume.pathOf(chunkObjectKey(gone.content!.extents![0]!.chunk)));
    await corruptLocalObject(volume, chunkObjectKey(corrupt.content!.extents![0]!.chunk), 100);

    const answers = {
      embedded: {
        gone: await codeOf(embedded.data.readFile(embedded.fs, "/gone")),
        corrupt: await codeOf(embedded.data.readFile(embedded.fs, "/corrupt")),
      },
      remote: {
        gone: await codeOf(remote.data.readFile(remote.fs, "/gone")),
        corrupt: await codeOf(remote.data.readFile(remote.fs, "/corrupt")),
      },
    };
    expect(answers).toEqual({
      embedded: { gone: "EIO", corrupt: "ECORRUPT" },
      remote: { gone: "EIO", corrupt: "ECORRUPT" },
    });
  });
});
