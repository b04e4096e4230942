/**
 * The confinement property (test/support/confinement.ts, issue 13) extended to S3 gateway
 * requests: a token scoped to /a, used through the gateway with its S3 credentials, never reads
 * or changes anything outside /a — whatever the unscoped writer does meanwhile (symlinks out of
 * the scope, `..` links, renames, snapshots) and whatever S3 request it sends (GET/HEAD live and
 * by versionId, PUT, DELETE, DeleteObjects, CopyObject, multipart with UploadPartCopy, listings,
 * versions, tagging). The checker is the property's own: records outside unchanged, nothing
 * returned that belongs outside.
 *
 * Counter-check: a gateway started with `testOnlyActAsGateway` serves the same requests with its
 * own (deployment admin) token instead of the requester's; the same property then finds escapes.
 */
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { base64ToBytes } from "../../core/bytes.ts";
import { type S3Gateway, serveS3 } from "../../gateways/s3/index.ts";
import { type ApiFixture, startApiFixture } from "../support/api-server.ts";
import {
  type ConfinementWorld,
  runSequence,
  SCOPE,
  scopedPrincipal,
  trackPartitions,
} from "../support/confinement.ts";

let api: ApiFixture;
let confined: S3Gateway;
let unconfined: S3Gateway;
let pks: ReturnType<typeof trackPartitions>;

beforeAll(async () => {
  api = await startApiFixture("local");
  await api.deployment.services.placement?.orchestrator.stop(); // no background writes during the checks
  pks = trackPartitions(api.deployment.services.store);
  // Idempotency records (`idem#http#<token>#<key>`, `idem#<pfs>#<key>`) are the requester's own
  // replies and commits — the SDK client in the gateway sends an Idempotency-Key with every
  // mutating call — and describe no object: they are not part of the observed state.
  const add = pks.add.bind(pks);
  pks.add = (pk: string) => (pk.startsWith("idem#") ? pks : add(pk));
  const base = { endpoint: api.deployment.endpoint, token: api.adminToken, host: "127.0.0.1", port: 0 };
  confined = await serveS3(base);
  unconfined = await serveS3({ ...base, testOnlyActAsGateway: true });
}, 60_000);
afterAll(async () => {
  await confined?.close();
  await unconfined?.close();
  await api?.dispose();
});

/** The registry operations the property picks, each sent as S3 requests (below). */
const MAPPED = [
  "fs.read",
  "fs.stat",
  "fs.lstat",
  "fs.readdir",
  "fs.history",
  "fs.getTags",
  "fs.setTag",
  "upload.commit",
  "fs.unlink",
  "fs.rmdir",
  "fs.mkdir",
  "fs.rename",
  "fs.link",
  "fs.batch",
];

