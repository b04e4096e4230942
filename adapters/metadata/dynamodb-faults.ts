/**
 * DynamoDB's own faults, injected at the SDK client: a middleware on `DynamoDBClient` that answers
 * some attempts with the exact HTTP replies real DynamoDB sends (and DynamoDB Local never does),
 * so the SDK's deserializer, its retry strategy and `adapters/metadata/dynamodb.ts` all see what
 * they would see in the cloud.
 *
 * ```ts
 * const faults = injectDynamoDbFaults(client, { seed: 7, probability: 0.05, when: () => on });
 * faults.injected;   // per kind, and .total
 * faults.outcomes;   // per command: how many ended ok / failed after the SDK's retries, by error
 * ```
 *
 * Kinds (each drawn per attempt on the wire, so the SDK's own retries meet them too):
 *   transactionConflict  (writes and transactions only: reads never conflict)
 *                        TransactWriteItems / TransactGetItems: 400 TransactionCanceledException
 *                        with `CancellationReasons` (one `TransactionConflict` "Transaction is
 *                        ongoing for the item", the others `None`); single-item writes: 400
 *                        TransactionConflictException. Not applied.
 *   throttling           400 ThrottlingException ("Rate of requests exceeds the allowed
 *                        throughput"); a transaction gets TransactionCanceledException with
 *                        `ThrottlingError` reasons, as an on-demand table answers. Not applied.
 *   provisioned          400 ProvisionedThroughputExceededException. Not applied.
 *   internalError        500 InternalServerError; on a write, applied or not (one draw each way):
 *                        DynamoDB documents that the request may have succeeded.
 *   lostReply            the request reaches DynamoDB and is applied; the reply is dropped (the
 *                        socket resets: ECONNRESET), so the SDK retries the same request.
 *
 * `sticky` (0–1): after a fault, the chance that the retry of the same request meets one too (a
 * burst), so some faults outlast the SDK's attempts and reach strata. Deterministic per `seed`
 * for a given order of attempts.
 */
import { Readable } from "node:stream";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { mulberry32 } from "../../core/random.ts";

export type DynamoFaultKind =
  | "transactionConflict"
  | "throttling"
  | "provisioned"
  | "internalError"
  | "lostReply";

export const DYNAMO_FAULT_KINDS: readonly DynamoFaultKind[] = [
  "transactionConflict",
  "throttling",
  "provisioned",
  "internalError",
  "lostReply",
];

export interface DynamoFaultPlan {
  seed: number;
  /** Chance that an attempt meets a fault (0–1). */
  probability: number;
  /** The kinds to draw from (default all, equally likely). */
  kinds?: readonly DynamoFaultKind[];
  /** Chance that the next attempt of a faulted request is faulted too (default 0). */
  sticky?: number;
  /** Inject only while this returns true (default always). */
  when?: () => boolean;
}

export interface DynamoFaultInjector {
  /** Faults injected, per kind and in total. */
  readonly injected: Record<DynamoFaultKind, number> & { total: number };
  /** Writes a fault answered with an error although DynamoDB applied them (lostReply, half the 500s). */
  readonly appliedButFailed: { count: number };
  /** Commands as the caller saw them after the SDK's retries: "GetItem ok", "PutItem TransactionConflictException"… */
  readonly outcomes: Map<string, number>;
  /** Take the middleware off the client. */
  remove(): void;
}

const WRITES = new Set(["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"]);
const TRANSACTIONS = new Set(["TransactWriteItems", "TransactGetItems"]);
const DATA_COMMANDS = new Set([
  "GetItem",
  "PutItem",
  "UpdateItem",
  "DeleteItem",
  "TransactWriteItems",
  "TransactGetItems",
  "BatchGetItem",
  "Query",
]);

