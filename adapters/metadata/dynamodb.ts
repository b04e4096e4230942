/**
 * The cloud MetadataStore: one DynamoDB table (core/metadata/table.ts) through
 * `@aws-sdk/client-dynamodb`. Input is validated by the checked wrapper (core/metadata/checked.ts)
 * before any request; DynamoDB itself evaluates conditions and updates, so the semantics are
 * DynamoDB's by construction and the other stores are held to them by the conformance suite.
 *
 * - Values ↔ AttributeValues: string S, number N, boolean BOOL, null NULL, Uint8Array B,
 *   array L, object M. Numbers are finite doubles within DynamoDB's range; note that DynamoDB
 *   ADDs in decimal (0.1 + 0.2 = 0.3 exactly), the other stores in binary doubles: keep
 *   counters integral.
 * - Reads are strongly consistent (ConsistentRead on GetItem, Query, BatchGetItem).
 * - A failed condition is ECONFLICT with `details.item` (ReturnValuesOnConditionCheckFailure
 *   ALL_OLD). A cancelled transaction is ECONFLICT with normalised `details.reasons` and
 *   `details.failedIndex`; TransactionConflict reasons are included as such (callers retry).
 * - Requests are counted per attempt on the wire (SDK retries included), by kind: the driver
 *   reports each attempt to the wrapper's counter.
 * - DynamoDB's own faults: the SDK retries throttling, 5xx and network errors (6 attempts); single
 *   writes and TransactGetItems retry TransactionConflicts here; what is left is ETHROTTLED /
 *   EUNAVAIL (retryable) or ECONFLICT with `TransactionConflict` reasons (the engine re-plans).
 *   Proven with those faults injected at the SDK client (dynamodb-faults.ts, docs/reliability.md).
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type CancellationReason as DynamoCancellationReason,
  DynamoDBClient,
  type DynamoDBClientConfig,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactGetItemsCommand,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateContinuousBackupsCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { backoff as retryPause } from "../../core/backoff.ts";
import { isStrataError, StrataError, strataError } from "../../core/errors.ts";
import {
  CheckedMetadataStore,
  type DriverPage,
  type DriverQuery,
  type MetadataDriver,
} from "../../core/metadata/checked.ts";
import {
  type CancellationReason,
  type Condition,
  type Item,
  type Key,
  LIMITS,
  type RequestKind,
  type TransactOp,
  type Update,
  type Value,
} from "../../core/metadata/port.ts";
import { METADATA_TABLE } from "../../core/metadata/table.ts";
import { keyId, tokenMismatch } from "../../core/metadata/values.ts";

export interface DynamoDbMetadataStoreOptions {
  /** A client to share (its retry settings apply). Created from `clientConfig` when absent. */
  client?: DynamoDBClient;
  /** Settings for the client this store creates (region, endpoint, credentials, maxAttempts…). */
  clientConfig?: DynamoDBClientConfig;
  /** The table (see core/metadata/table.ts for its definition). */
  tableName: string;
  /** Bounded retries of BatchGetItem's UnprocessedKeys and of TransactionConflicts (default 8). */
  maxRetries?: number;
  /**
   * TEST ONLY (counter-checks of the DynamoDB fault tier): `false` turns off this adapter's handling
   * of DynamoDB's own faults — no TransactionConflict retries, every cancellation reason read as
   * ConditionalCheckFailed, throttling / 5xx / network errors reported as a plain EIO — as an
   * adapter that only knew DynamoDB Local's answers would. Default true.
   */
  faultHandling?: boolean;
}

/** The part of an SDK command the request counter needs. */
interface CountableCommand {
  middlewareStack: {
    add(
      middleware: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>,
      options: { step: "finalizeRequest"; priority: "low"; name: string },
    ): void;
  };
}

// ---- values ↔ AttributeValues ----

