/**
 * An HTTP proxy on 127.0.0.1 that loses replies: every API call to a mutating operation is
 * forwarded, APPLIED by the server, and then its response is thrown away (the client's socket is
 * destroyed) the first time; later attempts of the same call pass through. A call is identified by
 * its Idempotency-Key header, or — when the client sends none — by its route and body.
 *
 * `dropped` keeps each lost response; `answered` the response the same call got on its retry, so a
 * test can compare them byte for byte.
 */
import { createHash } from "node:crypto";
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { isMutating, registry } from "../../functions/api/registry.ts";

export interface Exchange {
  op: string;
  status: number;
  body: string;
}

export interface LossyProxy {
  endpoint: string;
  /** Lost responses, by call id. */
  dropped: Map<string, Exchange>;
  /** The responses the retries of those calls got (the last one), by call id. */
  answered: Map<string, Exchange>;
  close(): Promise<void>;
}

const OP = /\/ops\/([^/?]+)$/;

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

export async function startLossyProxy(upstream: string): Promise<LossyProxy> {
  const target = new URL(upstream);
  const dropped = new Map<string, Exchange>();
  const answered = new Map<string, Exchange>();
  const server: Server = createServer(async (req, res) => {
    try {
      const body = await readAll(req);
      const op = decodeURIComponent(OP.exec(req.url ?? "")?.[1] ?? "");
      const mutating = registry.has(op) && isMutating(registry.get(op)!);
      const key = req.headers["idempotency-key"];
      const id =
        typeof key === "string"
          ? `key:${key}`
          : `body:${createHash("sha256").update(`${req.url}\n`).update(body).digest("hex")}`;
      const upstreamRes = await new Promise<IncomingMessage>((resolve, reject) => {
        const out = httpRequest(
          {
            hostname: target.hostname,
            port: target.port,
            path: req.url,
            method: req.method,
            headers: { ...req.headers, host: target.host },
          },
          resolve,
        );
        out.on("error", reject);
        out.end(body);
      });
      const answer = await readAll(upstreamRes);
      const exchange = { op, status: upstreamRes.statusCode ?? 0, body: answer.toString("utf8") };
      if (mutating && !dropped.has(id)) {
        // Applied upstream; the client never hears of it.
        dropped.set(id, exchange);
        res.socket?.destroy();
        return;
      }
      if (dropped.has(id)) answered.set(id, exchange);
      res.writeHead(exchange.status, upstreamRes.headers);
      res.end(answer);
    } catch {
      res.socket?.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    dropped,
    answered,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
