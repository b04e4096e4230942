/** `strata serve s3`: the S3-compatible gateway in front of a deployment (docs/s3-gateway.md). */
import { strataError } from "../../core/errors.ts";
import { type CommandSpec, untilAborted } from "../command.ts";
import { portOption, str } from "./options.ts";

const serveS3Command: CommandSpec = {
  name: "serve s3",
  summary: "serve the S3-compatible gateway in front of this deployment (until Ctrl-C)",
  args: "",
  positionals: { min: 0, max: 0 },
  options: {
    port: {
      type: "string",
      value: "<port>",
      description: "port to listen on (default 7071; 0 = a free one)",
    },
    host: { type: "string", value: "<address>", description: "address to listen on (default 127.0.0.1)" },
    region: {
      type: "string",
      value: "<region>",
      description: "the region clients sign for (default us-east-1)",
    },
    domain: {
      type: "string",
      value: "<domain>",
      description: "base domain for virtual-hosted-style requests (bucket.<domain>); path style always works",
    },
  },
  examples: [
    "strata serve s3 --port 7071",
    "strata token create --rights read,write --s3   # prints the access key id and secret for S3 clients",
    "strata --endpoint https://api.example.com --token $ADMIN_TOKEN serve s3 --host 0.0.0.0 --port 9000",
  ],
  notes: [
    "The gateway needs a deployment's HTTP API and a deployment admin token (pfs *, admin): `npm start`'s connection.json, or --endpoint/--token. It uses that token only to resolve access keys; every S3 request is served with the requester's own token, so an access key reaches exactly what its token can.",
    "Bucket = PFS, key = path; docs/s3-gateway.md lists the operations and what is not supported. Then e.g. `aws --endpoint-url http://127.0.0.1:7071 s3 ls s3://default/`.",
  ],
  async run(ctx, { options }) {
    const target = await ctx.target();
    if (target.kind !== "remote" || !target.token)
      throw strataError(
        "EINVAL",
        "serve s3 needs a deployment's HTTP API and an admin token (npm start, or --endpoint and --token); an embedded --local directory has no tokens to confine S3 requests with",
      );
    const port = portOption(options, 7071);
    // Loaded on use: every other command starts without the gateway and its XML parser.
    const { serveS3 } = await import("../../gateways/s3/index.ts");
    const gateway = await serveS3({
      endpoint: target.endpoint,
      token: target.token,
      host: str(options, "host") ?? "127.0.0.1",
      port,
      region: str(options, "region"),
      domain: str(options, "domain"),
    });
    ctx.emit({ endpoint: gateway.endpoint, region: gateway.region }, () => [
      `strata: S3 gateway on ${gateway.endpoint} (region ${gateway.region}, path style; bucket = PFS)`,
      "credentials: `strata token create --rights read,write --s3` prints an access key id and secret",
    ]);
    await untilAborted(ctx.signal);
    await gateway.close();
    return 0;
  },
};

export const s3Commands: CommandSpec[] = [serveS3Command];
