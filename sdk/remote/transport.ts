/**
 * How the remote SDK sends one API call (sdk/remote/rpc.ts `Rpc`): a POST of a small JSON body over
 * node:http(s) with one keep-alive agent per protocol for the whole process, so consecutive and
 * concurrent calls reuse open connections instead of paying a TCP handshake each.
 *
 * Why not `fetch`: on Node 20 its per-request cost (WHATWG streams, Headers, Response objects)
 * was several times the server's whole work for a `fs.stat` (`npm run bench -- http`). Bytes to
 * and from volumes still go by `fetch` (presigned URLs: few, large requests).
 *
 * Idle connections: the agent keeps them until the server's `Keep-Alive: timeout=N` hint minus
 * one second (Node's agent reads it; the local server says 5 s), so the client gives a
 * connection up before the server closes it. A call that still meets a connection closed under
 * it fails like any network failure and is retried with the same Idempotency-Key (rpc.ts).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

const agents = {
  http: new HttpAgent({ keepAlive: true, scheduling: "lifo" }),
  https: new HttpsAgent({ keepAlive: true, scheduling: "lifo" }),
};

/** The answer to one call: its status and body text. */
export interface RpcReply {
  status: number;
  ok: boolean;
  text: string;
}

/**
 * POST `body` to `url` and read the whole answer. Rejects on a network failure or when `signal`
 * aborts (the caller tells them apart by `signal.aborted`), like `fetch`.
 */
export function postJson(
  url: string,
  headers: Record<string, string>,
  body: string,
  signal?: AbortSignal,
): Promise<RpcReply> {
  const https = url.startsWith("https:");
  return new Promise<RpcReply>((resolve, reject) => {
    const request = (https ? httpsRequest : httpRequest)(
      url,
      {
        method: "POST",
        agent: https ? agents.https : agents.http,
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        ...(signal ? { signal } : {}),
      },
      (res: IncomingMessage) => {
        const parts: Buffer[] = [];
        res.on("data", (part: Buffer) => parts.push(part));
        res.on("error", reject);
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          resolve({ status, ok: status >= 200 && status < 300, text: Buffer.concat(parts).toString("utf8") });
        });
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}
