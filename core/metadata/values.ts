/**
 * Pure helpers that give every MetadataStore adapter the same semantics: input validation
 * (done before any request), DynamoDB item sizing, UTF-8 sort order, condition evaluation and
 * update application. SQLite and the in-memory store evaluate conditions here; the DynamoDB
 * adapter validates here and lets DynamoDB evaluate.
 */
import { toHex } from "../bytes.ts";
import { strataError } from "../errors.ts";
import { compareUtf8, utf8Length, wellFormed } from "../text.ts";
import {
  type Condition,
  type Item,
  type Key,
  LIMITS,
  type QueryOptions,
  type SortKeyCondition,
  type TransactOp,
  type Update,
  type Value,
} from "./port.ts";

// Defined once in core/text.ts; re-exported because the metadata layer's callers import them here.
export { compareUtf8, utf8Length, wellFormed };

/** DynamoDB's size of a value, in bytes (names + values; numbers ≈ digits / 2 + 1). */
export function valueSize(value: Value): number {
  if (typeof value === "string") return utf8Length(value);
  if (typeof value === "number")
    return Math.ceil(String(Math.abs(value)).replace(/[.e+-]/g, "").length / 2) + 1;
  if (typeof value === "boolean" || value === null) return 1;
  if (value instanceof Uint8Array) return value.length;
  if (Array.isArray(value)) return 3 + value.reduce<number>((sum, v) => sum + 1 + valueSize(v), 0);
  let size = 3;
  for (const [k, v] of Object.entries(value)) size += 1 + utf8Length(k) + valueSize(v);
  return size;
}

export function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += utf8Length(name) + valueSize(value);
  return size;
}

export function validateKey(key: Key, where = "key"): void {
  if (typeof key?.pk !== "string" || key.pk.length === 0)
    throw strataError("EINVAL", `${where}: pk must be a non-empty string`, { key });
  if (typeof key.sk !== "string" || key.sk.length === 0)
    throw strataError("EINVAL", `${where}: sk must be a non-empty string`, { key });
  if (!wellFormed(key.pk) || !wellFormed(key.sk))
    throw strataError("EINVAL", `${where}: keys must be well-formed Unicode (no lone surrogates)`, { key });
  if (utf8Length(key.pk) > LIMITS.pkBytes)
    throw strataError("E2BIG", `${where}: pk is longer than ${LIMITS.pkBytes} UTF-8 bytes`, { pk: key.pk });
  if (utf8Length(key.sk) > LIMITS.skBytes)
    throw strataError("E2BIG", `${where}: sk is longer than ${LIMITS.skBytes} UTF-8 bytes`, { sk: key.sk });
}

/** DynamoDB numbers: 0, or magnitudes from 1E-130 to 9.99…E+125 (38 digits; doubles need ≤ 17). */
function inDynamoDbRange(n: number): boolean {
  const a = Math.abs(n);
  return a === 0 || (a >= 1e-130 && a < 1e126);
}

function validateValue(value: unknown, path: string, depth: number): void {
  if (depth > 32) throw strataError("EINVAL", `attribute ${path} nests deeper than 32 levels`);
  if (typeof value === "string") {
    if (!wellFormed(value)) throw strataError("EINVAL", `attribute ${path} holds a lone UTF-16 surrogate`);
    return;
  }
  if (typeof value === "boolean" || value === null) return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw strataError("EINVAL", `attribute ${path} is not a finite number`);
    if (!inDynamoDbRange(value))
      throw strataError(
        "EINVAL",
        `attribute ${path} = ${value} is outside DynamoDB's number range (1e-130 ≤ |n| < 1e126)`,
      );
    return;
  }
  if (value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) validateValue(v, `${path}[${i}]`, depth + 1);
    return;
  }
  if (typeof value === "object" && value !== undefined && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) {
      // DynamoDB refuses empty names in maps too ("Empty attribute name").
      if (k.length === 0 || !wellFormed(k))
        throw strataError("EINVAL", `attribute ${path} holds a map key that is empty or not valid Unicode`);
      validateValue(v, `${path}.${k}`, depth + 1);
    }
    return;
  }
  throw strataError("EINVAL", `attribute ${path} has an unsupported type (${typeof value})`);
}