export function toAttributeValue(value: Value): AttributeValue {
  if (typeof value === "string") return { S: value };
  if (typeof value === "number") return { N: String(value) };
  if (typeof value === "boolean") return { BOOL: value };
  if (value === null) return { NULL: true };
  if (value instanceof Uint8Array) return { B: value };
  if (Array.isArray(value)) return { L: value.map(toAttributeValue) };
  const m: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(value)) m[k] = toAttributeValue(v);
  return { M: m };
}

export function fromAttributeValue(av: AttributeValue): Value {
  if (av.S !== undefined) return av.S;
  if (av.N !== undefined) return Number(av.N);
  if (av.BOOL !== undefined) return av.BOOL;
  if (av.NULL !== undefined) return null;
  if (av.B !== undefined) return new Uint8Array(av.B);
  if (av.L !== undefined) return av.L.map(fromAttributeValue);
  if (av.M !== undefined) {
    const out: { [key: string]: Value } = {};
    for (const [k, v] of Object.entries(av.M)) out[k] = fromAttributeValue(v);
    return out;
  }
  // Sets are never written by strata; read them as lists so nothing is lost.
  if (av.SS !== undefined) return [...av.SS];
  if (av.NS !== undefined) return av.NS.map(Number);
  if (av.BS !== undefined) return av.BS.map((b) => new Uint8Array(b));
  throw strataError("ECORRUPT", `unsupported DynamoDB attribute value ${JSON.stringify(Object.keys(av))}`);
}

export function toAttributeMap(item: Record<string, Value>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(item)) out[k] = toAttributeValue(v);
  return out;
}

export function fromAttributeMap(map: Record<string, AttributeValue> | undefined): Item | undefined {
  if (map === undefined) return undefined;
  const out: Record<string, Value> = {};
  for (const [k, v] of Object.entries(map)) out[k] = fromAttributeValue(v);
  return out as Item;
}

function keyMap(key: Key): Record<string, AttributeValue> {
  return { pk: { S: key.pk }, sk: { S: key.sk } };
}

// ---- expressions ----

/** Collects #name / :value placeholders for one request's expressions. */
class Expressions {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, AttributeValue> = {};
  private readonly nameOf = new Map<string, string>();
  private valueCount = 0;

  name(attr: string): string {
    let placeholder = this.nameOf.get(attr);
    if (!placeholder) {
      placeholder = `#n${this.nameOf.size}`;
      this.nameOf.set(attr, placeholder);
      this.names[placeholder] = attr;
    }
    return placeholder;
  }

  value(value: Value): string {
    const placeholder = `:v${this.valueCount++}`;
    this.values[placeholder] = toAttributeValue(value);
    return placeholder;
  }

  condition(c: Condition): string {
    switch (c.op) {
      case "exists":
        return `attribute_exists(${this.name("pk")})`;
      case "notExists":
        return `attribute_not_exists(${this.name("pk")})`;
      case "attrExists":
        return `attribute_exists(${this.name(c.attr)})`;
      case "attrNotExists":
        return `attribute_not_exists(${this.name(c.attr)})`;
      case "and":
      case "or":
        return `(${c.of.map((x) => this.condition(x)).join(c.op === "and" ? " AND " : " OR ")})`;
      case "not":
        return `(NOT ${this.condition(c.of)})`;
      default: {
        const operator = { eq: "=", ne: "<>", lt: "<", le: "<=", gt: ">", ge: ">=" }[c.op];
        return `${this.name(c.attr)} ${operator} ${this.value(c.value)}`;
      }
    }
  }

  update(u: Update): string {
    const parts: string[] = [];
    const set = Object.entries(u.set ?? {});
    if (set.length > 0)
      parts.push(`SET ${set.map(([k, v]) => `${this.name(k)} = ${this.value(v)}`).join(", ")}`);
    if (u.remove && u.remove.length > 0) parts.push(`REMOVE ${u.remove.map((k) => this.name(k)).join(", ")}`);
    const add = Object.entries(u.add ?? {});
    if (add.length > 0)
      parts.push(`ADD ${add.map(([k, n]) => `${this.name(k)} ${this.value(n)}`).join(", ")}`);
    return parts.join(" ");
  }

