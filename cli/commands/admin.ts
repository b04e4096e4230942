/** Deployment administration: pfs create|ls|rm, token create|ls|revoke|rotate-key, status. */
import { parseDurationMs } from "../../core/duration.ts";
import { strataError } from "../../core/errors.ts";
import type { Right, TokenSpec } from "../../sdk/index.ts";
import type { CommandSpec } from "../command.ts";
import { describeTarget } from "../connection.ts";
import { columns } from "../format.ts";
import { renderValue } from "../render.ts";
import { flag, str } from "./options.ts";

const pfsCreate: CommandSpec = {
  name: "pfs create",
  summary: "create a PFS (an independent namespace in the deployment)",
  args: "<name>",
  positionals: { min: 1, max: 1 },
  examples: ["strata pfs create scratch", "strata --pfs scratch ls"],
  notes: ['JSON: {"pfs":{"name","id","rootIno","createdTid"}}'],
  async run(ctx, { positionals }) {
    const pfs = await (await ctx.client()).admin.createPfs(positionals[0]!);
    ctx.emit({ pfs }, () => `created PFS ${pfs.name} (id ${pfs.id})`);
    return 0;
  },
};

const pfsLs: CommandSpec = {
  name: "pfs ls",
  summary: "list the deployment's PFSs",
  args: "",
  positionals: { min: 0, max: 0 },
  examples: ["strata pfs ls"],
  notes: ['JSON: {"pfs":[{"name","id","rootIno","createdTid"}]}'],
  async run(ctx) {
    const all = await (await ctx.client()).admin.listPfs();
    ctx.emit({ pfs: all }, () =>
      columns([["NAME", "ID", "CREATED TID"], ...all.map((p) => [p.name, p.id, p.createdTid])]),
    );
    return 0;
  },
};

const pfsRm: CommandSpec = {
  name: "pfs rm",
  summary: "delete an empty PFS",
  args: "<name>",
  positionals: { min: 1, max: 1 },
  examples: ["strata pfs rm scratch"],
  notes: [
    'JSON: {"removed":"<name>"}. A PFS with files is refused (ENOTEMPTY, exit 3): `strata --pfs <name> rm -r /…` first.',
  ],
  async run(ctx, { positionals }) {
    await (await ctx.client()).admin.deletePfs(positionals[0]!);
    ctx.emit({ removed: positionals[0] }, () => []);
    return 0;
  },
};

const RIGHTS: readonly Right[] = ["read", "write", "admin"];

/** "3600", "90s", "45m", "12h", "30d" → seconds. */
export function parseDuration(text: string, option: string): number {
  const seconds = (parseDurationMs(text) ?? Number.NaN) / 1000;
  if (!(seconds > 0)) {
    throw strataError(
      "EINVAL",
      `${option} ${JSON.stringify(text)}: give seconds or a number with s, m, h or d (e.g. 12h, 30d)`,
      {
        option,
        value: text,
      },
    );
  }
  return Math.round(seconds);
}

const tokenCreate: CommandSpec = {
  name: "token create",
  summary: "create a bearer token for the current PFS (needs an admin token)",
  args: "",
  positionals: { min: 0, max: 0 },
  options: {
    rights: {
      type: "string",
      value: "<list>",
      description: "comma-separated: read, write, admin (default: read)",
    },
    prefix: { type: "string", value: "<path>", description: "path prefix the token may touch (default /)" },
    ttl: {
      type: "string",
      value: "<duration>",
      description: "lifetime: seconds or 90m, 12h, 30d (default: the deployment's)",
    },
    label: { type: "string", value: "<text>", description: "a note shown by `token ls`" },
    "all-pfs": { type: "boolean", description: "a token for every PFS (deployment administration)" },
    s3: {
      type: "boolean",
      description: "also print its S3 credentials (access key id and secret) for the S3 gateway, once",
    },
  },
  examples: [
    "strata token create --rights read,write --prefix /renders --ttl 30d --label render-farm",
    "STRATA_TOKEN=$(strata --pfs scratch token create --rights read) strata --pfs scratch ls",
  ],
  notes: [
    "Prints only the token on stdout (details on stderr), so it can be captured; it is never shown again.",
    'JSON: {"token":{"id","token","pfs","prefix","rights","createdAt","expiresAt","revoked","label"?}}',
  ],
  async run(ctx, { options }) {
    const rights = (str(options, "rights") ?? "read").split(",").map((r) => r.trim());
    const bad = rights.filter((r) => !RIGHTS.includes(r as Right));
    if (bad.length > 0 || rights.length === 0) {
      throw strataError("EINVAL", `--rights ${bad.join(",")}: each right is one of read, write, admin`, {
        option: "--rights",
        value: str(options, "rights"),
      });
    }
    const target = await ctx.target();
    const spec: TokenSpec = { pfs: flag(options, "all-pfs") ? "*" : target.pfs, rights: rights as Right[] };
    const prefix = str(options, "prefix");
    if (prefix !== undefined) spec.prefix = prefix;
    const ttl = str(options, "ttl");
    if (ttl !== undefined) spec.ttlSeconds = parseDuration(ttl, "--ttl");
    const label = str(options, "label");
    if (label !== undefined) spec.label = label;
    const client = await ctx.client();
    if (flag(options, "s3")) {
      // docs/s3-gateway.md: access key id = the token id, the secret derived on the server.
      const made = await client.admin.call<{ id: string; token: string; s3: Record<string, string> }>(
        "token.create",
        { ...spec, s3: true },
      );
      if (ctx.json) ctx.emit({ token: made }, () => []);
      else {
        ctx.io.stdout.write(`${made.token}\n`);
        ctx.io.stdout.write(`aws_access_key_id = ${made.s3.accessKeyId}\n`);
        ctx.io.stdout.write(`aws_secret_access_key = ${made.s3.secretAccessKey}\n`);
        ctx.io.stderr.write(`token ${made.id} with S3 credentials: shown only now, keep them.\n`);
      }
      return 0;
    }
    const created = await client.admin.createToken(spec);
    if (ctx.json) {
      ctx.emit({ token: created }, () => []);
    } else {
      ctx.io.stdout.write(`${created.token}\n`);
      ctx.io.stderr.write(
        `token ${created.id}: PFS ${created.pfs}, prefix ${created.prefix}, rights ${created.rights.join(",")}, ` +
          `expires ${created.expiresAt}. It is shown only now: keep it.\n`,
      );
    }
    return 0;
  },
};

