/**
 * The SDK over HTTP: start a local deployment in this process (SQLite + one local volume, a free
 * loopback port), give a read-only token for /team, and use the same client API remotely. File
 * bytes go by presigned URL; the token's prefix and rights are enforced by the server.
 * Run: npx tsx examples/http-remote.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect, isStrataError, type Strata } from "strata";
import { startLocalDeployment } from "../functions/local/deployment.ts";

const home = await mkdtemp(path.join(tmpdir(), "strata-http-example-"));
const deployment = await startLocalDeployment({
  home,
  volumes: { disk: { kind: "local", root: path.join(home, "volume") } },
  defaultVolume: "disk",
  port: 0, // any free port on 127.0.0.1
  chunkSize: 1024 * 1024, // small chunks so a 3 MiB file shows several presigned uploads
});
console.log(`deployment at ${deployment.endpoint}`);

try {
  // The first admin token comes from the deployment itself (what `strata token create` does on a server).
  const root = await deployment.services.tokens.create({
    pfs: "*",
    rights: ["admin"],
    label: "example admin",
  });
  const admin = await connect({ endpoint: deployment.endpoint, token: root.token });

  // A chunked file: the client asks the API for presigned URLs and PUTs the bytes to the volume.
  const MiB = 1024 * 1024;
  const plate = new Uint8Array(3 * MiB).map((_, i) => i % 251);
  await admin.mkdir("/team", { recursive: true });
  await admin.writeFile("/team/plate.raw", plate);
  const chunks = await admin.placement("/team/plate.raw");
  console.log(
    `wrote /team/plate.raw: ${plate.length} B in ${chunks.length} chunks on ${chunks[0]?.instances[0]?.volume}`,
  );
  if (chunks.length !== 3) throw new Error(`expected 3 chunks, got ${chunks.length}`);
  await admin.writeFile("/private.txt", "not for the team\n");

  // A read-only token for /team, and a client that uses it.
  const readOnly = await admin.admin.createToken({
    pfs: "default",
    prefix: "/team",
    rights: ["read"],
    ttlSeconds: 600,
    label: "team reader",
  });
  const reader = await connect({ endpoint: deployment.endpoint, token: readOnly.token });
  const back = await reader.readFile("/team/plate.raw");
  if (Buffer.compare(Buffer.from(back), Buffer.from(plate)) !== 0) throw new Error("read back differs");
  console.log(`read back with the read-only token: ${back.length} B, equal`);

  const refused = async (what: string, attempt: (c: Strata) => Promise<unknown>) => {
    try {
      await attempt(reader);
    } catch (err) {
      if (!isStrataError(err, "EACCES")) throw err;
      console.log(`${what}: ${err.message}`);
      return;
    }
    throw new Error(`${what} was allowed`);
  };
  await refused("write with a read token", (c) => c.writeFile("/team/new.txt", "x"));
  await refused("read outside /team", (c) => c.readFile("/private.txt"));

  await reader.close();
  await admin.close();
} finally {
  await deployment.stop();
  await rm(home, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
}
