/**
 * Integrity: bit flips injected into chunk reads (adapters/volumes/faulty.ts `corrupt`, one byte at
 * a seeded offset of the object's body). Every file has an instance of each chunk on two volumes.
 *
 * - one instance flipped: the read must return the right bytes (served from the other instance)
 *   and the flipped instance be recorded `corrupt`;
 * - both instances flipped: the read must fail with ECORRUPT.
 *
 * Never may a read return wrong bytes. A flip counts as detected when its read ended in one of
 * those two ways; whole reads, range reads, as-of reads and the SDK's readFile are all tried.
 */
import { isStrataError } from "../../core/errors.ts";
import { mulberry32 } from "../../core/random.ts";
import { pattern } from "./sequences.ts";
import { CHUNK, World, type WorldOptions } from "./world.ts";

export interface IntegrityFigures {
  reads: number;
  flipsInjected: number;
  flipsDetected: number;
  /** Reads that returned wrong bytes. */
  wrongBytes: number;
  /** Reads with a flipped instance that failed instead of using the good one (or not ECORRUPT when all were bad). */
  wrongOutcome: number;
  failures: string[];
}

const FILES: Array<[string, number]> = [
  ["/one", CHUNK],
  ["/two", 2 * CHUNK + 100],
  ["/odd", 3001],
];

export async function runIntegrity(options: {
  backend: WorldOptions["backend"];
  seed: number;
  rounds: number;
}): Promise<IntegrityFigures> {
  const f: IntegrityFigures = {
    reads: 0,
    flipsInjected: 0,
    flipsDetected: 0,
    wrongBytes: 0,
    wrongOutcome: 0,
    failures: [],
  };
  const fail = (m: string) => {
    if (f.failures.length < 10) f.failures.push(m);
  };
  const random = mulberry32(options.seed);
  for (let round = 0; round < options.rounds; round++) {
    for (const both of [false, true]) {
      const world = await World.create({
        backend: options.backend,
        seed: options.seed + round,
        volumes: ["v1", "v2"],
      });
      try {
        const writer = world.boot();
        const tids: string[] = [];
        for (const [path, size] of FILES) await writer.data.writeFile(writer.fs, path, pattern(size, round));
        tids.push(await writer.fs.currentTid());
        for (const [path, size] of FILES)
          await writer.data.writeFile(writer.fs, path, pattern(size, round + 100));
        for (const [path, size] of FILES) {
          const flip = () => ({ fault: "corrupt" as const, at: Math.floor(random() * size) });
          const reader = world.boot({
            volumes: { v1: { get: flip() }, ...(both ? { v2: { get: flip() } } : {}) },
          });
          const reads: Array<[string, () => Promise<Uint8Array>, Uint8Array]> = [
            ["readFile", () => reader.data.readFile(reader.fs, path), pattern(size, round + 100)],
            ["SDK readFile", () => reader.client.readFile(path), pattern(size, round + 100)],
            ["as-of read", () => reader.data.readFile(reader.fs.asOf(tids[0]!), path), pattern(size, round)],
            [
              "range read",
              async () => {
                const { body } = await reader.data.read(reader.fs, path, { start: 1, end: size - 1 });
                const parts: Uint8Array[] = [];
                for await (const p of body) parts.push(p);
                return Buffer.concat(parts);
              },
              pattern(size, round + 100).subarray(1, size - 1),
            ],
          ];
          for (const [kind, read, want] of reads) {
            const injectedBefore = reader.volumes.v1!.injected.total + reader.volumes.v2!.injected.total;
            f.reads++;
            let got: Uint8Array | undefined;
            let code: string | undefined;
            try {
              got = await read();
            } catch (err) {
              if (!isStrataError(err)) throw err;
              code = err.code;
            }
            const injected =
              reader.volumes.v1!.injected.total + reader.volumes.v2!.injected.total - injectedBefore;
            f.flipsInjected += injected;
            const where = `${kind} ${path} (round ${round}, ${both ? "both instances" : "one instance"} flipped)`;
            if (got && !Buffer.from(got).equals(Buffer.from(want))) {
              f.wrongBytes++;
              fail(`${where}: returned wrong bytes`);
              continue;
            }
            // With both instances bad, a read that met a flip must fail ECORRUPT; with one, succeed.
            const ok = both && injected > 0 ? code === "ECORRUPT" : got !== undefined;
            if (!ok) {
              f.wrongOutcome++;
              fail(`${where}: ${code ?? "succeeded"}`);
            } else f.flipsDetected += injected;
          }
        }
      } finally {
        await world.dispose();
      }
    }
  }
  return f;
}
