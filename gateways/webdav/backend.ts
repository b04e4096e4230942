/**
 * Where the WebDAV gateway gets its strata client for a request.
 *
 * - `remoteBackend`: a deployment's HTTP API; every request's credential (Basic password or
 *   Bearer token) is a strata token, and the request runs on a client holding exactly that token,
 *   so the deployment's confinement (PFS, prefix, rights, expiry, revocation) applies to it.
 * - `embeddedBackend`: one client the caller opened (`connect({ local })`): the owner's own
 *   deployment, no credentials (the gateway listens on loopback).
 */
import { createHash } from "node:crypto";
import { connect, type Strata } from "../../sdk/index.ts";

export interface WebDavBackend {
  /** Whether a request without credentials is refused with 401. */
  readonly requiresAuth: boolean;
  /** The client for a request presenting `token` (undefined: none presented). */
  clientFor(token: string | undefined): Promise<Strata>;
  /**
   * May this client take locks? Locks live in the gateway, not the deployment, so without this a
   * read-only token could lock files and block writers. Absent: yes (the embedded owner).
   */
  mayLock?(client: Strata): Promise<boolean>;
  close(): Promise<void>;
}

/** One client for every request (the embedded deployment: its owner's files, no tokens). */
export function embeddedBackend(client: Strata): WebDavBackend {
  return {
    requiresAuth: false,
    clientFor: async () => client,
    close: () => client.close(),
  };
}

/** Clients kept per token (by its hash); the oldest is closed past this many. */
const MAX_CLIENTS = 64;

/** A client per presented token over the deployment's HTTP API. */
export function remoteBackend(options: { endpoint: string; pfs: string }): WebDavBackend {
  const clients = new Map<string, Promise<Strata>>();
  const writers = new WeakMap<Strata, Promise<boolean>>();
  return {
    requiresAuth: true,
    mayLock(client) {
      let answer = writers.get(client);
      if (!answer) {
        // The deployment's status names the caller's token and its rights (read < write < admin).
        answer = client.admin.status().then((s) => {
          const rights = (s.token as { rights?: unknown } | undefined)?.rights;
          return Array.isArray(rights) && (rights.includes("write") || rights.includes("admin"));
        });
        answer.catch(() => writers.delete(client));
        writers.set(client, answer);
      }
      return answer;
    },
    clientFor(token) {
      const key = principalOf(token);
      let client = clients.get(key);
      if (client) {
        clients.delete(key); // most recently used last
      } else {
        client = connect({ endpoint: options.endpoint, token, pfs: options.pfs });
        client.catch(() => clients.delete(key));
      }
      clients.set(key, client);
      while (clients.size > MAX_CLIENTS) {
        const [oldest, evicted] = clients.entries().next().value as [string, Promise<Strata>];
        clients.delete(oldest);
        void evicted.then((c) => c.close()).catch(() => {});
      }
      return client;
    },
    async close() {
      const all = [...clients.values()];
      clients.clear();
      await Promise.allSettled(all.map(async (c) => (await c).close()));
    },
  };
}

/** Who a credential belongs to, for lock ownership: a hash, so the token is never kept as a key. */
export function principalOf(token: string | undefined): string {
  return token === undefined ? "anonymous" : createHash("sha256").update(token).digest("hex").slice(0, 32);
}