const tokenLs: CommandSpec = {
  name: "token ls",
  summary: "list tokens (never their secrets)",
  args: "",
  positionals: { min: 0, max: 0 },
  examples: ["strata token ls", "strata token ls --json"],
  notes: ['JSON: {"tokens":[{"id","pfs","prefix","rights","createdAt","expiresAt","revoked","label"?}]}'],
  async run(ctx) {
    const tokens = await (await ctx.client()).admin.listTokens();
    ctx.emit({ tokens }, () =>
      columns([
        ["ID", "PFS", "PREFIX", "RIGHTS", "EXPIRES", "REVOKED", "LABEL"],
        ...tokens.map((t) => [
          t.id,
          t.pfs,
          t.prefix,
          t.rights.join(","),
          t.expiresAt,
          t.revoked ? "yes" : "",
          t.label ?? "",
        ]),
      ]),
    );
    return 0;
  },
};

const tokenRevoke: CommandSpec = {
  name: "token revoke",
  summary: "revoke a token by id (from `token ls`)",
  args: "<id>",
  positionals: { min: 1, max: 1 },
  examples: ["strata token revoke tok_3f2a9c"],
  notes: ['JSON: {"revoked":"<id>"}'],
  async run(ctx, { positionals }) {
    await (await ctx.client()).admin.revokeToken(positionals[0]!);
    ctx.emit({ revoked: positionals[0] }, () => []);
    return 0;
  },
};

const tokenRotateKey: CommandSpec = {
  name: "token rotate-key",
  summary: "add a new token signing key (the previous one keeps verifying); --retire drops the old one",
  args: "",
  positionals: { min: 0, max: 0 },
  options: {
    retire: {
      type: "boolean",
      description: "keep only the current key: tokens signed by the old one stop working (401)",
    },
  },
  examples: [
    "strata token rotate-key",
    "strata token create --rights read   # new tokens use the new key",
    "strata token rotate-key --retire",
  ],
  notes: [
    "Deployment admin only. Rotate, re-issue tokens, then --retire: at most two keys are active.",
    "On AWS the keys are an SSM SecureString that only the API function may read and rotate (docs/http-api.md).",
    'JSON: {"keys":{"current","active":[…],"where"}}',
  ],
  async run(ctx, { options }) {
    const keys = await (await ctx.client()).admin.call<{ current: string; active: string[]; where: string }>(
      "token.rotateKey",
      { retire: flag(options, "retire") },
    );
    ctx.emit({ keys }, () => [
      `${flag(options, "retire") ? "retired the old keys" : "added a new signing key"}: current ${keys.current}, active ${keys.active.join(", ")} (${keys.where})`,
    ]);
    return 0;
  },
};

const status: CommandSpec = {
  name: "status",
  summary: "health and identity of the deployment",
  args: "",
  positionals: { min: 0, max: 0 },
  examples: ["strata status", "strata status --json"],
  notes: [
    'JSON: {"target":{"kind":"remote","endpoint","pfs"}|{"kind":"local","dir","pfs"},"status":{…}} — status is the server\'s own report (docs/http-api.md), for --local the same report from the in-process registry.',
  ],
  async run(ctx) {
    const target = await ctx.target();
    const report = await (await ctx.client()).admin.status();
    const where =
      target.kind === "local"
        ? { kind: "local", dir: target.dir, pfs: target.pfs }
        : { kind: "remote", endpoint: target.endpoint, pfs: target.pfs };
    ctx.emit({ target: where, status: report }, () => [
      `connected to ${describeTarget(target)}`,
      ...renderValue(report),
    ]);
    return 0;
  },
};

export const adminCommands: CommandSpec[] = [
  pfsCreate,
  pfsLs,
  pfsRm,
  tokenCreate,
  tokenLs,
  tokenRevoke,
  tokenRotateKey,
  status,
];
