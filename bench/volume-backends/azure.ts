/**
 * Benchmark backend "azure": the azurite stand-in (a child process on 127.0.0.1), the Azure volume
 * driver on a fresh container, and — for the ratio — the plain SDK against the same server:
 * `BlockBlobClient.uploadData` with the driver's block size and parallelism, and `download`.
 */

import { AzureVolumeDriver } from "../../adapters/volumes/azure.ts";
import { azuriteServiceClient, startAzureStandIn } from "../../standins/azure.ts";
import type { VolumeBenchBackend } from "./backend.ts";

const BLOCK_SIZE = 8 * 1024 * 1024;
const CONCURRENCY = 4;

export const azureBenchBackend: VolumeBenchBackend = {
  name: "azure",
  async start() {
    const standIn = await startAzureStandIn();
    try {
      const container = azuriteServiceClient(standIn.endpoint).getContainerClient(
        `strata-bench-${Date.now().toString(36)}`,
      );
      // https://learn.microsoft.com/rest/api/storageservices/create-container
      await container.create();
      const driver = new AzureVolumeDriver({
        name: "azure-bench",
        containerClient: container,
        blockSize: BLOCK_SIZE,
        concurrency: CONCURRENCY,
      });
      return {
        driver,
        raw: {
          async put(key, bytes) {
            // https://learn.microsoft.com/javascript/api/@azure/storage-blob/blockblobclient#@azure-storage-blob-blockblobclient-uploaddata
            await container
              .getBlockBlobClient(key)
              .uploadData(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
                blockSize: BLOCK_SIZE,
                maxSingleShotSize: BLOCK_SIZE,
                concurrency: CONCURRENCY,
              });
          },
          async get(key) {
            // https://learn.microsoft.com/rest/api/storageservices/get-blob
            const out = await container.getBlockBlobClient(key).download(0);
            let n = 0;
            for await (const chunk of out.readableStreamBody as AsyncIterable<Uint8Array>)
              n += chunk.byteLength;
            return n;
          },
        },
        async stop() {
          await standIn.stop();
        },
      };
    } catch (err) {
      await standIn.stop();
      throw err;
    }
  },
};
