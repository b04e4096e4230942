/**
 * Bearer tokens: `strata2.<keyId>.<tokenId>.<mac>`, where mac = base64url HMAC-SHA256 over
 * `strata2.<keyId>.<tokenId>` with the deployment key `keyId` (adapters/auth/keys.ts).
 *
 * A token names its scope by id and nothing else: PFS, prefix, rights and expiry are read from its
 * `token#` record, so editing a token's text cannot widen it. `verify` reads the record (and the
 * key ring) on every call; the API passes `maxAgeMs` ({@link TOKEN_CACHE_MS}, 1 s), so a token
 * verified less than a second ago is trusted without reading them again. Revocation bound: a
 * `revoke` (or `retireKeys`) through this service refuses the token on its next request; one made
 * by another process (another Lambda container, a CLI on the same home) within
 * {@link TOKEN_CACHE_MS}. Expiry is checked against the clock on every call, cached or not.
 *
 * The MAC makes an id unguessable without a key; the keys live outside the metadata table (a file
 * 0600 locally, an SST secret on AWS), so nothing in the table — records, backups, exports — is
 * enough to mint a token.
 *
 * `strata1.` tokens (self-describing, signed with a secret that sat in the table) are refused
 * with a message to mint a new one.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import {
  type CreatedToken,
  canonicalPrefix,
  type Principal,
  type Right,
  type TokenInfo,
  type TokenSpec,
} from "../../core/auth/scope.ts";
import { isStrataError, strataError } from "../../core/errors.ts";
import type { Item, MetadataStore } from "../../core/metadata/port.ts";
import { ttlAttribute } from "../../core/metadata/table.ts";
import { deriveKey, type KeySource, rotationKeyId, type SigningKey } from "./keys.ts";

/** Token records: one partition, so `list` is one query (tokens are few). */
const TOKENS_PK = "tokens";
const PREFIX = "strata2";
const LEGACY_PREFIX = "strata1";
/** Where versions before `strata2` kept their signing secret (deleted by `open`). */
export const LEGACY_SECRET_KEY = { pk: "deployment#secret", sk: "hmac" };
const RIGHTS: readonly Right[] = ["read", "write", "admin"];
const PART = /^[A-Za-z0-9_-]{1,64}$/;

/** Default lifetime of a token without `ttlSeconds`: 30 days. */
export const DEFAULT_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
/**
 * How long the API trusts a verified token without reading its record and the key ring again:
 * the bound on a revocation made by another process (docs/http-api.md "Auth").
 */
export const TOKEN_CACHE_MS = 1_000;
/** Most tokens remembered at once (the cache is emptied when full: tokens are few). */
const TOKEN_CACHE_ENTRIES = 10_000;

/** Longest lifetime: 10 years (the admin token `npm start` prints lasts this long). */
export const MAX_TOKEN_TTL_SECONDS = 10 * 365 * 24 * 3600;

function unauthenticated(message: string, details: Record<string, unknown> = {}) {
  // details.auth = "token" turns EACCES into 401 (functions/api/status-codes.ts).
  return strataError("EACCES", message, { ...details, auth: "token" });
}

function mac(key: SigningKey, signed: string): string {
  return createHmac("sha256", key.secret).update(signed).digest("base64url");
}

/** The key ids a token names, and what `token.rotateKey` answers. */
export interface KeyRingInfo {
  current: string;
  active: string[];
  where: string;
}

export interface TokenServiceOptions {
  /**
   * TEST ONLY (the cache's counter-check): `revoke` and `retireKeys` leave the verified-token cache
   * alone, so a revoked token keeps verifying from the cache until its entry ages out.
   */
  testOnlyKeepCacheOnRevoke?: boolean;
}

export class TokenService {
  /** Tokens verified recently, by their text: the principal, when, and the epoch it was read in. */
  private readonly verified = new Map<string, { principal: Principal; at: number; epoch: number }>();
  /** Bumped by every revocation here: an entry (or a read in flight) from an older epoch is not trusted. */
  private epoch = 0;

  constructor(
    private readonly store: MetadataStore,
    private readonly keys: KeySource,
    private readonly clock: () => number = Date.now,
    private readonly options: TokenServiceOptions = {},
  ) {}

  /** A revocation here: nothing verified before it is trusted from the cache afterwards. */
  private revoked(): void {
    if (this.options.testOnlyKeepCacheOnRevoke) return;
    this.epoch++;
    this.verified.clear();
  }

