/**
 * The S3 stand-in: s3rver 3.7.1 as a child process on 127.0.0.1, storing into a fresh temporary
 * directory that is removed on stop. The child runs `s3rver-main.mjs`, which fixes two s3rver bugs
 * where it disagrees with S3 (listing order, `Range: bytes=0-0`). See shared/STANDINS.md for the traps:
 * - Node needs `--openssl-legacy-provider`, or paged ListObjectsV2 fails with ERR_OSSL_EVP_UNSUPPORTED.
 * - Clients must use `requestChecksumCalculation`/`responseChecksumValidation: "WHEN_REQUIRED"`
 *   (see {@link s3StandInClientConfig}); the SDK's default mode stores streamed bodies with their
 *   aws-chunked framing, i.e. silently corrupts them.
 * - Conditional PUTs (`If-None-Match: *`) are ignored, native checksums are neither validated nor
 *   returned: drive it with `conditionalWrites: false, nativeChecksums: false`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { S3ClientConfig } from "@aws-sdk/client-s3";
import { freePort, type StandIn, startChildStandIn } from "./child.ts";

export async function startS3StandIn(): Promise<StandIn> {
  const main = fileURLToPath(new URL("./s3rver-main.mjs", import.meta.url));
  const directory = await mkdtemp(path.join(tmpdir(), "strata-s3rver-"));
  const port = await freePort();
  let standIn: StandIn;
  try {
    standIn = await startChildStandIn({
      name: "s3",
      command: process.execPath,
      args: ["--openssl-legacy-provider", main, directory, String(port)],
      port,
      readyLine: /s3rver listening/,
    });
  } catch (err) {
    await rm(directory, { recursive: true, force: true });
    throw err;
  }
  return {
    name: standIn.name,
    endpoint: standIn.endpoint,
    port: standIn.port,
    crashReport: () => standIn.crashReport(),
    async stop() {
      await standIn.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** S3 client settings that talk to an s3rver at `endpoint` without corrupting bodies. */
export function s3StandInClientConfig(endpoint: string): S3ClientConfig {
  return {
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  };
}
