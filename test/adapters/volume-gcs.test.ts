/**
 * The GCS volume driver against strata's GCS stand-in (and against real GCS when
 * `STRATA_TEST_GCS_BUCKET` is set, with the standard Google credentials in the environment).
 *
 * Besides the shared conformance suite, the focused tests below pin what is specific to GCS:
 * native CRC32C validation, `ifGenerationMatch` create-only, multipart vs resumable (single-request
 * and chunked) uploads, abandoning an upload whose body fails at its end, and error mapping.
 */
import http from "node:http";
import net from "node:net";
import { Storage } from "@google-cloud/storage";
import { describe, expect, it } from "vitest";
import { GcsVolumeDriver, type GcsVolumeOptions } from "../../adapters/volumes/gcs.ts";
import { crc32c } from "../../core/crc32c.ts";
import { StrataError } from "../../core/errors.ts";
import type { VolumeDriver } from "../../core/volume/port.ts";
import { freePort } from "../../standins/child.ts";
import { corruptGcsStandInObject, gcsStandInStorageOptions } from "../../standins/gcs.ts";
import { testVolume } from "../conformance/volume.ts";
import { failureOf } from "../support/errors.ts";
import { standInEndpoint } from "../support/standins.ts";
import { countingBody as body, realRunPrefix, skippedSuite, uniqueName } from "../support/volumes.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

const endpoint = standInEndpoint("gcs");

/** A fresh bucket on the stand-in and a driver on it. */
async function standInDriver(
  options: Partial<GcsVolumeOptions> = {},
): Promise<{ driver: GcsVolumeDriver; bucket: string; storage: Storage }> {
  const storage = new Storage(gcsStandInStorageOptions(endpoint!));
  const bucket = uniqueName("gcs");
  await storage.createBucket(bucket);
  const driver = new GcsVolumeDriver({
    name: "gcs-test",
    bucket,
    storageOptions: gcsStandInStorageOptions(endpoint!),
    ...options,
  });
  return { driver, bucket, storage };
}

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** `total` bytes in `chunk`-sized pieces, generated lazily (nothing is held but one piece). */
function* pieces(total: number, chunk: number): Iterable<Uint8Array> {
  const piece = bytes(chunk, 7);
  for (let sent = 0; sent < total; sent += chunk)
    yield sent + chunk <= total ? piece : piece.subarray(0, total - sent);
}

async function readAll(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

async function keys(driver: VolumeDriver, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await driver.list(prefix, { cursor });
    out.push(...page.entries.map((e) => e.key));
    cursor = page.cursor;
  } while (cursor);
  return out;
}

/** Delete everything in `bucket` on the stand-in, then the bucket itself. */
async function removeBucket(storage: Storage, bucket: string): Promise<void> {
  await storage.bucket(bucket).deleteFiles({ force: true });
  await storage.bucket(bucket).delete({ ignoreNotFound: true });
}

if (endpoint) {
  testVolume("gcs (stand-in)", async () => {
    const { driver, bucket, storage } = await standInDriver();
    return {
      driver,
      corruptAtRest: (key) => corruptGcsStandInObject(endpoint, bucket, key),
      dispose: () => removeBucket(storage, bucket),
    };
  });
} else {
  skippedSuite(
    "volume conformance: gcs (stand-in)",
    "runs on the gcs stand-in",
    "the gcs stand-in was not started (STRATA_STANDINS)",
  );
}

// Real GCS: a unique prefix in an existing bucket, with the standard Google credentials of the
// environment (GOOGLE_APPLICATION_CREDENTIALS, gcloud ADC, or the metadata server).
const realBucket = process.env.STRATA_TEST_GCS_BUCKET;
if (realBucket) {
  testVolume("gcs (real: STRATA_TEST_GCS_BUCKET)", async () => {
    const prefix = realRunPrefix();
    const storage = new Storage();
    const driver = new GcsVolumeDriver({ name: "gcs-real", bucket: realBucket, storage, prefix });
    return {
      driver,
      dispose: async () => {
        await storage.bucket(realBucket).deleteFiles({ prefix, force: true });
      },
    };
  });
} else {
  skippedSuite(
    "volume conformance: gcs (real)",
    "runs against real GCS",
    "set STRATA_TEST_GCS_BUCKET (and Google credentials) to run against real GCS",
  );
}

