/**
 * WebDAV fixtures: a whole local deployment (test/support/api-server.ts) with the WebDAV gateway
 * in front of it on 127.0.0.1 and a free port, in remote mode (every request carries a strata
 * token); helpers to send raw WebDAV requests and to find client tools.
 */
import { spawnSync } from "node:child_process";
import { remoteBackend, type WebDavBackend } from "../../gateways/webdav/backend.ts";
import { startWebDavServer, type WebDavServer } from "../../gateways/webdav/server.ts";
import { type ApiFixture, startApiFixture } from "./api-server.ts";

export interface WebDavFixture {
  api: ApiFixture;
  dav: WebDavServer;
  /** The deployment-admin token (the Basic password clients use). */
  token: string;
  dispose(): Promise<void>;
}

export async function startWebDavFixture(
  options: { backend?: (api: ApiFixture) => WebDavBackend; chunkSize?: number } = {},
): Promise<WebDavFixture> {
  const api = await startApiFixture(
    "local",
    undefined,
    options.chunkSize ? { chunkSize: options.chunkSize } : {},
  );
  const backend =
    options.backend?.(api) ?? remoteBackend({ endpoint: api.deployment.endpoint, pfs: "default" });
  const dav = await startWebDavServer({ backend });
  return {
    api,
    dav,
    token: api.adminToken,
    async dispose() {
      await dav.close();
      await api.dispose();
    },
  };
}

/** One raw WebDAV request with a Bearer token (or none). */
export async function davRequest(
  url: string,
  method: string,
  options: { token?: string; headers?: Record<string, string>; body?: string | Uint8Array } = {},
): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, {
    method,
    headers: {
      ...(options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** Is this program on the PATH? */
export function has(program: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" }).status === 0;
}