export function validateItem(item: Item): void {
  validateKey(item, "item");
  for (const [name, value] of Object.entries(item)) {
    if (name.length === 0 || !wellFormed(name))
      throw strataError("EINVAL", "attribute names must be non-empty, valid Unicode");
    validateValue(value, name, 0);
  }
  const size = itemSize(item);
  if (size > LIMITS.itemBytes)
    throw strataError(
      "E2BIG",
      `item ${item.pk} / ${item.sk} is ${size} bytes; the limit is ${LIMITS.itemBytes}`,
      {
        pk: item.pk,
        sk: item.sk,
        size,
      },
    );
}

export function validateUpdate(update: Update): void {
  const touched = new Set<string>();
  const touch = (name: string) => {
    if (name === "pk" || name === "sk") throw strataError("EINVAL", "an update cannot change pk or sk");
    if (name.length === 0) throw strataError("EINVAL", "attribute names must be non-empty");
    if (touched.has(name)) throw strataError("EINVAL", `attribute ${name} appears twice in one update`);
    touched.add(name);
  };
  for (const [name, value] of Object.entries(update.set ?? {})) {
    touch(name);
    validateValue(value, name, 0);
  }
  for (const name of update.remove ?? []) touch(name);
  for (const [name, n] of Object.entries(update.add ?? {})) {
    touch(name);
    if (typeof n !== "number" || !Number.isFinite(n) || !inDynamoDbRange(n))
      throw strataError("EINVAL", `add ${name}: not a finite number in DynamoDB's range`);
  }
  if (touched.size === 0)
    throw strataError("EINVAL", "an update must set, remove or add at least one attribute");
}

export function validateCondition(condition: Condition, depth = 0): void {
  if (depth > 16) throw strataError("EINVAL", "condition nests deeper than 16 levels");
  switch (condition.op) {
    case "exists":
    case "notExists":
      return;
    case "attrExists":
    case "attrNotExists":
      if (!condition.attr) throw strataError("EINVAL", `condition ${condition.op} needs an attribute name`);
      return;
    case "eq":
    case "ne":
    case "lt":
    case "le":
    case "gt":
    case "ge":
      if (!condition.attr) throw strataError("EINVAL", `condition ${condition.op} needs an attribute name`);
      if (!["string", "number", "boolean"].includes(typeof condition.value))
        throw strataError(
          "EINVAL",
          `condition ${condition.op} ${condition.attr}: value must be a string, number or boolean`,
        );
      if (typeof condition.value === "string" && !wellFormed(condition.value))
        throw strataError(
          "EINVAL",
          `condition ${condition.op} ${condition.attr}: value holds a lone surrogate`,
        );
      // DynamoDB refuses <, <=, >, >= on BOOL operands (ValidationException), so we do too.
      if (typeof condition.value === "boolean" && condition.op !== "eq" && condition.op !== "ne")
        throw strataError(
          "EINVAL",
          `condition ${condition.op} ${condition.attr}: booleans compare only with eq and ne`,
        );
      if (typeof condition.value === "number" && !inDynamoDbRange(condition.value))
        throw strataError(
          "EINVAL",
          `condition ${condition.op} ${condition.attr}: number outside DynamoDB's range`,
        );
      return;
    case "and":
    case "or":
      if (condition.of.length === 0)
        throw strataError("EINVAL", `condition ${condition.op} needs at least one operand`);
      for (const c of condition.of) validateCondition(c, depth + 1);
      return;
    case "not":
      validateCondition(condition.of, depth + 1);
      return;
    default:
      throw strataError("EINVAL", `unknown condition op ${(condition as { op: string }).op}`);
  }
}

export function keyId(key: Key): string {
  return `${key.pk}\u0000${key.sk}`;
}

function opKey(op: TransactOp): Key {
  return op.kind === "put" ? op.item : op.key;
}

