/**
 * `npm run bench -- s3 [keys]`: the S3 gateway next to the S3 stand-in (s3rver) driven by the same
 * client (@aws-sdk/client-s3, checksums only when required — s3rver corrupts aws-chunked bodies),
 * in one run, as ratios gateway / stand-in:
 *   PUT and GET MiB/s of one 64 MiB object (median of 3),
 *   small-object (1 KiB) PUT, GET, HEAD and LIST (one page of 100 keys) ops/s, one client,
 *   LIST of `keys` keys (default 10,000; every page of 1,000), seconds.
 * The deployment (a local directory volume, SQLite) and the gateway run in this process; s3rver
 * is a child process. Env: STRATA_BENCH_MS (ms per small-object cell, default 1000).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { startLocalDeployment } from "../functions/local/deployment.ts";
import { serveS3 } from "../gateways/s3/index.ts";
import { connect } from "../sdk/index.ts";
import { startS3StandIn } from "../standins/s3.ts";
import { median, pattern, seconds, table, timed } from "./support.ts";

const MEASURE_MS = Number(process.env.STRATA_BENCH_MS ?? 1000);
const BIG = 64 * 1024 * 1024;
const SMALL = pattern(1024, 7);

interface Side {
  name: string;
  s3: S3Client;
  bucket: string;
}

async function large(side: Side): Promise<{ putMiB: number; getMiB: number }> {
  const body = Buffer.from(pattern(BIG, 3));
  const puts: number[] = [];
  const gets: number[] = [];
  for (let i = 0; i < 3; i++) {
    puts.push(
      await seconds(() =>
        side.s3.send(new PutObjectCommand({ Bucket: side.bucket, Key: "big.bin", Body: body })),
      ),
    );
    gets.push(
      await seconds(async () => {
        const res = await side.s3.send(new GetObjectCommand({ Bucket: side.bucket, Key: "big.bin" }));
        let n = 0;
        for await (const chunk of res.Body as AsyncIterable<Uint8Array>) n += chunk.length;
        if (n !== BIG) throw new Error(`${side.name}: GET returned ${n} bytes`);
      }),
    );
  }
  const mib = BIG / 1024 / 1024;
  return { putMiB: mib / median(puts), getMiB: mib / median(gets) };
}

async function small(side: Side): Promise<Record<string, number>> {
  let n = 0;
  const put = await timed(
    () => side.s3.send(new PutObjectCommand({ Bucket: side.bucket, Key: `small/k${n++}`, Body: SMALL })),
    MEASURE_MS,
    20,
  );
  let g = 0;
  const get = await timed(
    async () => {
      const res = await side.s3.send(new GetObjectCommand({ Bucket: side.bucket, Key: `small/k${g++ % n}` }));
      await res.Body!.transformToByteArray();
    },
    MEASURE_MS,
    20,
  );
  let h = 0;
  const head = await timed(
    () => side.s3.send(new HeadObjectCommand({ Bucket: side.bucket, Key: `small/k${h++ % n}` })),
    MEASURE_MS,
    20,
  );
  const list = await timed(
    () => side.s3.send(new ListObjectsV2Command({ Bucket: side.bucket, Prefix: "small/", MaxKeys: 100 })),
    MEASURE_MS,
    5,
  );
  const rate = (r: { ops: number; ms: number }) => (r.ops * 1000) / r.ms;
  return { put: rate(put), get: rate(get), head: rate(head), list: rate(list) };
}

async function listAll(side: Side, prefix: string, expected: number): Promise<number> {
  return seconds(async () => {
    let token: string | undefined;
    let count = 0;
    do {
      const page = await side.s3.send(
        new ListObjectsV2Command({ Bucket: side.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      count += page.KeyCount ?? 0;
      token = page.NextContinuationToken;
    } while (token);
    if (count !== expected) throw new Error(`${side.name}: listed ${count} of ${expected} keys`);
  });
}

export async function run(args: string[]): Promise<void> {
  const keys = Number(args[0] ?? 10_000);
  const home = await mkdtemp(join(tmpdir(), "strata-bench-s3-"));
  const deployment = await startLocalDeployment({
    home,
    volumes: { local: { kind: "local", root: join(home, "volume") } },
    defaultVolume: "local",
    port: 0,
  });
  const standIn = await startS3StandIn();
  const tokens = deployment.services.tokens;
  const admin = await tokens.create({ pfs: "*", rights: ["admin"] });
  await deployment.services.namespace.createPfs("default");
  const user = await tokens.create({ pfs: "default", rights: ["read", "write"] });
  const secret = (await tokens.s3Credentials(user.id)).secretAccessKey;
  const gateway = await serveS3({ endpoint: deployment.endpoint, token: admin.token, port: 0 });
  const common = {
    region: "us-east-1",
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  } as const;
  const sides: Side[] = [
    {
      name: "gateway",
      bucket: "default",
      s3: new S3Client({
        ...common,
        endpoint: gateway.endpoint,
        credentials: { accessKeyId: user.id, secretAccessKey: secret },
      }),
    },
    {
      name: "s3rver",
      bucket: "bench",
      s3: new S3Client({
        ...common,
        endpoint: standIn.endpoint,
        credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      }),
    },
  ];
  await sides[1]!.s3.send(new CreateBucketCommand({ Bucket: "bench" }));
  try {
    console.log(
      `load average before: ${loadavg()
        .map((x) => x.toFixed(2))
        .join(" ")}`,
    );
    const results: Record<string, Record<string, number>> = {};
    for (const side of sides) {
      const big = await large(side);
      const ops = await small(side);
      results[side.name] = { ...big, ...ops };
    }
    // LIST of `keys` keys: written directly (SDK batches on strata, PUTs on s3rver), listed by the S3 client.
    const client = await connect({ endpoint: deployment.endpoint, token: user.token });
    await client.mkdir("/many");
    for (let i = 0; i < keys; i += 25)
      await client.batch(
        Array.from({ length: Math.min(25, keys - i) }, (_, j) => ({
          op: "writeFile" as const,
          path: `/many/k${String(i + j).padStart(6, "0")}`,
          data: "x",
        })),
      );
    await client.close();
    const s3rver = sides[1]!;
    for (let i = 0; i < keys; i += 32)
      await Promise.all(
        Array.from({ length: Math.min(32, keys - i) }, (_, j) =>
          s3rver.s3.send(
            new PutObjectCommand({
              Bucket: "bench",
              Key: `many/k${String(i + j).padStart(6, "0")}`,
              Body: "x",
            }),
          ),
        ),
      );
    results.gateway!.listAll = await listAll(sides[0]!, "many/", keys);
    results.s3rver!.listAll = await listAll(s3rver, "many/", keys);
    const g = results.gateway!;
    const s = results.s3rver!;
    const row = (name: string, unit: string, key: string, lowerIsBetter = false) => [
      name,
      unit,
      g[key]!.toFixed(1),
      s[key]!.toFixed(1),
      (lowerIsBetter ? s[key]! / g[key]! : g[key]! / s[key]!).toFixed(2),
    ];
    console.log(
      table(
        [
          ["measure", "unit", "gateway", "s3rver", "ratio (≥1 = gateway faster)"],
          row("PUT 64 MiB", "MiB/s", "putMiB"),
          row("GET 64 MiB", "MiB/s", "getMiB"),
          row("PUT 1 KiB", "ops/s", "put"),
          row("GET 1 KiB", "ops/s", "get"),
          row("HEAD", "ops/s", "head"),
          row("LIST 100 keys", "ops/s", "list"),
          row(`LIST ${keys} keys`, "s", "listAll", true),
        ],
        new Set([0, 1]),
      ),
    );
    console.log(
      `load average after: ${loadavg()
        .map((x) => x.toFixed(2))
        .join(" ")}`,
    );
  } finally {
    for (const side of sides) side.s3.destroy();
    await gateway.close();
    await standIn.stop();
    await deployment.stop();
    await rm(home, { recursive: true, force: true });
  }
}