  /** The placeholder maps, omitted when empty (DynamoDB refuses empty maps). */
  attributes(): {
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, AttributeValue>;
  } {
    return {
      ...(Object.keys(this.names).length > 0 ? { ExpressionAttributeNames: this.names } : {}),
      ...(Object.keys(this.values).length > 0 ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}

/** Input for a conditional write: the ConditionExpression part, if any. */
function conditional(condition: Condition | undefined): {
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, AttributeValue>;
} {
  if (!condition) return {};
  const x = new Expressions();
  const ConditionExpression = x.condition(condition);
  return { ConditionExpression, ...x.attributes() };
}

// ---- errors ----

const THROTTLING = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "LimitExceededException",
]);

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

function normaliseReason(reason: DynamoCancellationReason): CancellationReason | null {
  switch (reason.Code) {
    case undefined:
    case "None":
      return null;
    case "ConditionalCheckFailed": {
      const item = fromAttributeMap(reason.Item);
      return { code: "ConditionalCheckFailed", ...(item ? { item } : {}) };
    }
    case "TransactionConflict":
      return { code: "TransactionConflict", ...(reason.Message ? { message: reason.Message } : {}) };
    default:
      return { code: "Other", message: `${reason.Code}${reason.Message ? `: ${reason.Message}` : ""}` };
  }
}

/** DynamoDB requests for the port's operations, on checked input (see the file comment). */
export class DynamoDbMetadataDriver implements MetadataDriver {
  readonly kind = "dynamodb";
  readonly tableName: string;
  /** The SDK client (for benchmarks' raw baselines and admin scripts; never above adapters/). */
  readonly client: DynamoDBClient;
  private readonly ownsClient: boolean;
  private readonly maxRetries: number;
  private readonly faultHandling: boolean;
  /** The wrapper's request counter (set by countRequestsWith). */
  private count: (kind: RequestKind) => void = () => {};

  constructor(options: DynamoDbMetadataStoreOptions) {
    if (!options.tableName) throw strataError("EINVAL", "DynamoDbMetadataStore needs a tableName");
    this.tableName = options.tableName;
    this.ownsClient = options.client === undefined;
    // The SDK retries throttling and 5xx itself (standard mode); 6 attempts ride out short bursts.
    this.client = options.client ?? new DynamoDBClient({ maxAttempts: 6, ...options.clientConfig });
    this.maxRetries = options.maxRetries ?? 8;
    this.faultHandling = options.faultHandling ?? true;
  }

  countRequestsWith(count: (kind: RequestKind) => void): void {
    this.count = count;
  }

  /**
   * Send one command, counting every attempt that goes on the wire (SDK retries included).
   * `seen.ambiguous` is set when an attempt failed without a definite answer (a 5xx or no reply):
   * DynamoDB may have applied it, whatever the SDK's later attempts answer.
   */
  private async send<O>(
    kind: RequestKind | "admin",
    command: object,
    seen?: { ambiguous: boolean },
  ): Promise<O> {
    if (kind !== "admin")
      (command as CountableCommand).middlewareStack.add(
        (next) => async (args) => {
          this.count(kind);
          try {
            return await next(args);
          } catch (err) {
            const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
            if (seen && (status === undefined || status >= 500)) seen.ambiguous = true;
            throw err;
          }
        },
        // Inside the SDK's retry middleware (finalizeRequest, high), so each attempt counts.
        { step: "finalizeRequest", priority: "low", name: "strataRequestCounter" },
      );
    // biome-ignore lint/suspicious/noExplicitAny: the client's overloads are per command class
    return (await this.client.send(command as any)) as O;
  }

