/**
 * Reference-model sequences of the whole system: the namespace steps of the model-based property
 * test (test/conformance/namespace-model.ts: namespace ops, as-of reads, snapshots, reverts,
 * batches) plus data steps (writeFile, appendFile, truncate, readFile now and as of a remembered
 * TID) through the data plane onto memory volumes, checked against the reference model
 * (test/support/namespace-model.ts) and a byte map.
 *
 * How data is modelled: the model tracks which `FileContent` each path has at each TID; it learns
 * a data write's content (inline bytes or chunk extents) from the engine, as it learns snapshot
 * TIDs, and the byte map says which bytes that content must read as (the bytes the harness
 * wrote, appended, cut or zero-extended). So a write that landed on the wrong path, a lost or
 * half-applied commit, an as-of read of the wrong version and a chunk read back wrong all
 * diverge: the first from the model's tree, the last from the bytes.
 *
 * `runDataSequence(world, steps)` runs one; `checkSequences({...})` runs many with fast-check
 * (shrinking a failure to a short step list, printed as a regression JSON for
 * test/regressions/reliability/).
 */
import fc from "fast-check";
import type { DynamoFaultPlan } from "../../adapters/metadata/dynamodb-faults.ts";
import type { FaultPlan } from "../../adapters/volumes/faulty.ts";
import type { DataPlane } from "../../core/data/index.ts";
import { isStrataError, StrataError } from "../../core/errors.ts";
import { vacuum } from "../../core/maintenance/vacuum.ts";
import { localSource } from "../../core/mirror/local-source.ts";
import { createMirror, runMirror } from "../../core/mirror/mirror.ts";
import type { FileContent, ReadableFileSystem, Stat } from "../../core/namespace/api.ts";
import { Volume } from "../../core/volume/volume.ts";
import {
  ENGINE_CHOICES,
  ModelMismatch,
  ModelRun,
  PROLOGUE,
  type Step,
  stepArb,
} from "../conformance/namespace-model.ts";
import { STORE_OPS, type StoreFaultRule } from "../support/faulty-store.ts";
import type { ModelAt } from "../support/namespace-model.ts";
import { regressionFiles } from "../support/regressions.ts";
import { type BootOptions, CHUNK, INLINE, type Proc, World, type WorldOptions } from "./world.ts";

/** Data steps; `at` is an index into the remembered TIDs (modulo their count). */
export type DataStep =
  | { k: "writeFile"; p: string; size: number; fill: number }
  | { k: "appendFile"; p: string; size: number; fill: number }
  | { k: "truncate"; p: string; length: number }
  | { k: "readFile"; p: string; at?: number };

/**
 * Maintenance steps: `vacuum` (apply; no retention policy, so nothing visible may change) and
 * `mirror` (run the PFS's mirror in a second deployment, then compare the mirror, as of its sync
 * TID, with the model at that TID — tree and bytes).
 */
export type MaintenanceStep = { k: "vacuum" } | { k: "mirror" };

export type SeqStep = Step | DataStep | MaintenanceStep;

const DATA_KINDS = new Set(["writeFile", "appendFile", "truncate", "readFile"]);
export const isDataStep = (s: SeqStep): s is DataStep => DATA_KINDS.has(s.k);

/** Sizes around the interesting edges: empty, inline, just above inline, one chunk ± 1, two chunks. */
const SIZES = [0, 5, INLINE, INLINE + 1, 3000, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 7];
const DATA_PATHS = ["/a/c", "/c", "/b/c", "/d", "/a/d", "/a/l/d", "/a", "/a/b/x", "/nope/x"];

const sizeArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...SIZES.slice(0, 5)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(...SIZES.slice(5)),
  },
);
const dataPathArb = fc.constantFrom(...DATA_PATHS);

export const dataStepArb: fc.Arbitrary<DataStep> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant("writeFile" as const),
      p: dataPathArb,
      size: sizeArb,
      fill: fc.nat(255),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("appendFile" as const),
      p: dataPathArb,
      size: sizeArb,
      fill: fc.nat(255),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant("truncate" as const), p: dataPathArb, length: sizeArb }),
  },
  {
    weight: 4,
    arbitrary: fc.record(
      {
        k: fc.constant("readFile" as const),
        p: dataPathArb,
        at: fc.option(fc.nat(1000), { nil: undefined }),
      },
      { requiredKeys: ["k", "p"] },
    ),
  },
);

