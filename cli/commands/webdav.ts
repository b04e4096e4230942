/** `strata serve webdav`: the WebDAV gateway (gateways/webdav/) in front of the deployment the CLI finds. */
import { strataError } from "../../core/errors.ts";
import { type CommandSpec, untilAborted } from "../command.ts";
import { openTarget } from "../connection.ts";
import { portOption, str } from "./options.ts";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

const serveWebDav: CommandSpec = {
  name: "serve webdav",
  summary: "serve the PFS over WebDAV (davfs2, rclone, cadaver, Finder, Explorer) until Ctrl-C",
  args: "",
  positionals: { min: 0, max: 0 },
  options: {
    port: {
      type: "string",
      value: "<port>",
      description: "port to listen on (default 7080; 0 = a free port)",
    },
    host: {
      type: "string",
      value: "<address>",
      description:
        "address to listen on (default 127.0.0.1; anything else needs a deployment reached with tokens)",
    },
  },
  examples: [
    "strata serve webdav --port 7080",
    "strata --local ./data serve webdav",
    "cadaver http://127.0.0.1:7080/   # user: anything, password: a strata token",
  ],
  notes: [
    "Against a server (npm start, --endpoint): every request must carry a strata token, as the Basic-auth password (any user name) or as a Bearer token, and runs with exactly that token's rights and prefix. With --local: the embedded deployment is yours, no credentials, loopback only.",
    "History is read-only under /.strata/as-of/<tid|time>/…, /.strata/snapshots/<name>/… and name@@<tid|time|@snapshot>. Locks live in this process. docs/webdav.md has the rest.",
    'JSON: {"url","pfs","auth":"token"|"none"} once listening.',
  ],
  async run(ctx, { options }) {
    const port = portOption(options, 7080);
    const host = str(options, "host") ?? "127.0.0.1";
    const target = await ctx.target();
    if (target.kind === "local" && !LOOPBACK.has(host))
      throw strataError(
        "EINVAL",
        `--host ${host}: an embedded deployment is served without credentials, so only on loopback; run \`npm start\` and serve it with tokens to listen elsewhere`,
        { option: "--host" },
      );
    // Loaded on use: every other command starts without the gateway.
    const { embeddedBackend, remoteBackend } = await import("../../gateways/webdav/backend.ts");
    const { startWebDavServer } = await import("../../gateways/webdav/server.ts");
    const backend =
      target.kind === "local"
        ? embeddedBackend(await openTarget(target))
        : remoteBackend({ endpoint: target.endpoint, pfs: target.pfs });
    const server = await startWebDavServer({
      backend,
      host,
      port,
      log: (line) => ctx.io.stderr.write(`strata webdav: ${line}\n`),
    });
    const auth = target.kind === "local" ? "none" : "token";
    ctx.emit({ url: server.url, pfs: target.pfs, auth }, () => [
      `strata: WebDAV on ${server.url} (PFS ${target.pfs})`,
      auth === "token"
        ? "  credentials: a strata token as the password (any user name), or Authorization: Bearer <token>"
        : "  credentials: none (embedded deployment, loopback only)",
      "  history:     /.strata/as-of/<tid|time>/…, /.strata/snapshots/<name>/…, name@@<tid>",
      "  Ctrl-C stops it",
    ]);
    await untilAborted(ctx.signal);
    await server.close();
    return 0;
  },
};

export const webDavCommands: CommandSpec[] = [serveWebDav];