describe.skipIf(!endpoint)("gcs volume driver on the stand-in", () => {
  it("stores bytes, metadata and GCS's native crc32c, and reads them back", async () => {
    const { driver } = await standInDriver();
    const data = bytes(1000);
    const info = await driver.put("a/b.bin", body([data]), {
      metadata: { owner: "x-1" },
      ifNoneMatch: false,
    });
    expect(info).toMatchObject({
      key: "a/b.bin",
      size: 1000,
      crc32c: crc32c(data),
      metadata: { owner: "x-1" },
    });
    const head = await driver.head("a/b.bin");
    expect(head).toMatchObject({ size: 1000, crc32c: crc32c(data), metadata: { owner: "x-1" } });
    expect(head.lastModified).toBeInstanceOf(Date);
    const got = await driver.get("a/b.bin", {});
    expect(await readAll(got.body)).toEqual(Buffer.from(data));
  });

  it("create-only is ifGenerationMatch: 0 — a second create fails with EEXIST and keeps the first bytes", async () => {
    const { driver } = await standInDriver();
    expect(driver.capabilities.atomicCreateOnly).toBe(true);
    await driver.put("k", body([bytes(10, 1)]), { metadata: {}, ifNoneMatch: true });
    const err = await failureOf(driver.put("k", body([bytes(10, 2)]), { metadata: {}, ifNoneMatch: true }));
    expect(err.code).toBe("EEXIST");
    expect(err.details).toMatchObject({ volume: "gcs-test", key: "k" });
    expect(await readAll((await driver.get("k", {})).body)).toEqual(Buffer.from(bytes(10, 1)));
  });

  it("create-only through a resumable upload is enforced when the upload finalizes", async () => {
    const { driver } = await standInDriver({ resumableThreshold: 64 * KiB });
    const results = await Promise.allSettled(
      [1, 2, 3, 4].map((seed) =>
        driver.put("race", body(pieces(200 * KiB, 16 * KiB + seed)), { metadata: {}, ifNoneMatch: true }),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results)
      if (r.status === "rejected") expect((r.reason as StrataError).code).toBe("EEXIST");
  });

  it("with preconditions off, create-only is check-then-write and declared non-atomic", async () => {
    const { driver } = await standInDriver({ preconditions: false });
    expect(driver.capabilities.atomicCreateOnly).toBe(false);
    await driver.put("k", body([bytes(3)]), { metadata: {}, ifNoneMatch: true });
    expect(
      (await failureOf(driver.put("k", body([bytes(3)]), { metadata: {}, ifNoneMatch: true }))).code,
    ).toBe("EEXIST");
  });

  it.each([
    ["single-request resumable", undefined],
    ["chunked resumable", 256 * KiB],
  ])("streams a body above the threshold through a %s upload", async (_label, chunkSize) => {
    const { driver } = await standInDriver({ resumableThreshold: 256 * KiB, chunkSize });
    const total = 1 * MiB + 123;
    const expected = Buffer.concat([...pieces(total, 64 * KiB)]);
    const info = await driver.put("big", body(pieces(total, 64 * KiB)), {
      metadata: { m: "v" },
      ifNoneMatch: true,
    });
    expect(info).toMatchObject({ size: total, crc32c: crc32c(expected), metadata: { m: "v" } });
    expect(Buffer.compare(Buffer.from(await readAll((await driver.get("big", {})).body)), expected)).toBe(0);
  });

  it.each([
    ["buffered multipart", 8 * MiB, undefined],
    ["single-request resumable", 64 * KiB, undefined],
    ["chunked resumable", 64 * KiB, 256 * KiB],
  ])(
    "a body that fails at its end leaves nothing visible (%s)",
    async (_label, resumableThreshold, chunkSize) => {
      const { driver } = await standInDriver({ resumableThreshold, chunkSize });
      const failAtEnd = new StrataError("ECORRUPT", "declared CRC32C does not match");
      const err = await failureOf(
        driver.put("bad", body(pieces(1 * MiB, 64 * KiB), { failAtEnd }), {
          metadata: {},
          ifNoneMatch: true,
        }),
      );
      expect(err).toBe(failAtEnd);
      expect((await failureOf(driver.head("bad"))).code).toBe("ENOENT");
      expect(await keys(driver)).toEqual([]);
    },
  );

  it.each([
    ["multipart", 8 * MiB],
    ["resumable", 16 * KiB],
  ])("GCS itself refuses bytes whose declared crc32c is wrong (%s)", async (_label, resumableThreshold) => {
    const { driver } = await standInDriver({ resumableThreshold });
    const data = bytes(64 * KiB);
    // A body that declares a CRC but does not check it: only GCS's own validation stands in the way.
    const err = await failureOf(
      driver.put("k", body([data], { declaredCrc32c: crc32c(data) ^ 1 }), {
        metadata: {},
        ifNoneMatch: false,
      }),
    );
    expect(err.code).toBe("ECORRUPT");
    expect((await failureOf(driver.head("k"))).code).toBe("ENOENT");
  });

  it("reads ranges: first byte, last byte, clipped past the end, empty at the end", async () => {
    const { driver } = await standInDriver();
    const data = bytes(100);
    await driver.put("r", body([data]), { metadata: {}, ifNoneMatch: false });
    const read = async (start: number, end?: number) =>
      Buffer.from(await readAll((await driver.get("r", { range: { start, end } })).body));
    expect(await read(0, 1)).toEqual(Buffer.from(data.subarray(0, 1)));
    expect(await read(99, 100)).toEqual(Buffer.from(data.subarray(99)));
    expect(await read(90, 1000)).toEqual(Buffer.from(data.subarray(90)));
    expect(await read(10)).toEqual(Buffer.from(data.subarray(10)));
    expect((await read(100)).length).toBe(0);
    const ranged = await driver.get("r", { range: { start: 5, end: 6 } });
    expect(ranged.info).toMatchObject({ size: 100, crc32c: crc32c(data) });
  });

  it("a read is pinned to the generation its info describes: a rewrite in between is ENOENT, never mixed bytes", async () => {
    const { driver } = await standInDriver();
    await driver.put("g", body([bytes(100, 1)]), { metadata: {}, ifNoneMatch: false });
    const got = await driver.get("g", {});
    await driver.put("g", body([bytes(100, 2)]), { metadata: {}, ifNoneMatch: false });
    expect((await failureOf(readAll(got.body))).code).toBe("ENOENT");
    expect(await readAll((await driver.get("g", {})).body)).toEqual(Buffer.from(bytes(100, 2)));
  });

  it("lists by prefix in byte order, in pages, with the volume prefix stripped", async () => {
    const { driver, bucket, storage } = await standInDriver({ prefix: "vol/" });
    const names = ["p/é", "p/b", "p/a", "p/z", "q/a", "p/A"];
    for (const k of names) await driver.put(k, body([bytes(2)]), { metadata: {}, ifNoneMatch: false });
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await driver.list("p/", { cursor, limit: 2 });
      pages.push(page.entries.map((e) => e.key));
      cursor = page.cursor;
    } while (cursor);
    expect(pages.flat()).toEqual(["p/A", "p/a", "p/b", "p/z", "p/é"]);
    expect(pages.every((p) => p.length <= 2)).toBe(true);
    const [raw] = await storage.bucket(bucket).getFiles({ prefix: "vol/q/" });
    expect(raw.map((f) => f.name)).toEqual(["vol/q/a"]);
  });

  it("deletes idempotently and reports a missing key as ENOENT", async () => {
    const { driver } = await standInDriver();
    await driver.put("d", body([bytes(1)]), { metadata: {}, ifNoneMatch: false });
    await driver.delete("d");
    await driver.delete("d");
    expect((await failureOf(driver.head("d"))).code).toBe("ENOENT");
    expect((await failureOf(driver.get("d", {}))).code).toBe("ENOENT");
  });

  it("copies server-side keeping size, crc32c and metadata; create-only and missing source fail", async () => {
    const { driver } = await standInDriver();
    const data = bytes(5000);
    await driver.put("src", body([data]), { metadata: { a: "1" }, ifNoneMatch: false });
    const info = await driver.copy("src", "dst", { ifNoneMatch: true });
    expect(info).toMatchObject({ key: "dst", size: 5000, crc32c: crc32c(data), metadata: { a: "1" } });
    expect((await failureOf(driver.copy("src", "dst", { ifNoneMatch: true }))).code).toBe("EEXIST");
    expect((await failureOf(driver.copy("nothing", "dst2", { ifNoneMatch: false }))).code).toBe("ENOENT");
  });

  it("a missing bucket is EUNAVAIL naming the bucket and the setting to fix", async () => {
    const driver = new GcsVolumeDriver({
      name: "gcs-eu",
      bucket: "no-such-bucket",
      storageOptions: gcsStandInStorageOptions(endpoint!),
    });
    const err = await failureOf(driver.put("k", body([bytes(1)]), { metadata: {}, ifNoneMatch: false }));
    expect(err.code).toBe("EUNAVAIL");
    expect(err.message).toContain("bucket `no-such-bucket` does not exist");
    expect(err.message).toContain("volumes.gcs-eu.bucket");
    expect((await failureOf(driver.head("k"))).code).toBe("EUNAVAIL");
  });

  it("an unreachable endpoint is EUNAVAIL", async () => {
    const port = await freePort();
    const driver = new GcsVolumeDriver({
      name: "gcs-down",
      bucket: "b",
      storageOptions: gcsStandInStorageOptions(`http://127.0.0.1:${port}`),
    });
    expect((await failureOf(driver.head("k"))).code).toBe("EUNAVAIL");
    expect(
      (await failureOf(driver.put("k", body([bytes(1)]), { metadata: {}, ifNoneMatch: false }))).code,
    ).toBe("EUNAVAIL");
  });

  it("an aborted signal is EABORTED", async () => {
    const { driver } = await standInDriver();
    const controller = new AbortController();
    controller.abort();
    const signal = controller.signal;
    expect((await failureOf(driver.head("k", { signal }))).code).toBe("EABORTED");
    expect(
      (await failureOf(driver.put("k", body([bytes(1)]), { metadata: {}, ifNoneMatch: false, signal }))).code,
    ).toBe("EABORTED");
  });

  it("bytes corrupted at rest come back as stored (the core's full-read check catches them)", async () => {
    const { driver, bucket } = await standInDriver();
    const data = bytes(4096);
    await driver.put("c", body([data]), { metadata: {}, ifNoneMatch: false });
    await corruptGcsStandInObject(endpoint!, bucket, "c");
    const got = await driver.get("c", {});
    expect(got.info.crc32c).toBe(crc32c(data));
    expect(crc32c(await readAll(got.body))).not.toBe(got.info.crc32c);
  });

  it("keeps memory bounded while streaming a large resumable upload", async () => {
    const { driver } = await standInDriver({ resumableThreshold: 1 * MiB });
    const total = 96 * MiB;
    const before = process.memoryUsage().arrayBuffers;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }, 20);
    try {
      const info = await driver.put("huge", body(pieces(total, 1 * MiB)), {
        metadata: {},
        ifNoneMatch: false,
      });
      expect(info.size).toBe(total);
    } finally {
      clearInterval(sampler);
    }
    // The body is one reused 1 MiB piece: whatever grows is the client's buffering, not the data.
    console.info(
      `[gcs] 96 MiB resumable upload: peak arrayBuffers growth ${((peak - before) / MiB).toFixed(1)} MiB`,
    );
    expect(peak - before).toBeLessThan(16 * MiB);
  });
});

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return typeof address === "object" && address ? address.port : 0;
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe.skipIf(!endpoint)("gcs volume driver talks only to its endpoint, without credentials", () => {
  it("every request (multipart, resumable, read, list, copy, delete) goes to 127.0.0.1 with no Authorization", async () => {
    const upstream = new URL(endpoint!);
    const seen: { method: string; url: string; authorization?: string }[] = [];
    // A recording proxy in front of the stand-in.
    const proxy = http.createServer((req, res) => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization });
      const forward = http.request(
        { host: "127.0.0.1", port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on("error", () => res.destroy());
      req.pipe(forward);
    });
    const port = await listen(proxy);
    const destinations: string[] = [];
    const connect = net.Socket.prototype.connect;
    net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
      // net.connect() passes its normalized arguments as one array.
      const first: unknown = Array.isArray(args[0]) ? args[0][0] : args[0];
      if (first && typeof first === "object" && "port" in first)
        destinations.push(`${(first as net.TcpNetConnectOpts).host ?? "localhost"}`);
      return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
    } as typeof connect;
    try {
      const storage = new Storage(gcsStandInStorageOptions(`http://127.0.0.1:${port}`));
      const bucket = `strata-gcs-proxy-${Date.now()}`;
      await storage.createBucket(bucket);
      const driver = new GcsVolumeDriver({
        name: "gcs-proxy",
        bucket,
        storageOptions: gcsStandInStorageOptions(`http://127.0.0.1:${port}`),
        resumableThreshold: 64 * KiB,
        chunkSize: 256 * KiB,
      });
      await driver.put("small", body([bytes(10)]), { metadata: {}, ifNoneMatch: true });
      await driver.put("large", body(pieces(600 * KiB, 64 * KiB)), { metadata: {}, ifNoneMatch: true });
      await readAll((await driver.get("large", { range: { start: 1, end: 5 } })).body);
      await driver.list("");
      await driver.copy("small", "copy", { ifNoneMatch: true });
      await driver.delete("copy");
      expect(seen.map((r) => r.method)).toEqual(expect.arrayContaining(["POST", "PUT", "GET", "DELETE"]));
      expect(seen.some((r) => r.url.includes("uploadType=multipart"))).toBe(true);
      expect(seen.filter((r) => r.url.includes("upload_id=")).length).toBeGreaterThanOrEqual(3);
      for (const r of seen) expect(r.authorization).toBeUndefined();
      expect(destinations.length).toBeGreaterThan(0);
      expect(new Set(destinations)).toEqual(new Set(["127.0.0.1"]));
    } finally {
      net.Socket.prototype.connect = connect;
      await close(proxy);
    }
  });
});