  /**
   * The service over `store` with `keys`. Also deletes the `deployment#secret` item that older
   * versions kept in the table (it signed `strata1.` tokens, which are refused now): a secret
   * left in the table is exactly what this design takes out of it.
   */
  static async open(
    store: MetadataStore,
    keys: KeySource,
    clock?: () => number,
    options?: TokenServiceOptions,
  ): Promise<TokenService> {
    await keys.ring(); // fail at startup, not on the first request, when the keys are unusable
    await store.delete(LEGACY_SECRET_KEY);
    return new TokenService(store, keys, clock, options);
  }

  /** The local blob-URL signer's keys: derived from the ring, so they rotate and retire with it. */
  async derivedKey(label: string, keyId?: string): Promise<{ id: string; key: Uint8Array } | undefined> {
    const ring = await this.keys.ring(keyId);
    const key = keyId === undefined ? ring.keys[0] : ring.keys.find((k) => k.id === keyId);
    return key && { id: key.id, key: deriveKey(key, label) };
  }

  async keyInfo(): Promise<KeyRingInfo> {
    const ring = await this.keys.ring();
    return { current: ring.keys[0]!.id, active: ring.keys.map((k) => k.id), where: this.keys.where };
  }

  /**
   * Add a new signing key; the previous one keeps verifying until `retireKeys`. `idFrom` (the
   * caller's token id and the request's idempotency key): a retried request adds no second key
   * (which would push out the one the caller's token was signed with).
   */
  async rotateKey(options: { idFrom?: string } = {}): Promise<KeyRingInfo> {
    await this.keys.rotate(options.idFrom === undefined ? undefined : rotationKeyId(options.idFrom));
    return this.keyInfo();
  }

  /** Keep only the current key: tokens signed by any other answer 401 from the next request. */
  async retireKeys(): Promise<KeyRingInfo> {
    await this.keys.retire();
    this.revoked();
    return this.keyInfo();
  }