  /** Translate an SDK failure into a StrataError; `item` carries ALL_OLD of a failed condition. */
  private translate(err: unknown, what: string, key?: Key): StrataError {
    if (isStrataError(err)) return err;
    const e = err as {
      name?: string;
      code?: string;
      message?: string;
      Item?: Record<string, AttributeValue>;
      $metadata?: { httpStatusCode?: number };
    };
    const name = e?.name ?? "";
    const message = e?.message ?? String(err);
    const where = key ? ` on ${key.pk} / ${key.sk}` : "";
    const fail = (code: StrataError["code"], text: string, details: Record<string, unknown> = {}) =>
      new StrataError(code, text, { cause: err, details: { table: this.tableName, ...details } });
    if (name === "ConditionalCheckFailedException")
      return fail("ECONFLICT", `condition failed${where}`, { item: fromAttributeMap(e.Item), key });
    if (!this.faultHandling) return fail("EIO", `DynamoDB ${what} failed: ${name} ${message}`);
    if (name === "TransactionConflictException")
      return fail("ECONFLICT", `${what}${where} collided with a running transaction; retry`, {
        item: undefined,
        key,
        transactionConflict: true,
      });
    if (THROTTLING.has(name))
      return fail(
        "ETHROTTLED",
        `DynamoDB throttled ${what} on table ${this.tableName} (${name}); retry later`,
      );
    if (name === "ResourceNotFoundException")
      return fail(
        "EUNAVAIL",
        `table ${this.tableName} does not exist: create it (npm start does) or fix the table name`,
      );
    if (name === "ValidationException") {
      if (/size.*exceed/i.test(message))
        return fail("E2BIG", `${what}${where}: the item would exceed DynamoDB's 400 KB limit (${message})`, {
          key,
        });
      if (/incorrect (data|operand) type|operand type/i.test(message))
        return fail("EINVAL", `${what}${where}: ${message}`, { key });
      return fail("EINVAL", `DynamoDB refused ${what}${where} as invalid — a strata bug: ${message}`, {
        key,
      });
    }
    if (name === "AccessDeniedException" || name === "UnrecognizedClientException")
      return fail("EACCES", `DynamoDB denied ${what} on table ${this.tableName}: ${message}`);
    if (
      name === "TimeoutError" ||
      NETWORK_CODES.has(e?.code ?? "") ||
      NETWORK_CODES.has(name) ||
      e?.$metadata?.httpStatusCode === undefined ||
      (e.$metadata.httpStatusCode ?? 0) >= 500
    )
      return fail(
        "EUNAVAIL",
        `DynamoDB is unreachable or failing for ${what} on table ${this.tableName}: ${message}`,
      );
    return fail("EIO", `DynamoDB ${what} failed on table ${this.tableName}: ${name} ${message}`);
  }

