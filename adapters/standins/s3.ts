/**
 * The S3 stand-in: s3rver 3.7.1 as a child process on 127.0.0.1, storing into a fresh temporary
 * directory that is removed on stop. See shared/STANDINS.md for its traps:
 * - Node needs `--openssl-legacy-provider`, or paged ListObjectsV2 fails with ERR_OSSL_EVP_UNSUPPORTED.
 * - Clients must use `requestChecksumCalculation`/`responseChecksumValidation: "WHEN_REQUIRED"`
 *   (see {@link s3StandInClientConfig}); the SDK's default mode stores streamed bodies with their
 *   aws-chunked framing, i.e. silently corrupts them.
 * - Conditional PUTs (`If-None-Match: *`) are ignored, native checksums are neither validated nor
 *   returned: drive it with `conditionalWrites: false, nativeChecksums: false`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import type { S3ClientConfig } from "@aws-sdk/client-s3";
import { freePort, type StandIn, startChildStandIn } from "./child.ts";

const require = createRequire(import.meta.url);

export async function startS3StandIn(): Promise<StandIn> {
  const bin = path.join(path.dirname(require.resolve("s3rver/package.json")), "bin", "s3rver.js");
  const directory = await mkdtemp(path.join(tmpdir(), "strata-s3rver-"));
  const port = await freePort();
  let standIn: StandIn;
  try {
    standIn = await startChildStandIn({
      name: "s3",
      command: process.execPath,
      args: [
        "--openssl-legacy-provider",
        bin,
        "-d",
        directory,
        "-a",
        "127.0.0.1",
        "-p",
        String(port),
        "--silent",
      ],
      port,
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
