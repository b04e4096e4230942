/**
 * The token key ring in the cloud: one SSM Parameter Store SecureString
 * (https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-parameter-store.html),
 * holding the ring's one-line text (adapters/auth/keys.ts), encrypted with KMS.
 *
 * Why SSM and not the table or the bundle: whoever can read the metadata table (or its PITR
 * exports and backups), the function's configuration (`lambda:GetFunction`) or the deployer's state
 * must not be able to mint a token. Only the API function's role may read this parameter with
 * decryption (stacks/api.ts grants ssm:GetParameter/PutParameter on this one ARN).
 *
 * - First use: a missing parameter is created with a fresh key (`Overwrite: false`, so of two
 *   cold starts racing, one ring wins and both read it back). A first deploy needs no manual step.
 * - Reads are cached for `cacheMs` (default 60 s); a token naming a key the cached ring lacks reads
 *   again at once (a rotation by another container verifies immediately).
 * - `rotate`/`retire` overwrite the parameter (a new SSM version). SSM has no conditional put: of
 *   two rotations at the same moment the last one wins (documented in docs/http-api.md). A retired
 *   key stops verifying in other containers within `cacheMs`.
 */
import {
  GetParameterCommand,
  type GetParameterCommandOutput,
  PutParameterCommand,
  type PutParameterCommandOutput,
} from "@aws-sdk/client-ssm";
import { strataError } from "../../core/errors.ts";
import { formatKeyRing, type KeyRing, type KeySource, newKey, parseKeyRing, rotated } from "./keys.ts";

/** The part of `SSMClient` used here (injectable: unit tests pass a recording fake). */
export interface SsmSender {
  send(command: GetParameterCommand): Promise<GetParameterCommandOutput>;
  send(command: PutParameterCommand): Promise<PutParameterCommandOutput>;
}

export interface SsmKeyRingOptions {
  client: SsmSender;
  /** The parameter's name, e.g. `/strata/prod/token-keys`. */
  name: string;
  /** How long a read ring is used before reading again (ms). */
  cacheMs?: number;
  clock?: () => number;
}

export function ssmKeyRing(options: SsmKeyRingOptions): KeySource {
  const { client, name } = options;
  const cacheMs = options.cacheMs ?? 60_000;
  const clock = options.clock ?? Date.now;
  const where = `SSM parameter ${name}`;
  let cached: { at: number; ring: KeyRing } | undefined;

  const put = async (ring: KeyRing, overwrite: boolean): Promise<void> => {
    // https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
    await client.send(
      new PutParameterCommand({
        Name: name,
        Type: "SecureString",
        Value: formatKeyRing(ring),
        Overwrite: overwrite,
        Description: "strata token signing keys: <current id>:<base64url>[,<older id>:<base64url>]",
      }),
    );
    cached = undefined;
  };

  const read = async (): Promise<KeyRing> => {
    let value: string | undefined;
    try {
      // https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html
      const out = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
      value = out.Parameter?.Value;
    } catch (err) {
      if (errorName(err) !== "ParameterNotFound") throw ssmError(err, name, "read");
    }
    if (value === undefined) {
      try {
        await put({ keys: [newKey()] }, false);
      } catch (err) {
        if (errorName(err) !== "ParameterAlreadyExists") throw ssmError(err, name, "create");
      }
      return read();
    }
    const ring = parseKeyRing(value, where);
    cached = { at: clock(), ring };
    return ring;
  };

  const ring = async (wanted?: string): Promise<KeyRing> => {
    if (cached && clock() - cached.at < cacheMs) {
      if (wanted === undefined || cached.ring.keys.some((k) => k.id === wanted)) return cached.ring;
    }
    return read();
  };

  return {
    where,
    ring,
    async rotate(keyId) {
      const now = await read();
      const next = rotated(now, keyId);
      if (next === now) return now;
      await put(next, true).catch((err) => {
        throw ssmError(err, name, "write");
      });
      return read();
    },
    async retire() {
      const now = await read();
      await put({ keys: [now.keys[0]!] }, true).catch((err) => {
        throw ssmError(err, name, "write");
      });
      return read();
    },
  };
}

function errorName(err: unknown): string | undefined {
  return (err as { name?: string } | undefined)?.name;
}

/** SSM exceptions as strata's codes; the message says what to grant, never the value. */
function ssmError(err: unknown, name: string, what: "read" | "create" | "write") {
  const kind = errorName(err);
  if (kind === "AccessDeniedException")
    return strataError(
      "EACCES",
      `this function may not ${what} the token keys in SSM parameter ${name}: grant ssm:GetParameter and ssm:PutParameter on it and kms:Decrypt/kms:Encrypt on its key (stacks/api.ts does)`,
      { parameter: name },
      err,
    );
  if (kind === "ThrottlingException" || kind === "TooManyUpdates")
    return strataError("ETHROTTLED", `SSM throttled the ${what} of ${name}; retry`, { parameter: name }, err);
  return strataError(
    "EUNAVAIL",
    `the token keys in SSM parameter ${name} could not be ${what === "read" ? "read" : "written"} (${kind ?? "error"}); retry, or check the parameter`,
    { parameter: name },
    err,
  );
}
