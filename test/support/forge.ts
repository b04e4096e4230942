/**
 * The attacker of issue 13 case 4: reads every item of a deployment's metadata table and tries
 * each field as the token signing key (test/adapters/token-keys-sqlite.test.ts,
 * test/e2e/tokens-http.test.ts).
 */
import { createHmac } from "node:crypto";
import Database from "better-sqlite3";
import type { Item, MetadataStore, Value } from "../../core/metadata/port.ts";

/** Every item of the table: each partition (from SQLite's own index) read through the store. */
export async function dumpTable(store: MetadataStore, dbPath: string): Promise<Item[]> {
  const db = new Database(dbPath, { readonly: true });
  const pks = (db.prepare("SELECT DISTINCT pk FROM items").all() as { pk: string }[]).map((r) => r.pk);
  db.close();
  const items: Item[] = [];
  for (const pk of pks) {
    let cursor: string | undefined;
    do {
      const page = await store.query(pk, { cursor });
      items.push(...page.items);
      cursor = page.cursor;
    } while (cursor);
  }
  return items;
}

/** Every byte string an attacker could try as the HMAC key: binary fields, strings raw and decoded. */
export function candidateKeys(items: Item[]): Uint8Array[] {
  const out = new Map<string, Uint8Array>();
  const add = (bytes: Uint8Array) => {
    if (bytes.length > 0) out.set(Buffer.from(bytes).toString("hex"), bytes);
  };
  const walk = (v: Value) => {
    if (v instanceof Uint8Array) add(v);
    else if (typeof v === "string") {
      add(Buffer.from(v, "utf8"));
      add(Buffer.from(v, "base64url"));
      // A key ring's text ("id:secret,…"): each secret.
      for (const part of v.split(/[,:]/)) add(Buffer.from(part, "base64url"));
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  for (const item of items) for (const v of Object.values(item)) walk(v as Value);
  return [...out.values()];
}

/**
 * The forger: for every candidate key, every token id in the table and every key id the attacker
 * knows (from a token of its own), a `strata2` admin-by-id token, and the old `strata1` forge (a
 * self-describing admin payload).
 */
export function forgedTokens(items: Item[], keyIds: string[]): string[] {
  const ids = items.filter((i) => i.pk === "tokens").map((i) => i.sk);
  const out: string[] = [];
  for (const key of candidateKeys(items)) {
    const hmac = (text: string) => createHmac("sha256", key).update(text).digest("base64url");
    for (const id of ids) {
      for (const kid of keyIds) out.push(`strata2.${kid}.${id}.${hmac(`strata2.${kid}.${id}`)}`);
      const body = Buffer.from(
        JSON.stringify({ id, pfs: "*", prefix: "/", rights: ["admin"], exp: 4e9 }),
      ).toString("base64url");
      out.push(`strata1.${body}.${hmac(body)}`);
    }
  }
  return out;
}