const key = (path: unknown) => String(path).replace(/^\//, "");
const versionOf = (asOf: unknown) => (typeof asOf === "string" ? asOf : undefined);

/** One property request as S3 calls through `gateway`, with the principal's S3 credentials. */
async function s3Call(
  s3: S3Client,
  pfs: string,
  op: string,
  input: Record<string, unknown>,
): Promise<unknown> {
  const Bucket = pfs;
  const Key = key(input.path);
  switch (op) {
    case "fs.read": {
      const got = await s3.send(new GetObjectCommand({ Bucket, Key, VersionId: versionOf(input.asOf) }));
      return { body: await got.Body!.transformToString(), meta: got.Metadata, etag: got.ETag };
    }
    case "fs.stat":
    case "fs.lstat":
      return s3.send(new HeadObjectCommand({ Bucket, Key, VersionId: versionOf(input.asOf) }));
    case "fs.readdir":
      return s3.send(new ListObjectsV2Command({ Bucket, Prefix: Key === "" ? "" : `${Key}/` }));
    case "fs.history":
      return s3.send(new ListObjectVersionsCommand({ Bucket, Prefix: Key }));
    case "fs.getTags":
      return s3.send(new GetObjectTaggingCommand({ Bucket, Key, VersionId: versionOf(input.asOf) }));
    case "fs.setTag":
      return s3.send(
        new PutObjectTaggingCommand({
          Bucket,
          Key,
          Tagging: { TagSet: [{ Key: String(input.key), Value: String(input.value) }] },
        }),
      );
    case "upload.commit": {
      const bytes = base64ToBytes(String((input.inline as { $bytes: string }).$bytes)) ?? new Uint8Array();
      return s3.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from(bytes) }));
    }
    case "fs.unlink":
      return s3.send(new DeleteObjectCommand({ Bucket, Key }));
    case "fs.rmdir":
    case "fs.mkdir":
      return op === "fs.mkdir"
        ? s3.send(new PutObjectCommand({ Bucket, Key: `${Key}/`, Body: "" }))
        : s3.send(new DeleteObjectCommand({ Bucket, Key: `${Key}/` }));
    case "fs.rename":
      return s3.send(
        new CopyObjectCommand({ Bucket, Key: key(input.to), CopySource: `${Bucket}/${key(input.from)}` }),
      );
    case "fs.link": {
      // Multipart: the new key's one part copied from the existing key.
      const to = key(input.path);
      const made = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: to }));
      const part = await s3.send(
        new UploadPartCopyCommand({
          Bucket,
          Key: to,
          UploadId: made.UploadId,
          PartNumber: 1,
          CopySource: `${Bucket}/${key(input.existing)}`,
        }),
      );
      return s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: to,
          UploadId: made.UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult?.ETag }] },
        }),
      );
    }
    case "fs.batch": {
      const ops = (input.ops ?? []) as Array<{ path?: string; from?: string }>;
      const keys = ops.map((o) => key(o.path ?? o.from ?? "/a/none"));
      return s3.send(
        new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((k) => ({ Key: k })) } }),
      );
    }
    default:
      throw Object.assign(new Error(`${op} is not sent through the gateway`), { code: "ENOTMAPPED" });
  }
}

/** A world on the API fixture whose scoped requests go through `gateway`. */
async function gatewayWorld(gateway: S3Gateway, pfs: string): Promise<ConfinementWorld> {
  const { services } = api.deployment;
  await services.namespace.createPfs(pfs);
  const clients = new Map<string, S3Client>();
  for (const rights of [["read", "write"], ["read"]] as Array<Array<"read" | "write">>) {
    const made = await services.tokens.create({ pfs, prefix: SCOPE, rights, ttlSeconds: 3600 });
    const s3 = await services.tokens.s3Credentials(made.id);
    clients.set(
      rights.join("+"),
      new S3Client({
        endpoint: gateway.endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        maxAttempts: 1,
        credentials: { accessKeyId: made.id, secretAccessKey: s3.secretAccessKey },
      }),
    );
  }
  return {
    pfs,
    ns: services.namespace,
    store: services.store,
    pks,
    writer: scopedPrincipal(["read", "write"], pfs),
    reader: scopedPrincipal(["read"], pfs),
    call: async (principal, op, input) =>
      s3Call(clients.get(principal.rights.join("+"))!, pfs, op, input as Record<string, unknown>),
  };
}

describe("confinement through the S3 gateway", () => {
  it("the confinement property holds for S3 requests (24 sequences of 6 requests; tokens scoped to /a)", async () => {
    let requests = 0;
    let succeeded = 0;
    for (let i = 0; i < 24; i++) {
      const world = await gatewayWorld(confined, `s3p${i}`);
      const r = await runSequence(world, 7000 + i, { requests: 6, ops: MAPPED });
      expect(r.escapes).toEqual([]);
      requests += r.requests;
      succeeded += r.succeeded;
    }
    console.log(`[s3 confinement] ${succeeded} of ${requests} gateway requests succeeded; no escape`);
    // Not vacuous: a good share of the requests succeed (inside the scope).
    expect(succeeded).toBeGreaterThan(requests / 10);
  }, 300_000);

  it("counter-check: a gateway that serves requests with its own token lets the same requests escape", async () => {
    const found: string[] = [];
    for (let i = 0; i < 24 && found.length === 0; i++) {
      const world = await gatewayWorld(unconfined, `s3u${i}`);
      const r = await runSequence(world, 7000 + i, { requests: 6, ops: MAPPED });
      found.push(...r.escapes);
    }
    console.log(`[s3 confinement] counter-check found: ${found[0]}`);
    expect(found.length).toBeGreaterThan(0);
  }, 300_000);
});