/** Checks a transaction before any request: 1..100 ops, distinct items, valid parts, ≤ 4 MB. */
export function validateTransaction(ops: TransactOp[]): void {
  if (!Array.isArray(ops) || ops.length === 0)
    throw strataError("EINVAL", "a transaction needs at least one op");
  if (ops.length > LIMITS.transactItems)
    throw strataError("E2BIG", `a transaction holds at most ${LIMITS.transactItems} ops; got ${ops.length}`);
  const seen = new Set<string>();
  let bytes = 0;
  ops.forEach((op, index) => {
    const key = opKey(op);
    validateKey(key, `op ${index}`);
    const id = keyId(key);
    if (seen.has(id))
      throw strataError(
        "EINVAL",
        `op ${index} touches ${key.pk} / ${key.sk} a second time in one transaction`,
        {
          index,
        },
      );
    seen.add(id);
    if (op.kind === "put") {
      validateItem(op.item);
      bytes += itemSize(op.item);
    } else if (op.kind === "update") {
      validateUpdate(op.update);
      bytes += itemSize({ ...op.key, ...(op.update.set ?? {}) });
    }
    if (op.condition) validateCondition(op.condition);
    else if (op.kind === "check") throw strataError("EINVAL", `op ${index}: a check needs a condition`);
  });
  if (bytes > LIMITS.transactBytes)
    throw strataError("E2BIG", `a transaction writes ${bytes} bytes; the limit is ${LIMITS.transactBytes}`);
}

/** Checks a transaction's idempotency token (DynamoDB's ClientRequestToken rules) before any request. */
export function validateToken(token: string | undefined): void {
  if (token === undefined) return;
  if (typeof token !== "string" || !/^[\x21-\x7e]{1,36}$/.test(token))
    throw strataError("EINVAL", "a transaction token is 1..36 printable ASCII characters (no spaces)", {
      token: typeof token === "string" ? token.slice(0, 64) : typeof token,
    });
}

/**
 * A canonical text of a transaction's ops (object keys sorted, bytes as hex): equal for the same
 * ops however their objects were built. Stores that keep tokens compare it (or a hash of it) to
 * tell a re-send from a token reused for other ops.
 */
export function transactFingerprint(ops: TransactOp[]): string {
  return canonicalText(ops);
}

/** Canonical text of any value made of JSON values, bytes and plain objects (sorted keys, bytes as hex). */
export function canonicalText(value: unknown): string {
  return canonical(value as Value | undefined);
}

function canonical(value: Value | undefined): string {
  if (value === undefined) return "u";
  if (value instanceof Uint8Array) {
    return `b${toHex(value)}`;
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object")
    return `{${Object.keys(value)
      .sort()
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(",")}}`;
  return JSON.stringify(value);
}

/** The error for a token reused with different ops (DynamoDB's IdempotentParameterMismatchException). */
export function tokenMismatch(token: string, cause?: unknown) {
  return strataError(
    "EINVAL",
    `transaction token ${token} was already used for different ops in the last 10 minutes; a new transaction needs a new token`,
    { idempotency: "mismatch", token },
    cause,
  );
}

/** Checks a batchGet before any request: an array of valid keys (repeats are allowed). */
export function validateBatchGet(keys: Key[]): void {
  if (!Array.isArray(keys)) throw strataError("EINVAL", "batchGet takes an array of keys");
  for (const [index, key] of keys.entries()) validateKey(key, `key ${index}`);
}

/** Checks a transactGet before any request: 1..100 valid, distinct keys (DynamoDB refuses repeats). */
export function validateTransactGet(keys: Key[]): void {
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > LIMITS.transactItems)
    throw strataError("EINVAL", `transactGet takes 1..${LIMITS.transactItems} keys; got ${keys?.length}`);
  const seen = new Set<string>();
  keys.forEach((key, index) => {
    validateKey(key, `key ${index}`);
    const id = keyId(key);
    if (seen.has(id))
      throw strataError("EINVAL", `key ${index} (${key.pk} / ${key.sk}) appears twice in one transactGet`, {
        index,
      });
    seen.add(id);
  });
}

