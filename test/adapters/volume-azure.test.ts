/**
 * The Azure Blob volume driver: the shared conformance suite against azurite (and against real Azure
 * when `STRATA_TEST_AZURE_CONNECTION_STRING` and `STRATA_TEST_AZURE_CONTAINER` are set), plus
 * focused tests of what is specific to Azure: the metadata-name mapping, block uploads that are
 * abandoned, key prefixes, and error mapping.
 */
import { type ContainerClient, StorageRetryPolicyType } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AZURE_CRC_METADATA,
  AzureVolumeDriver,
  fromAzureMetadataName,
  mapAzureError,
  toAzureMetadataName,
} from "../../adapters/volumes/azure.ts";
import { crc32c, crc32cToHex } from "../../core/crc32c.ts";
import { isStrataError } from "../../core/errors.ts";
import { Volume } from "../../core/volume/volume.ts";
import { AZURITE_KEY, azuriteServiceClient } from "../../standins/azure.ts";
import { freePort } from "../../standins/child.ts";
import { lazyStream, patternBytes, testVolume } from "../conformance/volume.ts";
import { standInEndpoint } from "../support/standins.ts";
import {
  corruptAzureBlob,
  expectStraddlingBodyStoredExact,
  realRunPrefix,
  skippedSuite,
  uniqueName,
} from "../support/volumes.ts";

const MiB = 1024 * 1024;
const endpoint = standInEndpoint("azure");

async function emptyPrefix(container: ContainerClient, prefix: string): Promise<void> {
  for await (const blob of container.listBlobsFlat({ prefix })) await container.deleteBlob(blob.name);
}

/** A fresh container on azurite and a driver on it. */
async function standInContainer(prefix = "") {
  const container = azuriteServiceClient(endpoint!).getContainerClient(uniqueName("az"));
  // https://learn.microsoft.com/rest/api/storageservices/create-container
  await container.create();
  const driver = new AzureVolumeDriver({ name: "azure-test", containerClient: container, prefix });
  return { container, driver, dispose: async () => void (await container.delete()) };
}

if (endpoint) {
  testVolume("azure (azurite)", async () => {
    const fx = await standInContainer();
    return {
      driver: fx.driver,
      corruptAtRest: (key) => corruptAzureBlob(fx.container, key),
      dispose: fx.dispose,
    };
  });
} else {
  skippedSuite(
    "volume conformance: azure (azurite)",
    "needs the azure stand-in",
    "the azure stand-in was not started (STRATA_STANDINS excludes azure)",
    "volume-azure",
  );
}

const realConnection = process.env.STRATA_TEST_AZURE_CONNECTION_STRING;
const realContainer = process.env.STRATA_TEST_AZURE_CONTAINER;
if (realConnection && realContainer) {
  testVolume("azure (real Azure)", async () => {
    const prefix = realRunPrefix();
    const driver = new AzureVolumeDriver({
      name: "azure-real",
      connectionString: realConnection,
      container: realContainer,
      prefix,
    });
    return {
      driver,
      corruptAtRest: (key) => corruptAzureBlob(driver.container, prefix + key),
      dispose: () => emptyPrefix(driver.container, prefix),
    };
  });
} else {
  skippedSuite(
    "volume conformance: azure (real Azure)",
    "needs STRATA_TEST_AZURE_CONNECTION_STRING and STRATA_TEST_AZURE_CONTAINER",
    "STRATA_TEST_AZURE_CONNECTION_STRING and STRATA_TEST_AZURE_CONTAINER are not both set: no real-Azure run",
    "volume-azure",
  );
}

describe("azure metadata names", () => {
  it("map strata names to C# identifiers and back, and never onto the CRC entry", () => {
    for (const name of ["origin", "x-1", "a-b-c", "0lead", "n"]) {
      const azure = toAzureMetadataName(name);
      expect(azure).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
      expect(fromAzureMetadataName(azure)).toBe(name);
      expect(azure).not.toBe(AZURE_CRC_METADATA);
    }
    expect(fromAzureMetadataName(AZURE_CRC_METADATA)).toBeUndefined();
    expect(fromAzureMetadataName("Foreign")).toBeUndefined();
  });
});