  /**
   * Mint a token (scope checks are the caller's: functions/api/auth.ts checkMayIssue).
   *
   * `idFrom` (the caller's token id and the request's idempotency key): the token id is derived
   * from it instead of random, so a retried request re-derives the SAME token string (the MAC is
   * deterministic) from the record the first run wrote — with the same spec — instead of minting
   * a second token. The same `idFrom` with another spec is EEXIST.
   */
  async create(spec: TokenSpec, options: { idFrom?: string } = {}): Promise<CreatedToken> {
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
    const key = (await this.keys.ring()).keys[0]!;
    const now = this.clock();
    // "t" + 72 random bits: an id never starts with "-", which a command line would read as an
    // option (`strata token revoke -Ptow…` failed at random before).
    const id =
      options.idFrom === undefined
        ? `t${randomBytes(9).toString("base64url")}`
        : `t${createHash("sha256").update(`token-id\u0000${options.idFrom}`).digest().subarray(0, 9).toString("base64url")}`;
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
      // The table's TTL (epoch seconds): a day after expiry, so `token ls` still shows it a while.
      ...ttlAttribute(Date.parse(info.expiresAt) + 24 * 3600_000),
    };
    if (info.label !== undefined) item.label = info.label;
    // The signing key's id: what re-deriving this token's text needs (`idFrom` retries).
    item.keyId = key.id;
    try {
      await this.store.put(item, { condition: { op: "notExists" } });
    } catch (err) {
      if (options.idFrom === undefined || !isStrataError(err, "ECONFLICT")) throw err;
      return this.recreated(id, info);
    }
    const signed = `${PREFIX}.${key.id}.${id}`;
    return { ...info, token: `${signed}.${mac(key, signed)}` };
  }

  /** The token a retried `create` with the same `idFrom` made: same spec, or EEXIST. */
  private async recreated(id: string, wanted: TokenInfo): Promise<CreatedToken> {
    const item = await this.store.get({ pk: TOKENS_PK, sk: id });
    const keyId = typeof item?.keyId === "string" ? item.keyId : undefined;
    const key =
      keyId === undefined ? undefined : (await this.keys.ring(keyId)).keys.find((k) => k.id === keyId);
    const had = item ? toInfo(item) : undefined;
    const same =
      had !== undefined &&
      had.pfs === wanted.pfs &&
      had.prefix === wanted.prefix &&
      had.rights.join() === wanted.rights.join() &&
      had.label === wanted.label;
    if (!same || !key) throw strataError("EEXIST", `token ${id} already exists for another request`, { id });
    const signed = `${PREFIX}.${key.id}.${id}`;
    return { ...had, token: `${signed}.${mac(key, signed)}` };
  }

  /** When a token of this spec created now would expire (ms); for scope checks before creating. */
  expiryOf(spec: Pick<TokenSpec, "ttlSeconds">, now = this.clock()): number {
    return (Math.floor(now / 1000) + (spec.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS)) * 1000;
  }

  /** The token's MAC against the active keys (no store read): its id, or 401. */
  async authenticate(token: string): Promise<string> {
    const parts = typeof token === "string" ? token.split(".") : [];
    if (parts[0] === LEGACY_PREFIX)
      throw unauthenticated(
        "this is an old `strata1.` token, which is no longer accepted (a token's scope now lives on the server); mint a new one with `strata token create` (`npm start` prints a new admin token)",
      );
    if (parts.length !== 4 || parts[0] !== PREFIX || !PART.test(parts[1]!) || !PART.test(parts[2]!))
      throw unauthenticated("the bearer token is malformed; pass the token `strata token create` printed");
    const [, keyId, tokenId, given] = parts as [string, string, string, string];
    const key = (await this.keys.ring(keyId)).keys.find((k) => k.id === keyId);
    if (!key)
      throw unauthenticated(
        `the bearer token was signed with key ${keyId}, which this deployment does not hold (retired, or another deployment's); ask an admin for a new token`,
        { keyId },
      );
    const expected = Buffer.from(mac(key, `${PREFIX}.${keyId}.${tokenId}`));
    const got = Buffer.from(given);
    if (expected.length !== got.length || !timingSafeEqual(expected, got))
      throw unauthenticated("the bearer token's signature is not valid for this deployment");
    return tokenId;
  }

  /**
   * MAC, then the record: missing, revoked or expired → 401; the scope is the record's. With
   * `maxAgeMs`, a token this service verified less than `maxAgeMs` ago (and not revoked here
   * since) is answered from memory, without reading the key ring or the record; its expiry is
   * still checked against the clock.
   */
  async verify(token: string, options: { maxAgeMs?: number } = {}): Promise<Principal> {
    const maxAgeMs = options.maxAgeMs ?? 0;
    const now = this.clock();
    if (maxAgeMs > 0) {
      const hit = this.verified.get(token);
      const fresh = hit !== undefined && now >= hit.at && now - hit.at < maxAgeMs; // a clock set back: not fresh
      if (fresh && hit.epoch === this.epoch && now < hit.principal.expiresAt)
        return { ...hit.principal, rights: [...hit.principal.rights] };
    }
    const epoch = this.epoch;
    const principal = await this.verifyNow(token);
    // Not when a revocation happened while this read was in flight: it may predate the revocation.
    if (maxAgeMs > 0 && epoch === this.epoch) {
      if (this.verified.size >= TOKEN_CACHE_ENTRIES) this.verified.clear();
      // A copy: the caller may change the principal it gets.
      this.verified.set(token, {
        principal: { ...principal, rights: [...principal.rights] },
        at: now,
        epoch,
      });
    }
    return principal;
  }

  private async verifyNow(token: string): Promise<Principal> {
    const tokenId = await this.authenticate(token);
    const record = await this.store.get({ pk: TOKENS_PK, sk: tokenId });
    if (!record) throw unauthenticated("the token is not known to this deployment", { tokenId });
    if (record.revoked === true)
      throw unauthenticated("the token was revoked; ask an admin for a new one", { tokenId });
    const info = toInfo(record);
    const expiresAt = Date.parse(info.expiresAt);
    if (!(expiresAt > this.clock()))
      throw unauthenticated(`the token expired at ${info.expiresAt}; get a new one`, { tokenId });
    return { tokenId, pfs: info.pfs, prefix: info.prefix, rights: info.rights, expiresAt };
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
    this.revoked();
  }
}

function toInfo(item: Item): TokenInfo {
  const info: TokenInfo = {
    id: item.sk,
    pfs: String(item.pfs),
    prefix: String(item.prefix),
    rights: (Array.isArray(item.rights) ? item.rights.map(String) : []) as Right[],
    createdAt: String(item.createdAt),
    expiresAt: String(item.expiresAt),
    revoked: item.revoked === true,
  };
  if (typeof item.label === "string") info.label = item.label;
  return info;
}
