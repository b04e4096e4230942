/**
 * The deployment's signing keys, kept OUTSIDE the metadata table: whoever can read the table (or
 * its backups and exports) must not be able to mint a token.
 *
 * A key ring is one line of text, the same in every place it is kept:
 *
 *   <current id>:<base64url secret>[,<older id>:<base64url secret>]
 *
 * The first key signs new tokens; every listed key verifies (two during a rotation). A key is at
 * least 32 random bytes; an id is 1..32 of `[A-Za-z0-9_-]`.
 *
 * Where the ring lives:
 * - locally (`npm start`, `connect({ local })`): `<home>/token-keys` (mode 0600) in a home made
 *   0700 ({@link secureHome}); created on first use; `rotate`/`retire` rewrite it atomically
 *   (temp file + rename). Every read checks the file's mtime, so a rotation or retirement by
 *   another process in the same home is seen on the next request.
 * - on AWS: an SSM Parameter Store SecureString (adapters/auth/keys-ssm.ts), named by
 *   STRATA_TOKEN_KEYS_PARAMETER, read with decryption by the API function's role only (KMS key
 *   `alias/aws/ssm`), created by the first cold start when missing, rotated by `token.rotateKey`.
 *   Not in the table, its exports or backups, nor in the function's bundle or SST's state.
 *   Tests and throwaway setups may pass the ring itself as STRATA_TOKEN_KEYS ({@link staticKeyRing}).
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import { chmod, link, mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { isStrataError, strataError } from "../../core/errors.ts";

export interface SigningKey {
  id: string;
  secret: Uint8Array;
}

/** Active keys, the current (signing) one first. */
export interface KeyRing {
  readonly keys: readonly SigningKey[];
}

/** Where a deployment's keys come from, and (when it can) how they change. */
export interface KeySource {
  /**
   * The ring as it is now (cheap: called on every request). `wanted`: a key id the caller needs;
   * a source that caches (SSM) reads again when its cached ring lacks it, so a key added by
   * another process verifies at once instead of after the cache expires.
   */
  ring(wanted?: string): Promise<KeyRing>;
  /**
   * Add a new current key; the previous current one stays valid for verification. `keyId`: the
   * new key's id (derived from the request's idempotency key): when the current key already has
   * it, this rotation ran before (a retried request) and the ring is returned unchanged — a
   * second rotation would push out the key the caller's own token was signed with.
   */
  rotate(keyId?: string): Promise<KeyRing>;
  /** Drop every key except the current one: tokens signed by the others answer 401. */
  retire(): Promise<KeyRing>;
  /** Where the keys live, for messages and `token.rotateKey`'s answer. */
  readonly where: string;
}

/** The ring's file in a local deployment's home. */
export const KEY_FILE = "token-keys";
const ID = /^[A-Za-z0-9_-]{1,32}$/;
const MIN_SECRET_BYTES = 32;

export function newKey(id = `k${randomBytes(6).toString("base64url")}`): SigningKey {
  return { id, secret: new Uint8Array(randomBytes(32)) };
}

/** The id of the key a keyed rotation adds: the same request (caller, idempotency key) → the same id. */
export function rotationKeyId(idFrom: string): string {
  return `k${createHash("sha256").update(idFrom).digest().subarray(0, 6).toString("base64url")}`;
}

/** The ring after rotating in a key with `keyId`, or `ring` itself when that rotation already happened. */
export function rotated(ring: KeyRing, keyId: string | undefined): KeyRing {
  if (keyId !== undefined && ring.keys[0]?.id === keyId) return ring;
  // Two active keys at most: the new current one and the one it replaces.
  return { keys: [newKey(keyId), ring.keys[0]!] };
}

export function formatKeyRing(ring: KeyRing): string {
  return ring.keys.map((k) => `${k.id}:${Buffer.from(k.secret).toString("base64url")}`).join(",");
}

/** Parse a ring's text (EINVAL says what is wrong, never echoing a secret). */
export function parseKeyRing(text: string, where: string): KeyRing {
  const keys: SigningKey[] = [];
  for (const entry of text.trim().split(",")) {
    const colon = entry.indexOf(":");
    const id = colon < 0 ? "" : entry.slice(0, colon).trim();
    const secret =
      colon < 0 ? new Uint8Array() : new Uint8Array(Buffer.from(entry.slice(colon + 1).trim(), "base64url"));
    if (!ID.test(id) || secret.length < MIN_SECRET_BYTES)
      throw strataError(
        "EINVAL",
        `the token key ring in ${where} is not "<id>:<base64url of ≥ ${MIN_SECRET_BYTES} bytes>[,<id>:<…>]" (entry ${keys.length + 1})`,
        { where },
      );
    if (keys.some((k) => k.id === id))
      throw strataError("EINVAL", `the token key ring in ${where} lists key ${id} twice`, { where });
    keys.push({ id, secret });
  }
  return { keys };
}

