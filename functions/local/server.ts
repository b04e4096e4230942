/**
 * The local HTTP server: node:http → the same `handle()` as Lambda, plus the `/v1/blobs/...`
 * route that serves presigned URLs of local-directory volumes. Thin.
 *
 * `stop()` stops accepting, lets in-flight requests finish (acknowledged writes are committed
 * before their response is sent, so nothing acknowledged is lost), then resolves. A request that
 * arrives on a kept-alive connection after `stop()` began is answered 503 EUNAVAIL with
 * `connection: close` (it changed nothing): otherwise busy clients reusing their connections would
 * keep the server draining for as long as they keep sending.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { LocalBlobSigner } from "../../adapters/presign/local.ts";
import { strataError } from "../../core/errors.ts";
import type { Volume } from "../../core/volume/volume.ts";
import {
  type ApiRequest,
  type ApiResponse,
  errorResponse,
  handle,
  MAX_BODY_BYTES,
  RequestTiming,
} from "../api/handle.ts";
import { REQUEST_ID_HEADER } from "../api/internal-error.ts";
import type { Services } from "../api/services.ts";
import { BLOB_ROUTE_PREFIX, serveBlob } from "./blobs.ts";
import { type Log, logRequest, nextRequestId } from "./log.ts";

export interface LocalServer {
  /** e.g. http://127.0.0.1:7070 */
  readonly endpoint: string;
  readonly server: Server;
  /** Stop accepting, wait for in-flight requests, close idle connections. */
  stop(): Promise<void>;
}

export interface LocalServerOptions {
  /** Port (0 = a free one). */
  port: number;
  host?: string;
  /** Local volumes whose presigned URLs this server answers, with the URL signing key. */
  blobs?: {
    /** Local volumes by name, or a lookup (the volume records). */
    volumes: Record<string, Volume> | ((name: string) => Promise<Volume | undefined>);
    signer: LocalBlobSigner;
  };
  /**
   * Timing hook, off by default: each API request's time by section (ms: read, route, auth, json,
   * validate, store, idempotency, respond, total; functions/api/handle.ts RequestTiming) is
   * handed to `add` after its response is written. `npm run bench -- http` prints it.
   */
  timing?: { add(sections: Record<string, number>): void };
  /** One line per request (functions/local/log.ts); none when absent. */
  log?: Log;
}

/**
 * The request body as text. Events rather than `for await`: the API's bodies are small, and the
 * async iterator cost more than the rest of reading them. Too large: E2BIG at once; the reply
 * then closes the connection (the rest of the body is never parsed as a request).
 */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const onData = (piece: Buffer) => {
      size += piece.length;
      if (size > MAX_BODY_BYTES) {
        req.off("data", onData);
        reject(
          strataError(
            "E2BIG",
            `request bodies are limited to ${MAX_BODY_BYTES} bytes; file bytes go by presigned URL`,
          ),
        );
        return;
      }
      parts.push(piece);
    };
    req.on("data", onData);
    req.once("end", () =>
      resolve(parts.length === 1 ? parts[0]!.toString("utf8") : Buffer.concat(parts).toString("utf8")),
    );
    req.once("error", reject);
    // The client went away before the end: no 'end' will come (after 'end' this changes nothing).
    req.once("close", () => reject(strataError("EABORTED", "the client went away")));
  });
}

export async function startLocalServer(
  services: Services,
  options: LocalServerOptions,
): Promise<LocalServer> {
  let inFlight = 0;
  let idle: (() => void) | undefined;
  const done = () => {
    inFlight--;
    if (inFlight === 0) idle?.();
  };

  let stopping: Promise<void> | undefined;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    res.once("close", done);
    if (stopping) {
      const refused = errorResponse(strataError("EUNAVAIL", "the server is stopping; retry when it is back"));
      res.writeHead(refused.status, { ...refused.headers, connection: "close" });
      res.end(refused.body);
      return;
    }
    const path = (req.url ?? "/").split("?")[0]!;
    const log = options.log;
    const started = log ? performance.now() : 0;
    if (options.blobs && path.startsWith(BLOB_ROUTE_PREFIX)) {
      void serveBlob(req, res, options.blobs.volumes, options.blobs.signer).finally(() => {
        if (log)
          logRequest(
            log,
            { method: req.method ?? "GET", path },
            { status: res.statusCode },
            performance.now() - started,
            nextRequestId(),
          );
      });
      return;
    }
    const abort = new AbortController();
    res.once("close", () => {
      // Only while the answer is still being made: after `end` the socket may still be flushing
      // (writableFinished false), and building an error for every such request cost more than
      // the rest of closing it.
      if (!res.writableEnded) abort.abort(strataError("EABORTED", "the client went away"));
    });
    const timing = options.timing ? new RequestTiming() : undefined;
    void (async () => {
      let response: ApiResponse;
      try {
        const request: ApiRequest = {
          method: req.method ?? "GET",
          path,
          headers: req.headers as Record<string, string | undefined>,
          body: await readBody(req),
        };
        timing?.lap("read");
        response = await handle(request, services, abort.signal, timing);
      } catch (err) {
        response = errorResponse(err);
      }
      // A reply sent before the body was read (E2BIG) leaves the rest of it on the socket, where
      // it would be parsed as the next request: close the connection instead of keeping it alive.
      const headers =
        req.complete && !stopping ? response.headers : { ...response.headers, connection: "close" };
      let id = "";
      if (log) {
        id = headers[REQUEST_ID_HEADER] ?? nextRequestId();
        headers[REQUEST_ID_HEADER] = id;
      }
      res.writeHead(response.status, headers);
      res.end(response.body);
      if (log)
        logRequest(log, { method: req.method ?? "GET", path }, response, performance.now() - started, id);
      if (timing) {
        timing.lap("respond");
        options.timing!.add(timing.end());
      }
    })();
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://${options.host ?? "127.0.0.1"}:${port}`;

  return {
    endpoint,
    server,
    stop() {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
        server.closeIdleConnections();
        await closed;
      })();
      return stopping;
    },
  };
}