  /** Retry a single-item write that collided with a transaction (it was not applied). */
  private async writeWithConflictRetry<T>(what: string, key: Key, attempt: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await attempt();
      } catch (err) {
        const name = (err as { name?: string })?.name;
        if (name !== "TransactionConflictException" || i >= this.maxRetries || !this.faultHandling)
          throw this.translate(err, what, key);
        await backoff(i);
      }
    }
  }

  async get(key: Key): Promise<Item | undefined> {
    try {
      // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_GetItem.html
      const out = await this.send<{ Item?: Record<string, AttributeValue> }>(
        "GetItem",
        new GetItemCommand({ TableName: this.tableName, Key: keyMap(key), ConsistentRead: true }),
      );
      return fromAttributeMap(out.Item);
    } catch (err) {
      throw this.translate(err, "GetItem", key);
    }
  }

  async put(item: Item, condition: Condition | undefined): Promise<void> {
    const input = {
      TableName: this.tableName,
      Item: toAttributeMap(item),
      ...conditional(condition),
      ...(condition ? { ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const } : {}),
    };
    // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html
    await this.writeWithConflictRetry("PutItem", item, () => this.send("PutItem", new PutItemCommand(input)));
  }

  async update(key: Key, update: Update, condition: Condition | undefined): Promise<Item> {
    const x = new Expressions();
    const UpdateExpression = x.update(update);
    const ConditionExpression = condition ? x.condition(condition) : undefined;
    const input = {
      TableName: this.tableName,
      Key: keyMap(key),
      UpdateExpression,
      ...(ConditionExpression
        ? { ConditionExpression, ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const }
        : {}),
      ...x.attributes(),
      ReturnValues: "ALL_NEW" as const,
    };
    // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html
    const out = await this.writeWithConflictRetry("UpdateItem", key, () =>
      this.send<{ Attributes?: Record<string, AttributeValue> }>("UpdateItem", new UpdateItemCommand(input)),
    );
    return fromAttributeMap(out.Attributes) ?? { ...key };
  }

  async delete(key: Key, condition: Condition | undefined): Promise<void> {
    const input = {
      TableName: this.tableName,
      Key: keyMap(key),
      ...conditional(condition),
      ...(condition ? { ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const } : {}),
    };
    // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteItem.html
    await this.writeWithConflictRetry("DeleteItem", key, () =>
      this.send("DeleteItem", new DeleteItemCommand(input)),
    );
  }

  private transactItem(op: TransactOp): TransactWriteItem {
    const onFailure = { ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const };
    switch (op.kind) {
      case "put":
        return {
          Put: {
            TableName: this.tableName,
            Item: toAttributeMap(op.item),
            ...conditional(op.condition),
            ...onFailure,
          },
        };
      case "delete":
        return {
          Delete: {
            TableName: this.tableName,
            Key: keyMap(op.key),
            ...conditional(op.condition),
            ...onFailure,
          },
        };
      case "check": {
        const { ConditionExpression, ...rest } = conditional(op.condition);
        return {
          ConditionCheck: {
            TableName: this.tableName,
            Key: keyMap(op.key),
            ConditionExpression: ConditionExpression!,
            ...rest,
            ...onFailure,
          },
        };
      }
      case "update": {
        const x = new Expressions();
        const UpdateExpression = x.update(op.update);
        const ConditionExpression = op.condition ? x.condition(op.condition) : undefined;
        return {
          Update: {
            TableName: this.tableName,
            Key: keyMap(op.key),
            UpdateExpression,
            ...(ConditionExpression ? { ConditionExpression } : {}),
            ...x.attributes(),
            ...onFailure,
          },
        };
      }
    }
  }

  async transact(ops: TransactOp[], token: string | undefined): Promise<void> {
    const TransactItems = ops.map((op) => this.transactItem(op));
    const seen = { ambiguous: false };
    try {
      // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
      // ClientRequestToken: DynamoDB answers a re-send of a committed transaction with success for
      // 10 minutes. (Without one the SDK generates a token per command, so only its own retries
      // of that command were covered, not a caller's re-send.)
      await this.send(
        "TransactWriteItems",
        new TransactWriteItemsCommand({
          TransactItems,
          ...(token !== undefined ? { ClientRequestToken: token } : {}),
        }),
        seen,
      );
    } catch (err) {
      const name = (err as { name?: string })?.name;
      // An earlier attempt of this request (the SDK's retries) may have committed: a later
      // conflict or throttle does not say it did not. Report the outcome as unknown (retryable),
      // so the caller re-sends with the same token, which DynamoDB answers "done" if it was.
      const reasons =
        (err as { CancellationReasons?: DynamoCancellationReason[] })?.CancellationReasons ?? [];
      if (
        this.faultHandling &&
        seen.ambiguous &&
        name === "TransactionCanceledException" &&
        !reasons.some((r) => r.Code === "ConditionalCheckFailed" || r.Code === "ValidationError")
      )
        throw new StrataError(
          "EUNAVAIL",
          `TransactWriteItems on table ${this.tableName}: an attempt failed without an answer and a retry was cancelled (${reasons.map((r) => r.Code).join(", ")}); the outcome is unknown — re-send with the same token`,
          { cause: err, details: { table: this.tableName, ...(token !== undefined ? { token } : {}) } },
        );
      if (name === "IdempotentParameterMismatchException" && token !== undefined)
        throw tokenMismatch(token, err);
      if (name === "TransactionInProgressException")
        throw new StrataError(
          "ETHROTTLED",
          `a transaction with token ${token} is still in progress on table ${this.tableName}; retry`,
          { cause: err, details: { table: this.tableName, token } },
        );
      throw this.cancelled(err, "TransactWriteItems", ops.length);
    }
  }

  /** TransactionCanceledException → ECONFLICT with normalised reasons (EINVAL/E2BIG/ETHROTTLED when those caused it). */
  private cancelled(err: unknown, what: string, n: number): StrataError {
    const e = err as { name?: string; CancellationReasons?: DynamoCancellationReason[]; message?: string };
    if (e?.name !== "TransactionCanceledException") return this.translate(err, what);
    const raw = (e.CancellationReasons ?? []).map((r) =>
      this.faultHandling || r.Code === undefined || r.Code === "None"
        ? r
        : { ...r, Code: "ConditionalCheckFailed" },
    );
    const reasons = Array.from({ length: n }, (_, i) => (raw[i] ? normaliseReason(raw[i]) : null));
    const failedIndex = reasons.findIndex((r) => r !== null);
    const codes = raw.map((r) => r.Code);
    const details = { table: this.tableName, reasons, failedIndex };
    if (codes.includes("ValidationError")) {
      const message = raw.find((r) => r.Code === "ValidationError")?.Message ?? "";
      return new StrataError(
        /size.*exceed/i.test(message) ? "E2BIG" : "EINVAL",
        `${what} op ${failedIndex}: ${message}`,
        {
          cause: err,
          details,
        },
      );
    }
    if (codes.includes("ConditionalCheckFailed") || codes.includes("TransactionConflict")) {
      const why = codes.includes("ConditionalCheckFailed")
        ? `condition of op ${failedIndex} failed`
        : `op ${failedIndex} collided with another transaction; retry`;
      return new StrataError("ECONFLICT", `transaction cancelled: ${why}`, { cause: err, details });
    }
    if (codes.some((c) => c === "ThrottlingError" || c === "ProvisionedThroughputExceeded"))
      return new StrataError(
        "ETHROTTLED",
        `DynamoDB throttled ${what} on table ${this.tableName}; retry later`,
        {
          cause: err,
          details,
        },
      );
    return new StrataError("EIO", `${what} cancelled: ${e.message ?? codes.join(", ")}`, {
      cause: err,
      details,
    });
  }

  async transactGet(keys: Key[]): Promise<Array<Item | undefined>> {
    const input = {
      TransactItems: keys.map((key) => ({ Get: { TableName: this.tableName, Key: keyMap(key) } })),
    };
    for (let i = 0; ; i++) {
      try {
        // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactGetItems.html
        const out = await this.send<{ Responses?: Array<{ Item?: Record<string, AttributeValue> }> }>(
          "TransactGetItems",
          new TransactGetItemsCommand(input),
        );
        return keys.map((_, j) => fromAttributeMap(out.Responses?.[j]?.Item));
      } catch (err) {
        // A read that meets a running write transaction is cancelled; it has no effect, so retry.
        const reasons =
          (err as { CancellationReasons?: DynamoCancellationReason[] })?.CancellationReasons ?? [];
        const conflict = reasons.some((r) => r.Code === "TransactionConflict");
        if (!conflict || i >= this.maxRetries || !this.faultHandling)
          throw this.cancelled(err, "TransactGetItems", keys.length);
        await backoff(i);
      }
    }
  }

  async batchGet(keys: Key[]): Promise<Array<Item | undefined>> {
    // DynamoDB refuses repeated keys in one request: ask for each distinct key once.
    const distinct = new Map<string, Key>();
    for (const key of keys) distinct.set(keyId(key), { pk: key.pk, sk: key.sk });
    const unique = [...distinct.values()];
    const found = new Map<string, Item>();
    const chunks: Key[][] = [];
    for (let i = 0; i < unique.length; i += LIMITS.batchGetKeys)
      chunks.push(unique.slice(i, i + LIMITS.batchGetKeys));
    await Promise.all(
      chunks.map(async (chunk) => {
        let pending: Array<Record<string, AttributeValue>> = chunk.map(keyMap);
        for (let attempt = 0; pending.length > 0; attempt++) {
          if (attempt > this.maxRetries)
            throw strataError(
              "ETHROTTLED",
              `DynamoDB left ${pending.length} keys unprocessed after ${attempt} BatchGetItem requests on table ${this.tableName}; retry later`,
              { table: this.tableName },
            );
          if (attempt > 0) await backoff(attempt - 1);
          let out: {
            Responses?: Record<string, Array<Record<string, AttributeValue>>>;
            UnprocessedKeys?: Record<string, { Keys?: Array<Record<string, AttributeValue>> }>;
          };
          try {
            // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
            out = await this.send(
              "BatchGetItem",
              new BatchGetItemCommand({
                RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
              }),
            );
          } catch (err) {
            throw this.translate(err, "BatchGetItem");
          }
          for (const raw of out.Responses?.[this.tableName] ?? []) {
            const item = fromAttributeMap(raw)!;
            found.set(keyId(item), item);
          }
          pending = out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
        }
      }),
    );
    // Each caller position gets its own copy, so repeated keys never share an object.
    return keys.map((key) => {
      const item = found.get(keyId(key));
      return item && structuredClone(item);
    });
  }

  async query(pk: string, query: DriverQuery): Promise<DriverPage> {
    const { after, sk } = query;
    const x = new Expressions();
    let KeyConditionExpression = `${x.name("pk")} = ${x.value(pk)}`;
    if (sk) {
      const name = x.name("sk");
      if (sk.op === "between")
        KeyConditionExpression += ` AND ${name} BETWEEN ${x.value(sk.low)} AND ${x.value(sk.high)}`;
      else if (sk.op === "beginsWith")
        KeyConditionExpression += ` AND begins_with(${name}, ${x.value(sk.value)})`;
      else {
        const operator = { eq: "=", lt: "<", le: "<=", gt: ">", ge: ">=" }[sk.op];
        KeyConditionExpression += ` AND ${name} ${operator} ${x.value(sk.value)}`;
      }
    }
    try {
      // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html
      const out = await this.send<{
        Items?: Array<Record<string, AttributeValue>>;
        LastEvaluatedKey?: Record<string, AttributeValue>;
      }>(
        "Query",
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression,
          ...x.attributes(),
          ConsistentRead: true,
          ScanIndexForward: !query.reverse,
          ...(query.limit !== undefined ? { Limit: query.limit } : {}),
          ...(after !== undefined ? { ExclusiveStartKey: keyMap({ pk, sk: after }) } : {}),
        }),
      );
      const items = (out.Items ?? []).map((raw) => fromAttributeMap(raw)!);
      const last = out.LastEvaluatedKey?.sk?.S;
      return last === undefined ? { items } : { items, last };
    } catch (err) {
      throw this.translate(err, "Query");
    }
  }

  close(): void {
    if (this.ownsClient) this.client.destroy();
  }

  /**
   * Create the table from core/metadata/table.ts if it does not exist, wait until it is ACTIVE,
   * and turn on TTL and point-in-time recovery. Idempotent. For DynamoDB Local and first-run
   * setups; deployments create it through stacks/metadata.ts.
   */
  async createTable(): Promise<void> {
    const t = METADATA_TABLE;
    try {
      // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html
      await this.send(
        "admin",
        new CreateTableCommand({
          TableName: this.tableName,
          AttributeDefinitions: [
            { AttributeName: t.partitionKey.name, AttributeType: t.partitionKey.type },
            { AttributeName: t.sortKey.name, AttributeType: t.sortKey.type },
          ],
          KeySchema: [
            { AttributeName: t.partitionKey.name, KeyType: "HASH" },
            { AttributeName: t.sortKey.name, KeyType: "RANGE" },
          ],
          BillingMode: t.billingMode,
          StreamSpecification: { StreamEnabled: true, StreamViewType: t.streamViewType },
        }),
      );
    } catch (err) {
      if ((err as { name?: string })?.name !== "ResourceInUseException")
        throw this.translate(err, "CreateTable");
    }
    await this.waitForTable(true);
    try {
      // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html
      await this.send(
        "admin",
        new UpdateTimeToLiveCommand({
          TableName: this.tableName,
          TimeToLiveSpecification: { AttributeName: t.ttlAttribute, Enabled: true },
        }),
      );
    } catch (err) {
      // Already enabled is fine (DynamoDB answers ValidationException "TimeToLive is already enabled").
      if (!/already enabled/i.test((err as Error)?.message ?? ""))
        throw this.translate(err, "UpdateTimeToLive");
    }
    if (t.pointInTimeRecovery)
      try {
        // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateContinuousBackups.html
        await this.send(
          "admin",
          new UpdateContinuousBackupsCommand({
            TableName: this.tableName,
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          }),
        );
      } catch (err) {
        // DynamoDB Local does not implement continuous backups; a real table must have them.
        const name = (err as { name?: string })?.name ?? "";
        if (
          !/UnknownOperation|NotImplemented|UnrecognizedClient/i.test(name + ((err as Error)?.message ?? ""))
        )
          throw this.translate(err, "UpdateContinuousBackups");
      }
  }

  /** Delete the table if it exists and wait until it is gone. */
  async deleteTable(): Promise<void> {
    try {
      // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteTable.html
      await this.send("admin", new DeleteTableCommand({ TableName: this.tableName }));
    } catch (err) {
      if ((err as { name?: string })?.name === "ResourceNotFoundException") return;
      throw this.translate(err, "DeleteTable");
    }
    await this.waitForTable(false);
  }

  private async waitForTable(active: boolean): Promise<void> {
    const deadline = Date.now() + 300_000;
    for (let i = 0; ; i++) {
      let status: string | undefined;
      try {
        // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DescribeTable.html
        const out = await this.send<{ Table?: { TableStatus?: string } }>(
          "admin",
          new DescribeTableCommand({ TableName: this.tableName }),
        );
        status = out.Table?.TableStatus;
      } catch (err) {
        if ((err as { name?: string })?.name !== "ResourceNotFoundException")
          throw this.translate(err, "DescribeTable");
      }
      if (active ? status === "ACTIVE" : status === undefined) return;
      if (Date.now() > deadline)
        throw strataError(
          "ETIMEDOUT",
          `table ${this.tableName} did not become ${active ? "ACTIVE" : "deleted"} in 5 minutes (status ${status})`,
        );
      await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** i, 2_000)));
    }
  }
}

/** The cloud MetadataStore: {@link DynamoDbMetadataDriver} in the checked wrapper. */
export class DynamoDbMetadataStore extends CheckedMetadataStore {
  readonly tableName: string;
  /** The SDK client (for benchmarks' raw baselines and admin scripts; never above adapters/). */
  readonly client: DynamoDBClient;
  declare protected readonly driver: DynamoDbMetadataDriver;

  constructor(options: DynamoDbMetadataStoreOptions) {
    const driver = new DynamoDbMetadataDriver(options);
    super(driver);
    this.tableName = driver.tableName;
    this.client = driver.client;
  }

  /** See {@link DynamoDbMetadataDriver.createTable}. */
  createTable(): Promise<void> {
    return this.driver.createTable();
  }

  /** See {@link DynamoDbMetadataDriver.deleteTable}. */
  deleteTable(): Promise<void> {
    return this.driver.deleteTable();
  }
}

/** Exponential backoff with full jitter: 25 ms · 2^attempt, capped at 1 s. */
const backoff = (attempt: number) => retryPause(attempt, { baseMs: 25, capMs: 1_000 });
