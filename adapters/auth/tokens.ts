/**
 * Bearer tokens signed by the deployment: `strata1.<payload>.<mac>`, both base64url, where the
 * payload is compact JSON {id, pfs, prefix, rights, exp} and the mac is HMAC-SHA256 over the
 * payload's base64url text with the deployment's secret.
 *
 * The signature makes a token unforgeable and self-describing (scope and expiry need no lookup);
 * the `token#` record in the MetadataStore makes it listable and revocable: `verify` reads it on
 * EVERY request (one GetItem, no cache), so a revocation takes effect on the next request.
 *
 * The secret is one MetadataStore item (pk `deployment#secret`, sk `hmac`), created once with a
 * create-only put. Why there and not a file: the same code runs on Lambda (no disk that lasts) and
 * locally, and whoever can read the table can already change every record, so the secret adds no
 * exposure there. Rotating it invalidates every token (not offered yet).
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { isStrataError, strataError } from "../../core/errors.ts";
import type { Item, MetadataStore } from "../../core/metadata/port.ts";
import { canonicalPrefix, type Principal } from "../../functions/api/auth.ts";
import type { CreatedToken, Right, TokenInfo, TokenSpec } from "../../sdk/types.ts";

const SECRET_KEY = { pk: "deployment#secret", sk: "hmac" };
/** Token records: one partition, so `list` is one query (tokens are few). */
const TOKENS_PK = "tokens";
const PREFIX = "strata1";
const RIGHTS: readonly Right[] = ["read", "write", "admin"];

/** Default lifetime of a token without `ttlSeconds`: 30 days. */
export const DEFAULT_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
/** Longest lifetime: 10 years (the admin token `npm start` prints lasts this long). */
export const MAX_TOKEN_TTL_SECONDS = 10 * 365 * 24 * 3600;

interface Payload {
  id: string;
  pfs: string;
  prefix: string;
  rights: Right[];
  /** Expiry, seconds since epoch. */
  exp: number;
}

function unauthenticated(message: string, details: Record<string, unknown> = {}) {
  // details.auth = "token" turns EACCES into 401 (functions/api/status-codes.ts).
  return strataError("EACCES", message, { ...details, auth: "token" });
}

/** Load the deployment's signing secret, creating it on first use (a race: the first put wins). */
export async function loadOrCreateSecret(store: MetadataStore): Promise<Uint8Array> {
  const existing = await store.get(SECRET_KEY);
  if (existing?.secret instanceof Uint8Array) return existing.secret;
  try {
    await store.put(
      { ...SECRET_KEY, secret: new Uint8Array(randomBytes(32)), created: Date.now() },
      {
        condition: { op: "notExists" },
      },
    );
  } catch (err) {
    if (!isStrataError(err, "ECONFLICT") && !isStrataError(err, "EEXIST")) throw err;
  }
  const item = await store.get(SECRET_KEY);
  if (!(item?.secret instanceof Uint8Array))
    throw strataError("EIO", "the deployment's token secret could not be stored", { key: SECRET_KEY.pk });
  return item.secret;
}

export class TokenService {
  constructor(
    private readonly store: MetadataStore,
    private readonly secret: Uint8Array,
    private readonly clock: () => number = Date.now,
  ) {}

  static async open(store: MetadataStore, clock?: () => number): Promise<TokenService> {
    return new TokenService(store, await loadOrCreateSecret(store), clock);
  }

  /** A key for another purpose (e.g. local blob URLs), derived from the secret: HMAC(secret, label). */
  async deriveKey(label: string): Promise<Uint8Array> {
    return new Uint8Array(createHmac("sha256", this.secret).update(`strata-derive:${label}`).digest());
  }

  private mac(payload: string): string {
    return createHmac("sha256", this.secret).update(payload).digest("base64url");
  }