function compareValues(a: Value | undefined, b: string | number | boolean): number | undefined {
  if (a === undefined || typeof a !== typeof b) return undefined; // DynamoDB: type mismatch → false
  if (typeof a === "string") return compareUtf8(a, b as string);
  if (typeof a === "number") return a - (b as number);
  if (typeof a === "boolean") return a === b ? 0 : undefined;
  return undefined;
}

/** DynamoDB's condition semantics over one item (undefined = absent). */
export function evaluateCondition(item: Item | undefined, condition: Condition): boolean {
  switch (condition.op) {
    case "exists":
      return item !== undefined;
    case "notExists":
      return item === undefined;
    case "attrExists":
      return item !== undefined && item[condition.attr] !== undefined;
    case "attrNotExists":
      return item === undefined || item[condition.attr] === undefined;
    case "and":
      return condition.of.every((c) => evaluateCondition(item, c));
    case "or":
      return condition.of.some((c) => evaluateCondition(item, c));
    case "not":
      return !evaluateCondition(item, condition.of);
    default: {
      const actual = item?.[condition.attr];
      if (condition.op === "ne") {
        // DynamoDB: `a <> v` is true when a is absent or of another type.
        const c = compareValues(actual, condition.value);
        return c === undefined || c !== 0;
      }
      const c = compareValues(actual, condition.value);
      if (c === undefined) return false;
      switch (condition.op) {
        case "eq":
          return c === 0;
        case "lt":
          return c < 0;
        case "le":
          return c <= 0;
        case "gt":
          return c > 0;
        case "ge":
          return c >= 0;
      }
    }
  }
}

/** The item after DynamoDB's UpdateItem (SET, then REMOVE, then ADD). */
export function applyUpdate(key: Key, current: Item | undefined, update: Update): Item {
  const next: Item = { ...(current ?? {}), pk: key.pk, sk: key.sk };
  for (const [name, value] of Object.entries(update.set ?? {})) next[name] = value;
  for (const name of update.remove ?? []) delete next[name];
  for (const [name, n] of Object.entries(update.add ?? {})) {
    const before = next[name];
    if (before !== undefined && typeof before !== "number")
      throw strataError("EINVAL", `add ${name}: the attribute holds a ${typeof before}, not a number`);
    next[name] = (before ?? 0) + n;
  }
  return next;
}

/**
 * Checks a query before any request: a valid pk, sort-key condition values that are valid sort
 * keys (non-empty, ≤ 1,024 bytes — DynamoDB refuses others), `between` with low ≤ high, and a
 * positive integer limit.
 */
export function validateQuery(pk: string, options: QueryOptions): void {
  validateKey({ pk, sk: "-" }, "query");
  const sk = options.sk;
  if (sk) {
    const values = sk.op === "between" ? [sk.low, sk.high] : [sk.value];
    for (const value of values) validateKey({ pk, sk: value }, `query sort-key condition ${sk.op}`);
    if (sk.op === "between" && compareUtf8(sk.low, sk.high) > 0)
      throw strataError("EINVAL", "query sort-key condition between: low sorts after high", {
        low: sk.low,
        high: sk.high,
      });
  }
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1))
    throw strataError("EINVAL", `query limit must be a positive integer; got ${options.limit}`);
  if (options.cursor !== undefined && (typeof options.cursor !== "string" || options.cursor.length === 0))
    throw strataError("EINVAL", "query cursor must be a non-empty string from a previous page");
}

export function matchesSortKey(sk: string, condition: SortKeyCondition | undefined): boolean {
  if (!condition) return true;
  switch (condition.op) {
    case "eq":
      return sk === condition.value;
    case "lt":
      return compareUtf8(sk, condition.value) < 0;
    case "le":
      return compareUtf8(sk, condition.value) <= 0;
    case "gt":
      return compareUtf8(sk, condition.value) > 0;
    case "ge":
      return compareUtf8(sk, condition.value) >= 0;
    case "beginsWith":
      return sk.startsWith(condition.value);
    case "between":
      return compareUtf8(sk, condition.low) >= 0 && compareUtf8(sk, condition.high) <= 0;
  }
}

/** Deep copy, so stores never share mutable state with callers. */
export function cloneItem<T extends Value | Item>(value: T): T {
  return structuredClone(value);
}
