/**
 * Azure Blob SAS URLs (service SAS signed with the account key, StorageSharedKeyCredential): one
 * blob, permissions `cw` (create + write) for PUT or `r` for GET, until expiry, https only (http
 * only for a loopback stand-in: {@link loopback}). A SAS cannot bind
 * request headers, so the CRC metadata header is handed to the client to send, and the server
 * reads every uploaded chunk back before committing it (a blob without it fails that check).
 */
import {
  BlobSASPermissions,
  type ContainerClient,
  generateBlobSASQueryParameters,
  SASProtocol,
  type StorageSharedKeyCredential,
} from "@azure/storage-blob";
import { crc32cToHex } from "../../core/crc32c.ts";
import type { PresignedRequest, Presigner, PresignRequest } from "../../core/volume/presign.ts";
import { AZURE_CRC_METADATA } from "../volumes/azure.ts";

export interface AzurePresignerOptions {
  containerClient: ContainerClient;
  credential: StorageSharedKeyCredential;
  /** The volume's blob-name prefix (as the driver's `prefix`). */
  prefix?: string;
}

/**
 * True for a stand-in on this machine (Azurite on 127.0.0.1 / localhost / ::1), the only place a
 * SAS may allow plain http; anywhere else a SAS is https-only, so it never crosses a network in
 * clear text.
 */
export function loopback(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export class AzurePresigner implements Presigner {
  constructor(private readonly options: AzurePresignerOptions) {}

  async presign(request: PresignRequest): Promise<PresignedRequest> {
    const { containerClient, credential } = this.options;
    const blobName = (this.options.prefix ?? "") + request.key;
    const expiresOn = new Date(Date.now() + request.expiresInSeconds * 1000);
    const sas = generateBlobSASQueryParameters(
      {
        containerName: containerClient.containerName,
        blobName,
        permissions: BlobSASPermissions.parse(request.method === "PUT" ? "cw" : "r"),
        startsOn: new Date(Date.now() - 60_000),
        expiresOn,
        protocol: loopback(containerClient.url) ? SASProtocol.HttpsAndHttp : SASProtocol.Https,
      },
      credential,
    ).toString();
    const url = `${containerClient.getBlockBlobClient(blobName).url}?${sas}`;
    const headers: Record<string, string> = {};
    if (request.method === "PUT") {
      headers["x-ms-blob-type"] = "BlockBlob";
      if (request.crc32c !== undefined)
        headers[`x-ms-meta-${AZURE_CRC_METADATA}`] = crc32cToHex(request.crc32c);
    }
    return { url, method: request.method, headers, expiresAt: expiresOn.toISOString() };
  }
}