export const seqStepArb: fc.Arbitrary<SeqStep> = fc.oneof(
  { weight: 30, arbitrary: stepArb },
  { weight: 20, arbitrary: dataStepArb },
  { weight: 1, arbitrary: fc.constantFrom<MaintenanceStep>({ k: "vacuum" }, { k: "mirror" }) },
);

/** Deterministic, position-dependent bytes (so a shifted or reordered chunk never reads back equal). */
export function pattern(size: number, fill: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (fill + i * 31 + (i >>> 8)) & 0xff;
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function resized(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(bytes.subarray(0, Math.min(length, bytes.length)));
  return out;
}

/** A content's identity: inline bytes or the extent list (what the engine committed). */
export function contentKey(c: FileContent | undefined): string {
  if (!c || (c.size === 0 && !c.extents?.length)) return "empty";
  if (c.inline) return `inline:${Buffer.from(c.inline).toString("hex")}`;
  return `extents:${c.size}:${(c.extents ?? []).map((e) => `${e.offset}/${e.length}/${e.chunk}/${e.crc32c}`).join(",")}`;
}

const equalBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** Outcome tallies across runs, for the figures. */
export const tallies = {
  sequences: 0,
  steps: 0,
  dataSteps: 0,
  divergences: 0,
  /** Fault tier: steps a fault made fail, and how they resolved (not applied / applied, reply lost). */
  faultedSteps: 0,
  faultedNotApplied: 0,
  faultedApplied: 0,
  /**
   * Of those, steps whose commit transaction lost its reply: with idempotent commits the engine's
   * re-send is answered "done", so a lost commit reply never surfaces as a failure (must be 0).
   */
  appliedAfterLostCommit: 0,
  /**
   * DynamoDB fault tier: the codes faulted steps failed with (each must be retryable: ETHROTTLED,
   * ETIMEDOUT, EUNAVAIL), keyed by code.
   */
  surfaced: {} as Record<string, number>,
  /** Maintenance steps run inside sequences. */
  vacuums: 0,
  mirrors: 0,
};

/** The model's state, saved to try "the step did not happen" against "it did" after a fault. */
interface SavedModel {
  tree: unknown;
  nextIno: number;
  history: Array<{ tid: string; tree: unknown }>;
  snapshots: Map<string, string>;
}

/** NamespaceModel keeps its state in (TS-)private fields; its trees are immutable, so this is cheap. */
function saveModel(model: unknown): SavedModel {
  const m = model as SavedModel;
  return {
    tree: m.tree,
    nextIno: m.nextIno,
    history: m.history.map((h) => ({ ...h })),
    snapshots: new Map(m.snapshots),
  };
}

function restoreModel(model: unknown, saved: SavedModel): void {
  const m = model as SavedModel;
  m.tree = saved.tree;
  m.nextIno = saved.nextIno;
  m.history.splice(0, m.history.length, ...saved.history.map((h) => ({ ...h })));
  m.snapshots.clear();
  for (const [k, v] of saved.snapshots) m.snapshots.set(k, v);
}

/**
 * One model run with data: a ModelRun (namespace steps) plus the byte map. The model learns each
 * data commit's content from the engine; `expect` says which bytes it must read as.
 */
export class DataModelRun {
  readonly run: ModelRun;
  /** contentKey → the bytes that content must read as. */
  private readonly bytesOf = new Map<string, Uint8Array>();

  constructor(readonly proc: Proc) {
    // The harness's own bookkeeping calls (currentTid after a step) run with faults off: a fault
    // there would make a committed step look failed, and a no-op-looking one (setattr {}) would
    // then be taken for "not applied" while its version exists.
    const fs = new Proxy(proc.fs, {
      get: (target, prop, receiver) => {
        if (prop === "currentTid")
          return async () => {
            const was = this.faultsOn;
            this.faultsOn = false;
            try {
              return await target.currentTid();
            } finally {
              this.faultsOn = was;
            }
          };
        const value = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    this.run = new ModelRun(fs, ENGINE_CHOICES);
  }

  get model() {
    return this.run.model;
  }

  private mismatch(message: string): never {
    throw new ModelMismatch(message);
  }

  /** The bytes a content must read as (inline contents carry them; chunked ones come from the map). */
  expected(c: FileContent | undefined, where: string): Uint8Array {
    if (!c || (c.size === 0 && !c.extents?.length)) return new Uint8Array(0);
    if (c.inline) return c.inline;
    const bytes = this.bytesOf.get(contentKey(c));
    if (!bytes) this.mismatch(`${where}: the model has content nobody wrote: ${contentKey(c)}`);
    return bytes;
  }

  private learn(st: Stat, bytes: Uint8Array, where: string): void {
    if (st.content?.inline !== undefined) {
      if (!equalBytes(st.content.inline, bytes))
        this.mismatch(`${where}: inline content differs from the bytes written`);
      return;
    }
    const key = contentKey(st.content);
    if (key === "empty") {
      if (bytes.length !== 0) this.mismatch(`${where}: ${bytes.length} bytes committed as empty content`);
      return;
    }
    const known = this.bytesOf.get(key);
    if (known && !equalBytes(known, bytes))
      this.mismatch(`${where}: one content for two different byte strings`);
    this.bytesOf.set(key, bytes);
  }

  /** The model's side of a data write: the same create / writeContent calls the plane makes. */
  private modelWrite(
    kind: DataStep["k"],
    p: string,
    content: FileContent,
    large: boolean,
  ): ReturnType<typeof this.model.create> {
    const m = this.model;
    const statOrUndefined = () => {
      try {
        return m.stat(p);
      } catch (err) {
        if (isStrataError(err, "ENOENT")) return undefined;
        throw err;
      }
    };
    const notDir = (st: { type: string } | undefined) => {
      if (st?.type === "dir") throw new StrataError("EISDIR", `model: ${p} is a directory`);
    };
    if (kind === "writeFile") {
      if (large) {
        const existing = statOrUndefined();
        notDir(existing);
        if (existing) {
          try {
            return m.writeContent(p, content);
          } catch (err) {
            if (!isStrataError(err, "ENOENT")) throw err;
            return m.create(p, { content });
          }
        }
      }
      try {
        return m.create(p, { content });
      } catch (err) {
        if (!isStrataError(err, "EEXIST")) throw err;
        return m.writeContent(p, content);
      }
    }
    if (kind === "appendFile") {
      const existing = statOrUndefined();
      notDir(existing);
      return existing ? m.writeContent(p, content) : m.create(p, { content });
    }
    notDir(m.stat(p));
    return m.writeContent(p, content);
  }

  /** The bytes at `p` before a read-modify-write (empty when missing or not a file). */
  private currentBytes(p: string, where: string): Uint8Array {
    try {
      const st = this.model.stat(p);
      return st.type === "file" ? this.expected(st.content, where) : new Uint8Array(0);
    } catch (err) {
      if (isStrataError(err)) return new Uint8Array(0);
      throw err;
    }
  }

  /** Faults switched on for the steps (off while the harness checks the state). */
  faultsOn = false;
  /**
   * A faulted step must fail with a retryable code (ETHROTTLED, ETIMEDOUT, EUNAVAIL): the DynamoDB
   * fault tier's rule "success or a typed retryable error, never a wrong answer".
   */
  requireRetryable = false;
  /** Called after a faulted step was resolved (the harness lets time pass there: see runDataSequence). */
  afterFault: () => void = () => {};

  /** Faults injected so far into this process's store and volumes. */
  injected(): number {
    return (
      this.proc.store.injected.total +
      (this.proc.sdkFaults?.injected.total ?? 0) +
      Object.values(this.proc.volumes).reduce((n, v) => n + v.injected.total, 0)
    );
  }

  /**
   * One step; with faults on, a step the faults made fail (or whose reply they lost) is resolved:
   * the live state must be the model's state without the step, or with it (then the model takes
   * it, learning a data write's content from the engine) — anything else is a half-applied op.
   */
  async step(s: SeqStep): Promise<void> {
    if (!this.faultsOn) return await this.stepOnce(s);
    const saved = saveModel(this.model);
    const before = this.injected();
    const logStart = this.proc.store.log.length;
    try {
      await this.stepOnce(s);
    } catch (err) {
      // A fault made the engine fail the step, or made the harness's own bookkeeping call after
      // it (currentTid) fail: either way the step's outcome is to be found out from the state.
      const faulted =
        this.injected() !== before &&
        ((err instanceof ModelMismatch && /engine failed/.test(err.message)) || isStrataError(err));
      if (!faulted) throw err;
      if (this.requireRetryable) {
        const code = isStrataError(err) ? err.code : /engine failed:? (E[A-Z0-9]+)/.exec(err.message)?.[1];
        tallies.surfaced[code ?? "?"] = (tallies.surfaced[code ?? "?"] ?? 0) + 1;
        if (!code || !new StrataError(code as StrataError["code"], "").retryable)
          this.mismatch(
            `${JSON.stringify(s)}: a DynamoDB fault surfaced as ${code ?? "an untyped error"}, not a retryable error: ${(err as Error).message}`,
          );
      }
      this.faultsOn = false;
      try {
        await this.resolve(s, saved, err, logStart);
      } finally {
        this.faultsOn = true;
        this.afterFault();
      }
    }
  }

  private async resolve(s: SeqStep, saved: SavedModel, cause: Error, logStart = 0): Promise<void> {
    tallies.faultedSteps++;
    const appliedModel = saveModel(this.model);
    restoreModel(this.model, saved);
    const snapshotsMatch = async () =>
      JSON.stringify((await this.proc.fs.listSnapshots()).map((x) => [x.name, x.tid])) ===
      JSON.stringify(this.model.listSnapshots().map((x) => [x.name, x.tid]));
    // Not applied?
    try {
      await this.run.compareTree(undefined, true);
      if (await snapshotsMatch()) {
        tallies.faultedNotApplied++;
        // A step whose effect is invisible in the tree (setattr {}) may still have committed a
        // version: remember the state under a fresh TID so history can place that version.
        this.model.record(await this.proc.fs.currentTid());
        return;
      }
    } catch (err) {
      if (!(err instanceof ModelMismatch)) throw err;
    }
    // Applied (a lost reply): the model takes the step.
    if (isDataStep(s)) {
      if (s.k === "readFile")
        this.mismatch(`${JSON.stringify(s)}: a read changed the state (${cause.message})`);
      const st = await this.proc.fs.stat(s.p).catch(() => undefined);
      if (!st)
        this.mismatch(
          `${JSON.stringify(s)}: after a fault the state is neither before nor after the step (${cause.message})`,
        );
      const expected = this.plannedBytes(s, JSON.stringify(s));
      try {
        this.modelWrite(s.k, s.p, st.content ?? { size: 0 }, s.k === "writeFile" && s.size > INLINE);
      } catch (err) {
        this.mismatch(
          `${JSON.stringify(s)}: after a fault the engine holds a write the model refuses: ${String(err)}`,
        );
      }
      this.learn(st, expected, JSON.stringify(s));
    } else {
      restoreModel(this.model, appliedModel);
      if (s.k === "snapshot") {
        const engine = (await this.proc.fs.listSnapshots()).find((x) => x.name === s.name);
        if (engine && !this.model.listSnapshots().some((x) => x.name === s.name))
          this.model.createSnapshot(s.name, engine.tid);
      }
    }
    this.model.record(await this.proc.fs.currentTid());
    try {
      await this.run.compareTree(undefined, true);
    } catch (err) {
      if (!(err instanceof ModelMismatch)) throw err;
      this.mismatch(
        `${JSON.stringify(s)}: after a fault the state is neither before nor after the step (half-applied?): ${err.message}\n(the fault: ${cause.message})`,
      );
    }
    if (!(await snapshotsMatch())) this.mismatch(`${JSON.stringify(s)}: snapshots diverged after a fault`);
    tallies.faultedApplied++;
    if (
      this.proc.store.log.slice(logStart).some((e) => e.call.op === "transact" && e.outcome === "lostReply")
    )
      tallies.appliedAfterLostCommit++;
  }

  /** A second deployment holding this PFS's mirror `m` (set by runDataSequence). */
  mirrorTarget?: World;

  private volumesOf(proc: Proc): Record<string, Volume> {
    return Object.fromEntries(Object.entries(proc.volumes).map(([n, d]) => [n, new Volume(d)]));
  }

  /** Vacuum, applied: without a retention policy it may reclaim garbage but change nothing visible. */
  private async vacuumStep(): Promise<void> {
    tallies.vacuums++;
    const report = await vacuum({
      store: this.proc.store,
      namespace: this.proc.namespace,
      volumes: this.volumesOf(this.proc),
      apply: true,
      clock: this.clockNow,
      sleep: async () => {},
    });
    if (report.aborted && !this.faultsOn)
      this.mismatch(`vacuum aborted without a fault: ${report.aborted.code} ${report.aborted.message}`);
    // Nothing visible may have changed: the next steps and the final comparison check that.
  }

  /** Mirror the PFS into the second deployment, then compare the mirror with the model at its sync TID. */
  private async mirrorStep(): Promise<void> {
    const world = this.mirrorTarget;
    if (!world) return;
    tallies.mirrors++;
    const targetProc = world.boot();
    const target = { ns: targetProc.namespace, volumes: this.volumesOf(targetProc), clock: this.clockNow };
    const source = localSource({
      ns: this.proc.namespace,
      pfs: "p",
      store: this.proc.store,
      volumes: this.volumesOf(this.proc),
    });
    if (!this.mirrorCreated) {
      await createMirror(target, { name: "m", source, volumes: Object.keys(world.drivers) });
      this.mirrorCreated = true;
    }
    const report = await runMirror(target, "m", source);
    const faults = this.faultsOn;
    this.faultsOn = false;
    try {
      const got = await treeLines(targetProc.namespace.pfs("m"), targetProc.data);
      const expected = this.modelLines(report.to, "mirror");
      if (JSON.stringify(got) !== JSON.stringify(expected))
        this.mismatch(
          `mirror as of ${report.to} differs from the model:\n  mirror ${got.join("\n         ").slice(0, 1500)}\n  model  ${expected.join("\n         ").slice(0, 1500)}`,
        );
    } finally {
      this.faultsOn = faults;
    }
  }

  /**
   * The model's tree at `at` as one line per path (type, mode, link target, xattr names, tags,
   * bytes): the form `treeLines` reads a live or as-of tree in.
   */
  modelLines(at: ModelAt | undefined, where: string): string[] {
    return this.model
      .dump(at)
      .map((e) =>
        JSON.stringify([
          e.path,
          e.stat.type,
          e.stat.mode,
          e.stat.target ?? null,
          e.stat.type === "symlink" ? [] : e.xattrs.map(([n]) => n),
          e.stat.type === "symlink" ? {} : Object.fromEntries(e.tags),
          e.stat.type === "file"
            ? Buffer.from(this.expected(e.stat.content, `${where} ${e.path}`)).toString("hex")
            : "",
        ]),
      );
  }

  private mirrorCreated = false;
  clockNow: () => number = Date.now;

  /** The bytes a data step means to leave at its path, from the model's current bytes. */
  private plannedBytes(s: Exclude<DataStep, { k: "readFile" }>, where: string): Uint8Array {
    if (s.k === "writeFile") return pattern(s.size, s.fill);
    if (s.k === "appendFile") return concat(this.currentBytes(s.p, where), pattern(s.size, s.fill));
    return resized(this.currentBytes(s.p, where), s.length);
  }

  private async stepOnce(s: SeqStep): Promise<void> {
    tallies.steps++;
    if (s.k === "vacuum") return await this.vacuumStep();
    if (s.k === "mirror") return await this.mirrorStep();
    if (!isDataStep(s)) return await this.run.step(s);
    tallies.dataSteps++;
    const where = JSON.stringify(s);
    const { data, fs } = this.proc;
    if (s.k === "readFile") return await this.read(s.p, s.at, where);
    let bytes: Uint8Array;
    let engine: () => Promise<Stat>;
    if (s.k === "writeFile") {
      bytes = pattern(s.size, s.fill);
      engine = () => data.writeFile(fs, s.p, pattern(s.size, s.fill));
    } else if (s.k === "appendFile") {
      bytes = concat(this.currentBytes(s.p, where), pattern(s.size, s.fill));
      engine = () => data.appendFile(fs, s.p, pattern(s.size, s.fill));
    } else {
      bytes = resized(this.currentBytes(s.p, where), s.length);
      engine = () => data.truncate(fs, s.p, s.length);
    }
    let got: Stat | StrataError;
    try {
      got = await engine();
    } catch (err) {
      if (!isStrataError(err)) this.mismatch(`${where}: engine threw a non-StrataError: ${String(err)}`);
      got = err;
    }
    // The plane's large-write path stats first; small writes go straight to create.
    const large = s.k === "writeFile" && s.size > INLINE;
    if (got instanceof StrataError) {
      let modelOk = false;
      try {
        this.modelWrite(s.k, s.p, { size: 0 }, large);
        modelOk = true;
      } catch (err) {
        if (!isStrataError(err)) throw err;
        const acceptable = (err.details.acceptable as string[] | undefined) ?? [];
        if (err.code !== got.code && !acceptable.includes(got.code))
          this.mismatch(
            `${where}: engine failed ${got.code} (${got.message}) but model ${err.code} (${err.message})`,
          );
      }
      if (modelOk) this.mismatch(`${where}: engine failed ${got.code} (${got.message}) but model succeeded`);
      return;
    }
    let want: ReturnType<typeof this.model.create>;
    try {
      want = this.modelWrite(s.k, s.p, got.content ?? { size: 0 }, large);
    } catch (err) {
      if (!isStrataError(err)) throw err;
      this.mismatch(`${where}: engine succeeded but model failed ${err.code} (${err.message})`);
    }
    this.run.compareStat(where, got, want);
    this.learn(got, bytes, where);
    this.model.record(await fs.currentTid());
  }

  /** readFile now or as of a remembered TID: the bytes of the content the model says is there. */
  async read(p: string, at: number | undefined, where: string): Promise<void> {
    const tids = this.model.rememberedTids();
    const tid = at === undefined ? undefined : tids[at % tids.length];
    let want: Uint8Array | StrataError;
    try {
      const st = this.model.stat(p, tid as ModelAt | undefined);
      want =
        st.type === "dir"
          ? new StrataError("EISDIR", `model: ${p} is a directory`)
          : this.expected(st.content, where);
    } catch (err) {
      if (!isStrataError(err)) throw err;
      want = err;
    }
    let got: Uint8Array | StrataError;
    try {
      const view = tid === undefined ? this.proc.fs : this.proc.fs.asOf(tid);
      got = await this.proc.data.readFile(view, p);
    } catch (err) {
      if (!isStrataError(err)) this.mismatch(`${where}: engine threw a non-StrataError: ${String(err)}`);
      got = err;
    }
    if (want instanceof StrataError || got instanceof StrataError) {
      if (want instanceof StrataError && got instanceof StrataError && want.code === got.code) return;
      this.mismatch(
        `${where}${tid ? ` as of ${tid}` : ""}: engine ${got instanceof StrataError ? `failed ${got.code}` : `${got.length} bytes`} but model ${want instanceof StrataError ? want.code : `${want.length} bytes`}`,
      );
    }
    if (!equalBytes(got, want))
      this.mismatch(
        `${where}${tid ? ` as of ${tid}` : ""}: engine read ${got.length} bytes that differ from the model's ${want.length}`,
      );
  }

  /**
   * The whole tree and every file's bytes, now and as of a sample of remembered TIDs (the first,
   * and two more chosen by `pick`): the namespace model test already walks every as-of tree, so
   * here the time goes to the data and the faults.
   */
  async compareAll(asOfAttrs: boolean, pick: () => number): Promise<void> {
    const tids = this.model.rememberedTids();
    const sample = new Set([
      tids[0]!,
      tids[Math.floor(pick() * tids.length)]!,
      tids[Math.floor(pick() * tids.length)]!,
    ]);
    await this.run.compareTree(undefined, true);
    for (const tid of sample) await this.run.compareTree(tid, asOfAttrs);
    const points: Array<string | undefined> = [undefined, ...sample];
    for (const tid of points) {
      for (const entry of this.model.dump(tid)) {
        if (entry.stat.type !== "file") continue;
        const view = tid === undefined ? this.proc.fs : this.proc.fs.asOf(tid);
        let got: Uint8Array;
        try {
          got = await this.proc.data.readFile(view, entry.path);
        } catch (err) {
          this.mismatch(
            `whole-tree read of ${entry.path}${tid ? ` as of ${tid}` : ""} failed: ${String(err)}`,
          );
        }
        const want = this.expected(entry.stat.content, `whole tree ${entry.path}`);
        if (!equalBytes(got, want))
          this.mismatch(
            `whole-tree read of ${entry.path}${tid ? ` as of ${tid}` : ""}: bytes differ from the model's`,
          );
      }
    }
  }
}

export interface SequenceOptions {
  backend: WorldOptions["backend"];
  /** DynamoDB Local endpoint, for backend "dynamodb". */
  endpoint?: string;
  runs: number;
  seed: number;
  maxSteps?: number;
  asOfAttrs?: boolean;
  /**
   * Fault tier: probability that a store or volume call of a step fails (EIO, ETHROTTLED,
   * EUNAVAIL, ETIMEDOUT before the call; or applied with its reply lost). Default 0.
   */
  faults?: number;
  /** The engine's test-only idempotency switch (counter-checks); off also stops at the first failure (no shrinking). */
  idempotentCommits?: boolean;
  /**
   * Backend "dynamodb": DynamoDB's own faults at the SDK client (probability per attempt, burst
   * stickiness, kinds), on during the steps; every faulted step must then end in a retryable code.
   */
  dynamoFaults?: Omit<DynamoFaultPlan, "seed" | "when">;
  /** Backend "dynamodb": the adapter's test-only fault handling (counter-check; default on; default on). */
  dynamoFaultHandling?: boolean;
}

/** Store and volume fault plans that fire with probability `p` while `on()`. */
function faultPlans(p: number, on: () => boolean, seed: number): BootOptions {
  const when = () => on();
  const kinds: StoreFaultRule[] = [
    { fault: "error", probability: p / 5, when },
    { fault: "throttle", probability: p / 5, when },
    { fault: "unavailable", probability: p / 5, when },
    { fault: "timeout", probability: p / 5, when },
    { fault: "lostReply", probability: p / 5, when },
  ];
  const store = Object.fromEntries(STORE_OPS.map((op) => [op, kinds]));
  const volume: FaultPlan = {
    seed,
    put: [
      { fault: "throttle", probability: p / 2, when },
      { fault: "lostReply", probability: p / 2, when },
    ],
    get: [{ fault: "unavailable", probability: p, when }],
    head: [{ fault: "throttle", probability: p, when }],
  };
  // The log tells a lost commit reply from other faults (tallies.appliedAfterLostCommit).
  return { store: { ...store, seed }, volumes: { v1: volume }, log: true };
}

/** Run the prologue and `steps` on a fresh world; throws ModelMismatch on the first divergence. */
export async function runDataSequence(
  options: Pick<
    SequenceOptions,
    | "backend"
    | "endpoint"
    | "asOfAttrs"
    | "faults"
    | "idempotentCommits"
    | "dynamoFaults"
    | "dynamoFaultHandling"
  > & {
    seed: number;
  },
  steps: SeqStep[],
  prologue: SeqStep[] = PROLOGUE,
): Promise<void> {
  let run: DataModelRun | undefined;
  const on = () => run?.faultsOn === true;
  const world = await World.create({
    backend: options.backend,
    endpoint: options.endpoint,
    seed: options.seed,
    ...(options.idempotentCommits === false ? { idempotentCommits: false } : {}),
    ...(options.dynamoFaults
      ? { dynamoFaults: { ...options.dynamoFaults, seed: options.seed, when: on } }
      : {}),
    ...(options.dynamoFaultHandling === false ? { dynamoFaultHandling: false } : {}),
  });
  try {
    const p = options.faults ?? 0;
    const plan = p > 0 ? faultPlans(p, on, options.seed) : {};
    run = new DataModelRun(world.boot(plan));
    run.requireRetryable = options.dynamoFaults !== undefined;
    run.clockNow = world.clock.now;
    const mirrorWorld = await World.create({
      backend: options.backend,
      endpoint: options.endpoint,
      seed: options.seed,
      volumes: ["m1"],
    });
    run.mirrorTarget = mirrorWorld;
    mirrorWorlds.push(mirrorWorld);
    // A faulted rmdir can leave its lease on the directory (creates there fail ECONFLICT until it
    // expires, 30 s): let that time pass before the next step, as a retrying caller would.
    run.afterFault = () => {
      world.clock.ms += 31_000;
    };
    await run.run.start();
    for (const s of prologue) await run.step(s);
    run.faultsOn = p > 0 || options.dynamoFaults !== undefined;
    for (const s of steps) await run.step(s);
    run.faultsOn = false;
    await run.compareAll(options.asOfAttrs ?? true, world.random);
  } finally {
    await world.dispose();
    for (const w of mirrorWorlds.splice(0)) await w.dispose();
  }
}

/** Mirror deployments of the running sequence (disposed with it). */
const mirrorWorlds: World[] = [];

export interface SequenceReport {
  runs: number;
  seed: number;
  failed: boolean;
  /** The shrunk failing case as a regression JSON line, when one failed. */
  regression?: string;
  error?: string;
}

/** Many random sequences (fast-check, fixed seed): stops at the first divergence, shrunk. */
export async function checkSequences(options: SequenceOptions): Promise<SequenceReport> {
  const maxSteps = options.maxSteps ?? 50;
  const result = await fc.check(
    fc.asyncProperty(
      fc.array(seqStepArb, { minLength: 1, maxLength: maxSteps, size: "max" }),
      async (steps) => {
        tallies.sequences++;
        await runDataSequence(options, steps);
      },
    ),
    {
      numRuns: options.runs,
      seed: options.seed,
      // DynamoDB Local is too slow to shrink on: the fault tiers report the first failing case whole.
      endOnFailure: options.idempotentCommits === false || options.dynamoFaults !== undefined,
    },
  );
  if (!result.failed) return { runs: options.runs, seed: options.seed, failed: false };
  tallies.divergences++;
  const steps = result.counterexample?.[0];
  return {
    runs: options.runs,
    seed: options.seed,
    failed: true,
    // `seed` is also the world seed (the fault PRNG's): with `faults`, a replay replays the faults.
    regression: JSON.stringify({
      note: "",
      seed: result.seed,
      faults: options.faults ?? 0,
      backend: options.backend,
      prologue: PROLOGUE,
      steps,
    }),
    error: String((result.errorInstance as Error | undefined)?.message ?? result.errorInstance),
  };
}

/** Kept failing cases: `{ note, seed, faults?, backend?, prologue?, steps }` in test/regressions/reliability/. */
export function reliabilityRegressions(): Array<{
  file: string;
  note: string;
  prologue: SeqStep[];
  steps: SeqStep[];
  /** World seed and fault probability the case ran with (fault-tier cases replay their faults). */
  seed: number;
  faults: number;
}> {
  return regressionFiles<{
    note?: string;
    prologue?: SeqStep[];
    steps: SeqStep[];
    seed?: number;
    faults?: number;
  }>("reliability").map(({ file, parsed }) => ({
    file,
    note: parsed.note ?? "",
    prologue: parsed.prologue ?? PROLOGUE,
    steps: parsed.steps,
    seed: parsed.seed ?? 1,
    faults: parsed.faults ?? 0,
  }));
}

/** A whole tree (a live PFS, an as-of view or a mirror) as `modelLines` writes it, bytes read through `data`. */
export async function treeLines(fs: ReadableFileSystem, data: DataPlane): Promise<string[]> {
  const got: string[] = [];
  const visit = async (path: string): Promise<void> => {
    const st = await fs.lstat(path);
    const xattrs = st.type === "symlink" ? [] : await fs.listXattrs(path);
    const tags = st.type === "symlink" ? {} : await fs.getTags(path);
    let bytes = "";
    if (st.type === "file") bytes = Buffer.from(await data.readFile(fs, path)).toString("hex");
    got.push(JSON.stringify([path, st.type, st.mode, st.target ?? null, xattrs, tags, bytes]));
    if (st.type === "dir")
      for (const e of (await fs.readdir(path, { limit: 1000 })).entries)
        await visit(`${path === "/" ? "" : path}/${e.name}`);
  };
  await visit("/");
  return got;
}