/** A key for another purpose (e.g. local blob URLs): HMAC(key, label), so it changes with the key. */
export function deriveKey(key: SigningKey, label: string): Uint8Array {
  return new Uint8Array(createHmac("sha256", key.secret).update(`strata-derive:${label}`).digest());
}

/** A ring fixed for the life of the process (the cloud's secret, tests): no rotation from here. */
export function staticKeyRing(text: string, where: string): KeySource {
  const ring = parseKeyRing(text, where);
  const fixed = async (): Promise<KeyRing> => {
    throw strataError(
      "ENOTSUP",
      `the token keys come from ${where}, which this server cannot change: add a new key in front ("<new>:<secret>,<old>:<secret>", then restart the processes that read it); drop the old one the same way to retire it`,
      { where },
    );
  };
  return { where, ring: async () => ring, rotate: fixed, retire: fixed };
}

/** A ring in this process's memory (tests, throwaway deployments): rotates and retires like the file. */
export function memoryKeyRing(initial: KeyRing = { keys: [newKey()] }): KeySource {
  let ring = initial;
  return {
    where: "memory",
    ring: async () => ring,
    rotate: async (keyId) => {
      ring = rotated(ring, keyId);
      return ring;
    },
    retire: async () => {
      ring = { keys: [ring.keys[0]!] };
      return ring;
    },
  };
}

/**
 * Make a local deployment's home private: the directory 0700, and `metadata.db` (with its WAL
 * files, which SQLite creates with the database file's mode) created 0600 before SQLite opens it.
 */
export async function secureHome(home: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  await chmod(home, 0o700);
  for (const name of ["metadata.db", "metadata.db-wal", "metadata.db-shm"]) {
    const file = join(home, name);
    if (name === "metadata.db") await (await open(file, "a", 0o600)).close();
    await chmod(file, 0o600).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
  }
}

/**
 * The ring in `<home>/token-keys`, created on first use (create-only: of two processes starting
 * together, one file wins and both use it). Reads are cached by the file's mtime, size and inode.
 */
export function fileKeyRing(home: string): KeySource {
  const file = join(home, KEY_FILE);
  let cached: { stamp: string; ring: KeyRing } | undefined;

  // Written to a temp file first, then linked (create-only) or renamed (replace) into place, so a
  // reader in another process never sees a partly written ring.
  const write = async (ring: KeyRing, createOnly: boolean): Promise<void> => {
    const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
    const handle = await open(temp, "wx", 0o600);
    try {
      await handle.writeFile(`${formatKeyRing(ring)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      if (createOnly) await link(temp, file);
      else await rename(temp, file);
    } finally {
      await unlink(temp).catch(() => {}); // after a link (or a failed rename) the temp name remains
    }
    cached = undefined;
  };

  const ring = async (): Promise<KeyRing> => {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw keyFileError(err, file);
      await mkdir(home, { recursive: true, mode: 0o700 });
      try {
        await write({ keys: [newKey()] }, true);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw keyFileError(e, file);
      }
      return ring();
    }
    if ((info.mode & 0o077) !== 0) await chmod(file, 0o600); // e.g. restored from a backup
    const stamp = `${info.mtimeMs}:${info.size}:${info.ino}`;
    if (cached?.stamp === stamp) return cached.ring;
    const parsed = parseKeyRing(await readFile(file, "utf8"), file);
    cached = { stamp, ring: parsed };
    return parsed;
  };

  return {
    where: file,
    ring,
    async rotate(keyId) {
      const now = await ring();
      const next = rotated(now, keyId);
      if (next !== now) await write(next, false);
      return ring();
    },
    async retire() {
      const now = await ring();
      await write({ keys: [now.keys[0]!] }, false);
      return ring();
    },
  };
}

function keyFileError(err: unknown, file: string) {
  if (isStrataError(err)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  return strataError(
    code === "EACCES" || code === "EPERM" ? "EACCES" : "EIO",
    `cannot read or create the token key file ${file}: ${(err as Error).message}`,
    { file },
    err,
  );
}