  /** Mint a token (scope checks are the caller's: functions/api/auth.ts checkMayIssue). */
  async create(spec: TokenSpec): Promise<CreatedToken> {
    const rights = [...new Set(spec.rights)];
    if (rights.length === 0 || rights.some((r) => !RIGHTS.includes(r)))
      throw strataError("EINVAL", "rights must be a non-empty list of read, write, admin", {
        rights: spec.rights,
      });
    const ttl = spec.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS)
      throw strataError("EINVAL", `ttlSeconds must be an integer in 1..${MAX_TOKEN_TTL_SECONDS}`, {
        ttlSeconds: spec.ttlSeconds,
      });
    const now = this.clock();
    const id = randomBytes(9).toString("base64url");
    const info: TokenInfo = {
      id,
      pfs: spec.pfs,
      prefix: canonicalPrefix(spec.prefix ?? "/"),
      rights,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(this.expiryOf(spec, now)).toISOString(),
      revoked: false,
      ...(spec.label === undefined ? {} : { label: spec.label }),
    };
    const item: Item = {
      pk: TOKENS_PK,
      sk: id,
      pfs: info.pfs,
      prefix: info.prefix,
      rights: info.rights,
      createdAt: info.createdAt,
      expiresAt: info.expiresAt,
      revoked: false,
    };
    if (info.label !== undefined) item.label = info.label;
    await this.store.put(item, { condition: { op: "notExists" } });
    const payload: Payload = {
      id,
      pfs: info.pfs,
      prefix: info.prefix,
      rights,
      exp: Math.floor(Date.parse(info.expiresAt) / 1000),
    };
    const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
    return { ...info, token: `${PREFIX}.${body}.${this.mac(body)}` };
  }

  /** When a token of this spec created now would expire (ms); for scope checks before creating. */
  expiryOf(spec: Pick<TokenSpec, "ttlSeconds">, now = this.clock()): number {
    return (Math.floor(now / 1000) + (spec.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS)) * 1000;
  }

  /** Signature and expiry only (no store read): for unit tests and a future cache. */
  decode(token: string): Principal {
    const parts = typeof token === "string" ? token.split(".") : [];
    if (parts.length !== 3 || parts[0] !== PREFIX)
      throw unauthenticated("the bearer token is malformed; pass the token `strata token create` printed");
    const [, body, mac] = parts as [string, string, string];
    const expected = Buffer.from(this.mac(body));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given))
      throw unauthenticated("the bearer token's signature is not valid for this deployment");
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as Payload;
    } catch {
      throw unauthenticated("the bearer token's payload is unreadable");
    }
    if (payload.exp * 1000 <= this.clock())
      throw unauthenticated(
        `the token expired at ${new Date(payload.exp * 1000).toISOString()}; get a new one`,
        {
          tokenId: payload.id,
        },
      );
    return {
      tokenId: payload.id,
      pfs: payload.pfs,
      prefix: payload.prefix,
      rights: payload.rights,
      expiresAt: payload.exp * 1000,
    };
  }

  /** Signature, expiry, and the record: missing or revoked → 401. */
  async verify(token: string): Promise<Principal> {
    const principal = this.decode(token);
    const record = await this.store.get({ pk: TOKENS_PK, sk: principal.tokenId });
    if (!record)
      throw unauthenticated("the token is not known to this deployment", { tokenId: principal.tokenId });
    if (record.revoked === true)
      throw unauthenticated("the token was revoked; ask an admin for a new one", {
        tokenId: principal.tokenId,
      });
    return principal;
  }

  async list(): Promise<TokenInfo[]> {
    const out: TokenInfo[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.query(TOKENS_PK, { cursor });
      for (const item of page.items) out.push(toInfo(item));
      cursor = page.cursor;
    } while (cursor);
    return out;
  }

  async get(id: string): Promise<TokenInfo> {
    const item = await this.store.get({ pk: TOKENS_PK, sk: id });
    if (!item) throw strataError("ENOENT", `no token with id ${id}; \`strata token ls\` lists them`, { id });
    return toInfo(item);
  }

  async revoke(id: string): Promise<void> {
    await this.get(id);
    await this.store.update({ pk: TOKENS_PK, sk: id }, { set: { revoked: true } });
  }
}

function toInfo(item: Item): TokenInfo {
  const info: TokenInfo = {
    id: item.sk,
    pfs: String(item.pfs),
    prefix: String(item.prefix),
    rights: (item.rights as string[]).map(String) as Right[],
    createdAt: String(item.createdAt),
    expiresAt: String(item.expiresAt),
    revoked: item.revoked === true,
  };
  if (typeof item.label === "string") info.label = item.label;
  return info;
}