/** A reply as the SDK's HTTP handler returns it (the fields its deserializer reads). */
function reply(status: number, body: Record<string, unknown>): { response: unknown } {
  const text = JSON.stringify(body);
  return {
    response: {
      statusCode: status,
      reason: status === 500 ? "Internal Server Error" : "Bad Request",
      headers: {
        "content-type": "application/x-amz-json-1.0",
        "content-length": String(Buffer.byteLength(text)),
        "x-amzn-requestid": `STRATAFAULT${Math.floor(Math.random() * 1e9)}`,
      },
      body: Readable.from([Buffer.from(text)]),
    },
  };
}

const T = "com.amazonaws.dynamodb.v20120810#";

/** The bodies real DynamoDB sends (error type in `__type`, as the JSON 1.0 protocol reads it). */
function faultReply(
  kind: DynamoFaultKind,
  command: string,
  items: number,
  pick: number,
): { response: unknown } {
  const cancelled = (code: string, message: string) => {
    const reasons = Array.from({ length: Math.max(1, items) }, (_, i) =>
      i === pick % Math.max(1, items) ? { Code: code, Message: message } : { Code: "None" },
    );
    return reply(400, {
      __type: `${T}TransactionCanceledException`,
      CancellationReasons: reasons,
      Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(", ")}]`,
    });
  };
  switch (kind) {
    case "transactionConflict":
      if (TRANSACTIONS.has(command))
        return cancelled("TransactionConflict", "Transaction is ongoing for the item");
      return reply(400, {
        __type: `${T}TransactionConflictException`,
        message: "Transaction is ongoing for the item",
      });
    case "throttling":
      if (TRANSACTIONS.has(command))
        return cancelled(
          "ThrottlingError",
          "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly.",
        );
      return reply(400, {
        __type: "com.amazon.coral.availability#ThrottlingException",
        message: "Rate of requests exceeds the allowed throughput.",
      });
    case "provisioned":
      return reply(400, {
        __type: `${T}ProvisionedThroughputExceededException`,
        message:
          "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
      });
    case "internalError":
      return reply(500, { __type: `${T}InternalServerError`, message: "Internal server error" });
    case "lostReply":
      throw new Error("lostReply is not a reply");
  }
}

type Next = (args: unknown) => Promise<{ response?: unknown; output?: unknown }>;
type Stack = DynamoDBClient["middlewareStack"];

/** Drain a real reply's body so its socket goes back to the pool. */
async function drain(out: { response?: unknown }): Promise<void> {
  const body = (out.response as { body?: unknown } | undefined)?.body;
  if (body && typeof (body as Readable).resume === "function") {
    const stream = body as Readable;
    await new Promise<void>((resolve) => {
      stream
        .on("end", resolve)
        .on("error", () => resolve())
        .on("close", resolve);
      stream.resume();
    });
  }
}

/** Add the fault middleware (and an outcome counter) to `client`. See the file comment. */
export function injectDynamoDbFaults(client: DynamoDBClient, plan: DynamoFaultPlan): DynamoFaultInjector {
  // Separate streams for "whether" and "which", so the kind does not depend on the first draw.
  const random = mulberry32(plan.seed);
  const choose = mulberry32(plan.seed ^ 0x5bd1e995);
  const kinds = plan.kinds ?? DYNAMO_FAULT_KINDS;
  const injected = Object.assign(Object.fromEntries(DYNAMO_FAULT_KINDS.map((k) => [k, 0])), {
    total: 0,
  }) as Record<DynamoFaultKind, number> & { total: number };
  const appliedButFailed = { count: 0 };
  const outcomes = new Map<string, number>();
  // Requests in a fault burst, by the SDK's invocation id (one per command, kept across its retries;
  // the request object itself is re-signed, i.e. copied, per attempt).
  const bursting = new Set<string>();
  const stack = client.middlewareStack as Stack;

  const wire =
    (next: Next, context: { commandName?: string }) =>
    async (args: unknown): Promise<unknown> => {
      const command = (context.commandName ?? "").replace(/Command$/, "");
      const request = (args as { request?: { body?: unknown; headers?: Record<string, string> } }).request;
      if (!DATA_COMMANDS.has(command) || !request || !(plan.when?.() ?? true)) return await next(args);
      const id = request.headers?.["amz-sdk-invocation-id"] ?? "";
      const chance = bursting.has(id) ? (plan.sticky ?? 0) : plan.probability;
      if (random() >= chance) {
        bursting.delete(id);
        return await next(args);
      }
      bursting.add(id);
      // Reads never meet a transaction conflict (only writes and transactions do) and lose no state.
      const fitting =
        WRITES.has(command) || TRANSACTIONS.has(command)
          ? kinds
          : kinds.filter((k) => k !== "transactionConflict");
      if (fitting.length === 0) return await next(args);
      const kind = fitting[Math.floor(choose() * fitting.length)]!;
      injected[kind]++;
      injected.total++;
      let items = 1;
      if (TRANSACTIONS.has(command)) {
        // One cancellation reason per item, as DynamoDB answers (the body is a string or bytes).
        const body =
          request.body instanceof Uint8Array ? Buffer.from(request.body).toString("utf8") : request.body;
        if (typeof body === "string")
          items = (JSON.parse(body) as { TransactItems?: unknown[] }).TransactItems?.length ?? 1;
      }
      const pick = Math.floor(choose() * items);
      const applies =
        WRITES.has(command) && (kind === "lostReply" || (kind === "internalError" && choose() < 0.5));
      if (kind === "lostReply" || applies) {
        const out = await next(args);
        await drain(out);
        if (WRITES.has(command)) appliedButFailed.count++;
        if (kind === "lostReply")
          throw Object.assign(new Error("socket hang up (strata fault injection: reply lost)"), {
            code: "ECONNRESET",
          });
      }
      return faultReply(kind, command, items, pick);
    };

  const outcome =
    (next: Next, context: { commandName?: string }) =>
    async (args: unknown): Promise<unknown> => {
      const command = (context.commandName ?? "").replace(/Command$/, "");
      try {
        const out = await next(args);
        if (DATA_COMMANDS.has(command))
          outcomes.set(`${command} ok`, (outcomes.get(`${command} ok`) ?? 0) + 1);
        return out;
      } catch (err) {
        const key = `${command} ${(err as { name?: string })?.name ?? "Error"}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        throw err;
      }
    };

  // Innermost (deserialize, low): below the deserializer, so a fault reply is parsed as a real one,
  // and below the retry middleware (finalizeRequest), so each attempt draws.
  // biome-ignore lint/suspicious/noExplicitAny: the stack's middleware types are per command
  stack.add(wire as any, { step: "deserialize", priority: "low", name: "strataFaultInjection" });
  // Outermost: what the adapter sees once the SDK gave up or succeeded.
  // biome-ignore lint/suspicious/noExplicitAny: as above
  stack.add(outcome as any, { step: "initialize", priority: "high", name: "strataFaultOutcomes" });
  return {
    injected,
    appliedButFailed,
    outcomes,
    remove: () => {
      stack.remove("strataFaultInjection");
      stack.remove("strataFaultOutcomes");
    },
  };
}

/**
 * The SDK's standard retry decision (throttling and transient errors, as the SDK classifies them,
 * up to `maxAttempts`) without its pauses: for fault tiers, whose waits would only cost wall time.
 * Not for production (no pause, no retry quota).
 */
export function pauselessRetryStrategy(maxAttempts: number) {
  type Token = { getRetryCount(): number; getRetryDelay(): number };
  const token = (count: number): Token => ({ getRetryCount: () => count, getRetryDelay: () => 0 });
  return {
    mode: "standard",
    acquireInitialRetryToken: async (): Promise<Token> => token(0),
    refreshRetryTokenForRetry: async (previous: Token, info: { errorType?: string }): Promise<Token> => {
      const retryable = info.errorType === "THROTTLING" || info.errorType === "TRANSIENT";
      if (!retryable || previous.getRetryCount() + 1 >= maxAttempts) throw new Error("no retry");
      return token(previous.getRetryCount() + 1);
    },
    recordSuccess: () => {},
  };
}
