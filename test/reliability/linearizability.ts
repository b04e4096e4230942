/**
 * Concurrency: 2–3 clients (separate processes: engine + data plane + SDK each, over one store and
 * one volume) run interleaved writeFile / appendFile / readFile / unlink on a few shared paths.
 * Store calls get seeded random delays (macrotask yields) so the interleavings vary with the seed.
 * Every invocation and response is recorded with a logical timestamp; afterwards each path's
 * history must be linearizable against a sequential register spec:
 *
 *   write(v): state = v            append(x): state = (state ?? "") + x
 *   read(): state, or ENOENT       unlink(): ENOENT when absent, else state = absent
 *
 * Ops touch one path each, so per-path checking is enough (linearizability is compositional).
 * A failed op with ECONFLICT (lost its race after the engine's retries) must have had no effect:
 * it is left out of the history. The checker is a depth-first search over the ops that may go
 * next (those invoked before the earliest pending response), memoised on (done set, state).
 */
import { isStrataError } from "../../core/errors.ts";
import { mulberry32 } from "../../core/random.ts";
import { STORE_OPS } from "../support/faulty-store.ts";
import { World, type WorldOptions } from "./world.ts";

export type RegisterOp =
  | { kind: "write"; value: string }
  | { kind: "append"; value: string }
  | { kind: "read" }
  | { kind: "unlink" };

/** What came back: a read's value, "ok", or an error code. */
export type RegisterResult = { ok: true; value?: string } | { ok: false; code: string };

export interface HistoryEntry {
  client: number;
  path: string;
  op: RegisterOp;
  invoke: number;
  response: number;
  result: RegisterResult;
}

type State = string | undefined;

/** Apply `op` to `state`; undefined when `result` is impossible from that state. */
function step(state: State, op: RegisterOp, result: RegisterResult): { state: State } | undefined {
  switch (op.kind) {
    case "write":
      return result.ok ? { state: op.value } : undefined;
    case "append":
      return result.ok ? { state: (state ?? "") + op.value } : undefined;
    case "read":
      if (state === undefined) return !result.ok && result.code === "ENOENT" ? { state } : undefined;
      return result.ok && result.value === state ? { state } : undefined;
    case "unlink":
      if (state === undefined) return !result.ok && result.code === "ENOENT" ? { state } : undefined;
      return result.ok ? { state: undefined } : undefined;
  }
}

/** Is this one path's history linearizable from `initial`? */
export function linearizable(history: HistoryEntry[], initial: State = undefined): boolean {
  const ops = history.filter((h) => h.result.ok || h.result.code !== "ECONFLICT");
  const n = ops.length;
  if (n > 30) throw new Error(`history of ${n} ops on one path is too long for the checker (≤ 30)`);
  const seen = new Set<string>();
  const search = (done: number, state: State): boolean => {
    if (done === 2 ** n - 1) return true;
    const key = `${done}|${state ?? "\u0000absent"}`;
    if (seen.has(key)) return false;
    seen.add(key);
    // The earliest response among pending ops bounds which op may take effect next.
    let horizon = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++)
      if (!(done & (2 ** i)) && ops[i]!.response < horizon) horizon = ops[i]!.response;
    for (let i = 0; i < n; i++) {
      if (done & (2 ** i) || ops[i]!.invoke > horizon) continue;
      const next = step(state, ops[i]!.op, ops[i]!.result);
      if (next && search(done | (2 ** i), next.state)) return true;
    }
    return false;
  };
  return search(0, initial);
}

export interface ConcurrencyFigures {
  rounds: number;
  ops: number;
  conflicts: number;
  histories: number;
  nonLinearizable: number;
  failures: string[];
}

const decoder = new TextDecoder();

/** One value as bytes: small (inline) or padded past a chunk boundary (stored as chunks). */
function encodeValue(value: string, large: boolean): Uint8Array {
  const text = new TextEncoder().encode(value);
  if (!large) return text;
  const out = new Uint8Array(70_000);
  out.set(text);
  return out;
}

/**
 * The value without the zero padding of large writes (an append after a large write leaves the
 * padding in the middle; values themselves never hold a zero byte).
 */
const decodeValue = (bytes: Uint8Array) => decoder.decode(bytes.filter((b) => b !== 0));

export async function runConcurrency(options: {
  backend: WorldOptions["backend"];
  seed: number;
  rounds: number;
  clients?: number;
  opsPerClient?: number;
}): Promise<ConcurrencyFigures> {
  const f: ConcurrencyFigures = {
    rounds: 0,
    ops: 0,
    conflicts: 0,
    histories: 0,
    nonLinearizable: 0,
    failures: [],
  };
  const paths = ["/s/k0", "/s/k1"];
  for (let round = 0; round < options.rounds; round++) {
    f.rounds++;
    const seed = options.seed * 1000 + round;
    const random = mulberry32(seed);
    const world = await World.create({ backend: options.backend, seed });
    try {
      await world.boot().fs.mkdir("/s");
      const clients = options.clients ?? 2 + (round % 2);
      // Random macrotask yields before store calls: where the clients interleave.
      const jitter = async (ms: number) => {
        for (let i = 0; i < ms; i++) await new Promise((resolve) => setImmediate(resolve));
      };
      const delay = { fault: "latency" as const, probability: 0.5, ms: 3 };
      const procs = Array.from({ length: clients }, (_, client) =>
        world.boot({
          store: { seed: seed + 17 * client, ...Object.fromEntries(STORE_OPS.map((op) => [op, delay])) },
          sleep: async () => jitter(1 + Math.floor(random() * 3)),
        }),
      );
      let clock = 0;
      const history: HistoryEntry[] = [];
      await Promise.all(
        procs.map(async (proc, client) => {
          const mine = mulberry32(seed + client + 1);
          for (let i = 0; i < (options.opsPerClient ?? 8); i++) {
            const path = paths[Math.floor(mine() * paths.length)]!;
            const r = mine();
            const large = mine() < 0.25;
            const value = `c${client}.${i}`;
            const op: RegisterOp =
              r < 0.35
                ? { kind: "write", value }
                : r < 0.5
                  ? { kind: "append", value: `+${value}` }
                  : r < 0.85
                    ? { kind: "read" }
                    : { kind: "unlink" };
            await jitter(Math.floor(random() * 3));
            const invoke = clock++;
            let result: RegisterResult;
            try {
              if (op.kind === "write") await proc.client.writeFile(path, encodeValue(op.value, large));
              else if (op.kind === "append")
                await proc.client.appendFile(path, new TextEncoder().encode(op.value));
              else if (op.kind === "unlink") await proc.client.unlink(path);
              result =
                op.kind === "read"
                  ? { ok: true, value: decodeValue(await proc.client.readFile(path)) }
                  : { ok: true };
            } catch (err) {
              if (!isStrataError(err)) throw err;
              result = { ok: false, code: err.code };
              if (err.code === "ECONFLICT") f.conflicts++;
            }
            history.push({ client, path, op, invoke, response: clock++, result });
            f.ops++;
          }
        }),
      );
      for (const path of paths) {
        const mine = history.filter((h) => h.path === path);
        f.histories++;
        if (!linearizable(mine)) {
          f.nonLinearizable++;
          if (f.failures.length < 5)
            f.failures.push(
              `seed ${seed} ${path}:\n${mine.map((h) => `  c${h.client} [${h.invoke},${h.response}] ${JSON.stringify(h.op)} → ${JSON.stringify(h.result)}`).join("\n")}`,
            );
        }
      }
    } finally {
      await world.dispose();
    }
  }
  return f;
}