describe.skipIf(!endpoint)("azure volume driver specifics (azurite)", () => {
  let fx: Awaited<ReturnType<typeof standInContainer>>;
  let volume: Volume;
  beforeAll(async () => {
    fx = await standInContainer("vol/");
    volume = new Volume(fx.driver, { retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it("keys live under the configured prefix; metadata is stored under mapped names with the CRC", async () => {
    const bytes = Uint8Array.of(1, 2);
    await volume.put("a/b", bytes, { metadata: { "x-1": "v" } });
    const names: string[] = [];
    for await (const b of fx.container.listBlobsFlat()) names.push(b.name);
    expect(names).toEqual(["vol/a/b"]);
    const props = await fx.container.getBlockBlobClient("vol/a/b").getProperties();
    expect(props.metadata).toEqual({ u_x_1: "v", [AZURE_CRC_METADATA]: crc32cToHex(crc32c(bytes)) });
    expect((await volume.list("a/")).entries).toEqual([{ key: "a/b", size: 2 }]);
    expect(await volume.copy("a/b", "a/c")).toMatchObject({ key: "a/c", size: 2, metadata: { "x-1": "v" } });
    expect((await volume.list("")).entries.map((e) => e.key)).toEqual(["a/b", "a/c"]);
  });

  it("a body whose chunks straddle part boundaries (one 20 MiB chunk, then odd ones) is stored byte-exact", async () => {
    await expectStraddlingBodyStoredExact(volume, "blocks/one-big-chunk");
  });

  it("a block upload (several blocks in parallel) commits once, with the CRC and metadata", async () => {
    const size = 19 * MiB + 3;
    const info = await volume.put("blocks/ok", lazyStream(size, MiB, 51), { metadata: { origin: "t" } });
    const blob = fx.container.getBlockBlobClient("vol/blocks/ok");
    const list = await blob.getBlockList("committed");
    expect(list.committedBlocks?.length).toBe(3);
    expect((await blob.getProperties()).metadata?.[AZURE_CRC_METADATA]).toBe(crc32cToHex(info.crc32c));
    expect(await volume.head("blocks/ok")).toMatchObject({
      size,
      crc32c: info.crc32c,
      metadata: { origin: "t" },
    });
  });

  it("a block upload whose body fails its declared CRC at the end commits nothing", async () => {
    const err = await volume
      .put("blocks/bad", lazyStream(20 * MiB, MiB, 52), { crc32c: 12345 })
      .catch((e: unknown) => e);
    expect(isStrataError(err, "ECORRUPT")).toBe(true);
    expect(await volume.head("blocks/bad").catch((e: unknown) => isStrataError(e, "ENOENT"))).toBe(true);
    expect((await volume.list("blocks/bad")).entries).toEqual([]);
  });

  it("a create-only block upload onto an existing key is EEXIST and leaves the old bytes", async () => {
    const first = patternBytes(100, 53);
    await volume.put("blocks/once", first);
    const err = await volume
      .put("blocks/once", lazyStream(10 * MiB, MiB, 54), { ifNoneMatch: true })
      .catch((e: unknown) => e);
    expect(isStrataError(err, "EEXIST")).toBe(true);
    expect(crc32c(await volume.getBytes("blocks/once"))).toBe(crc32c(first));
    // It failed before staging: no uncommitted blocks were uploaded for nothing.
    const blocks = await fx.container.getBlockBlobClient("vol/blocks/once").getBlockList("uncommitted");
    expect(blocks.uncommittedBlocks ?? []).toEqual([]);
  });

  it("a blob without a recorded CRC (not written by strata) is refused with EIO, not trusted", async () => {
    await fx.container.getBlockBlobClient("vol/foreign").upload("x", 1);
    const err = await volume.head("foreign").catch((e: unknown) => e);
    expect(isStrataError(err, "EIO")).toBe(true);
    expect(isStrataError(await fx.driver.get("foreign", {}).catch((e: unknown) => e), "EIO")).toBe(true);
    expect(isStrataError(await volume.getBytes("foreign").catch((e: unknown) => e), "EIO")).toBe(true);
  });

  it("a missing container is EUNAVAIL naming the setting to fix", async () => {
    const driver = new AzureVolumeDriver({
      name: "az-nocontainer",
      containerClient: azuriteServiceClient(endpoint!).getContainerClient("strata-no-such-container"),
    });
    const err = await driver.list("").catch((e: unknown) => e);
    expect(isStrataError(err, "EUNAVAIL")).toBe(true);
    expect(String(err)).toContain("volumes.az-nocontainer.container");
  });

  it("refused credentials are EACCES", async () => {
    const wrongKey = AZURITE_KEY.replace(/^E/, "F");
    const connection = azuriteServiceClient(endpoint!).url; // http://127.0.0.1:N/devstoreaccount1
    const driver = new AzureVolumeDriver({
      name: "az-badkey",
      connectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${wrongKey};BlobEndpoint=${connection};`,
      container: fx.container.containerName,
    });
    const err = await driver.head("vol/a/b").catch((e: unknown) => e);
    expect(isStrataError(err, "EACCES")).toBe(true);
    expect(String(err)).toContain("check credentials for volume az-badkey");
  });

  it("a refused connection is EUNAVAIL (retryable)", async () => {
    const port = await freePort(); // nothing listens there
    const { ContainerClient: Client, StorageSharedKeyCredential } = await import("@azure/storage-blob");
    const client = new Client(
      `http://127.0.0.1:${port}/devstoreaccount1/c`,
      new StorageSharedKeyCredential("devstoreaccount1", AZURITE_KEY),
      { retryOptions: { maxTries: 1, retryPolicyType: StorageRetryPolicyType.FIXED } },
    );
    const driver = new AzureVolumeDriver({ name: "az-down", containerClient: client });
    const err = await driver.head("k").catch((e: unknown) => e);
    expect(isStrataError(err, "EUNAVAIL")).toBe(true);
    expect(isStrataError(err) && err.retryable).toBe(true);
  });

  it("an aborted signal is EABORTED", async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await fx.driver.head("a/b", { signal: controller.signal }).catch((e: unknown) => e);
    expect(isStrataError(err, "EABORTED")).toBe(true);
  });
});

describe("azure error mapping", () => {
  const where = { volume: "v", container: "c", op: "put", key: "k" };
  const restError = (code: string, statusCode: number) =>
    Object.assign(new Error(code), { name: "RestError", code, statusCode, details: { errorCode: code } });

  it.each([
    ["BlobNotFound", 404, false, "ENOENT"],
    ["ContainerNotFound", 404, false, "EUNAVAIL"],
    ["BlobAlreadyExists", 409, true, "EEXIST"],
    ["ConditionNotMet", 412, true, "EEXIST"],
    ["ConditionNotMet", 412, false, "ECONFLICT"],
    ["ServerBusy", 503, false, "ETHROTTLED"],
    ["AuthenticationFailed", 403, false, "EACCES"],
    ["AuthorizationFailure", 403, false, "EACCES"],
    ["InternalError", 500, false, "EUNAVAIL"],
    ["Md5Mismatch", 400, false, "ECORRUPT"],
    ["InvalidHeaderValue", 400, false, "EINVAL"],
  ] as const)("%s (%i, create-only %s) → %s", (code, status, createOnly, want) => {
    const err = mapAzureError(restError(code, status), { ...where, createOnly });
    expect(err.code).toBe(want);
    expect(err.details).toMatchObject({ volume: "v", key: "k" });
    expect(err.cause).toBeDefined();
  });

  it("network errors and aborts", () => {
    expect(mapAzureError(Object.assign(new Error("x"), { code: "ECONNREFUSED" }), where).code).toBe(
      "EUNAVAIL",
    );
    expect(mapAzureError(Object.assign(new Error("x"), { code: "ETIMEDOUT" }), where).code).toBe("ETIMEDOUT");
    expect(mapAzureError(Object.assign(new Error("x"), { name: "AbortError" }), where).code).toBe("EABORTED");
  });
});
