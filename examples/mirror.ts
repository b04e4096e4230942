/**
 * Mirroring in one embedded deployment: PFS "projects" is the source, "projects-dr" a read-only
 * mirror of it. Run the mirror, compare, see EROFS on a mirror write, change the source, run again
 * (incremental: only the changes since the mirror's sync TID), and read the mirror as of the
 * first run.
 * Run: npx tsx examples/mirror.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect, isStrataError, type StrataReader } from "strata";

interface MirrorRunReport {
  mode: "incremental" | "full";
  from: string;
  to: string;
  records: number;
  chunksCopied: number;
}

const dir = await mkdtemp(path.join(tmpdir(), "strata-mirror-example-"));
const source = await connect({ local: dir, pfs: "projects" });
const mirror = source.pfs("projects-dr");

/** Every file under `root` with its content, as one sorted text (to compare two trees). */
async function treeOf(fs: StrataReader, root = "/"): Promise<string> {
  const lines: string[] = [];
  for (const d of await fs.readdir(root, { withFileTypes: true })) {
    const p = path.posix.join(root, d.name);
    if (d.isDirectory()) lines.push(`${p}/`, await treeOf(fs, p));
    else lines.push(`${p} ${await fs.readFile(p, "base64")}`);
  }
  return lines.filter(Boolean).sort().join("\n");
}

function check(what: string, ok: boolean): void {
  if (!ok) throw new Error(`${what}: not as expected`);
  console.log(`${what}: ok`);
}

try {
  await source.mkdir("/film/shot42", { recursive: true });
  await source.writeFile("/film/shot42/notes.txt", "take 1\n");
  await source.writeFile("/film/shot42/plate.raw", new Uint8Array(600 * 1024).fill(7)); // chunked
  await source.writeFile("/film/README", "the film\n");

  await source.admin.call("mirror.create", { source: "projects", target: "projects-dr" });
  // Both PFSs keep chunks on the deployment's one volume, so the mirror shares them: 0 chunks
  // copied. (mirror.create's `volumes` puts a mirror's chunks elsewhere, e.g. another cloud.)
  const first = await source.admin.call<MirrorRunReport>("mirror.run", { name: "projects-dr" });
  console.log(
    `run 1: ${first.mode} ${first.from}..${first.to}, ${first.records} records, ${first.chunksCopied} chunks copied`,
  );
  check("mirror equals source after run 1", (await treeOf(mirror)) === (await treeOf(source)));

  try {
    await mirror.writeFile("/film/README", "edited on the mirror\n");
    throw new Error("a write to the mirror succeeded");
  } catch (err) {
    if (!isStrataError(err, "EROFS")) throw err;
    console.log(`write to the mirror: ${err.message}`);
  }

  await source.writeFile("/film/shot42/notes.txt", "take 2\n");
  await source.mkdir("/film/shot43");
  await source.writeFile("/film/shot43/notes.txt", "new shot\n");
  await source.rm("/film/README");
  check("mirror is behind before run 2", (await treeOf(mirror)) !== (await treeOf(source)));

  const second = await source.admin.call<MirrorRunReport>("mirror.run", { name: "projects-dr" });
  console.log(`run 2: ${second.mode} ${second.from}..${second.to}, ${second.records} records`);
  check("mirror caught up after run 2", (await treeOf(mirror)) === (await treeOf(source)));

  // The mirror holds the source's history: as of run 1's TID it shows the first state.
  const past = mirror.asOf(first.to);
  const pastNotes = await past.readFile("/film/shot42/notes.txt", "utf8");
  console.log(`mirror as of ${first.to}: notes.txt = ${JSON.stringify(pastNotes)}`);
  check(
    "as-of read on the mirror",
    pastNotes === "take 1\n" && (await past.readFile("/film/README", "utf8")) === "the film\n",
  );

  const status = await source.admin.call<{ mirrors: unknown[] }>("mirror.status", {});
  console.log(`status: ${JSON.stringify(status.mirrors)}`);
} finally {
  await source.close();
  await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
}
