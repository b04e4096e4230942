/** Scrub's shared suite on SQLite metadata + two Azure Blob volumes on the azure stand-in. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { azuriteServiceClient } from "../../adapters/standins/azure.ts";
import { AzureVolumeDriver } from "../../adapters/volumes/azure.ts";
import { testScrub } from "../conformance/scrub.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("azure");
let seq = 0;

if (endpoint) {
  testScrub("sqlite + azure volumes (azurite)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "strata-scrub-azure-"));
    const store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
    const container = azuriteServiceClient(endpoint).getContainerClient(
      `strata-scrub-${process.pid}-${Date.now().toString(36)}-${seq++}`,
    );
    // https://learn.microsoft.com/rest/api/storageservices/create-container
    await container.create();
    const driver = (name: string) =>
      new AzureVolumeDriver({ name, containerClient: container, prefix: `${name}/` });
    return {
      store,
      drivers: { a: driver("a"), b: driver("b") },
      async corruptAtRest(volume, key) {
        // Re-upload with one byte flipped and the same metadata (its recorded CRC32C).
        const blob = container.getBlockBlobClient(`${volume}/${key}`);
        // https://learn.microsoft.com/rest/api/storageservices/get-blob-properties
        const { metadata } = await blob.getProperties();
        // https://learn.microsoft.com/rest/api/storageservices/get-blob
        const bytes = await blob.downloadToBuffer();
        bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
        // https://learn.microsoft.com/rest/api/storageservices/put-blob
        await blob.upload(bytes, bytes.length, { metadata });
      },
      async dispose() {
        await store.close();
        await rm(dir, { recursive: true, force: true });
        // https://learn.microsoft.com/rest/api/storageservices/delete-container
        await container.delete();
      },
    };
  });
} else {
  describe("scrub: sqlite + azure volumes (azurite)", () => {
    it("needs the azure stand-in", (ctx) => {
      console.info(
        "[scrub-azure] skipped: the azure stand-in was not started (STRATA_STANDINS excludes azure)",
      );
      ctx.skip("the azure stand-in was not started (STRATA_STANDINS excludes azure)");
    });
  });
}