describe("gcs volume driver maps HTTP failures to strata codes", () => {
  const cases: [number, string, string][] = [
    [404, "No such object: b/k", "ENOENT"],
    [404, "The specified bucket does not exist.", "EUNAVAIL"],
    [412, "At least one of the pre-conditions you specified did not hold.", "ECONFLICT"],
    [429, "The rate of change requests to the object is too high.", "ETHROTTLED"],
    [503, "Service Unavailable", "ETHROTTLED"],
    [500, "Backend Error", "EUNAVAIL"],
    [504, "Gateway Timeout", "ETIMEDOUT"],
    [401, "Invalid Credentials", "EACCES"],
    [403, "does not have storage.objects.get access", "EACCES"],
    [400, "Invalid argument.", "EINVAL"],
  ];
  it.each(cases)(
    "HTTP %i (%s) → %s, on head, multipart put and resumable put",
    async (status, message, code) => {
      const server = http.createServer((req, res) => {
        req.resume();
        req.on("end", () => {
          res.writeHead(status, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: { code: status, message, errors: [{ message, reason: "x" }] } }));
        });
      });
      const port = await listen(server);
      try {
        const driver = new GcsVolumeDriver({
          name: "gcs-errors",
          bucket: "b",
          storageOptions: gcsStandInStorageOptions(`http://127.0.0.1:${port}`),
          resumableThreshold: 16 * KiB,
        });
        const headErr = await failureOf(driver.head("k"));
        expect(headErr.code).toBe(code);
        expect(headErr.details).toMatchObject({ volume: "gcs-errors", key: "k" });
        const small = await failureOf(
          driver.put("k", body([bytes(10)]), { metadata: {}, ifNoneMatch: false }),
        );
        expect(small.code).toBe(code);
        const large = await failureOf(
          driver.put("k", body(pieces(64 * KiB, 8 * KiB)), { metadata: {}, ifNoneMatch: false }),
        );
        expect(large.code).toBe(code);
        if (code === "EACCES")
          expect(headErr.message).toContain("check the credentials of volume gcs-errors");
      } finally {
        await close(server);
      }
    },
  );

  it("a failed create-only precondition (412) is EEXIST", async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(412, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            error: { code: 412, message: "At least one of the pre-conditions you specified did not hold." },
          }),
        );
      });
    });
    const port = await listen(server);
    try {
      const driver = new GcsVolumeDriver({
        name: "gcs-412",
        bucket: "b",
        storageOptions: gcsStandInStorageOptions(`http://127.0.0.1:${port}`),
        resumableThreshold: 16 * KiB,
      });
      expect(
        (await failureOf(driver.put("k", body([bytes(10)]), { metadata: {}, ifNoneMatch: true }))).code,
      ).toBe("EEXIST");
      expect(
        (
          await failureOf(
            driver.put("k", body(pieces(64 * KiB, 8 * KiB)), { metadata: {}, ifNoneMatch: true }),
          )
        ).code,
      ).toBe("EEXIST");
      expect((await failureOf(driver.copy("a", "k", { ifNoneMatch: true }))).code).toBe("EEXIST");
    } finally {
      await close(server);
    }
  });
});
