/**
 * Maintenance on an embedded deployment: overwrite a file a few times, keep only the last second
 * of history (`retention.set`), see what vacuum would remove (dry run), remove it (apply), then
 * verify every stored chunk (scrub) and the namespace's invariants (fsck).
 * Takes ~12 s: an applying vacuum waits its reader grace (10 s) before deleting.
 * Run: npx tsx examples/maintenance.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, isStrataError } from "strata";

interface VacuumReport {
  apply: boolean;
  records: { count: number; byKind: Record<string, number> };
  chunks: { count: number; instances: number; bytes: number };
  complete: boolean;
  aborted?: { code: string; message: string };
}

const dir = await mkdtemp(path.join(tmpdir(), "strata-maintenance-example-"));
const client = await connect({ local: dir });

try {
  // Four versions of a 1 MiB file: each overwrite leaves the previous version's chunk in history.
  const take = (n: number) => new Uint8Array(1024 * 1024).fill(n);
  await client.writeFile("/render.raw", take(1));
  const firstTake = await client.currentTid();
  for (const n of [2, 3, 4]) await client.writeFile("/render.raw", take(n));
  console.log(`history of /render.raw: ${(await client.history("/render.raw")).length} versions`);

  // Keep every point of the last second only (a real policy: "all 1h; hourly 1d; daily 30d").
  await client.admin.call("retention.set", { policy: "all 1s" });
  await sleep(1500); // let the old versions fall out of the window

  const dry = await client.admin.call<VacuumReport>("vacuum.run", {});
  console.log(
    `vacuum dry run: would remove ${dry.records.count} records ${JSON.stringify(dry.records.byKind)}, ` +
      `${dry.chunks.count} chunks (${dry.chunks.bytes} B)`,
  );
  // An applying vacuum also prints one JSON line per deletion (records, then chunk objects).
  const applied = await client.admin.call<VacuumReport>("vacuum.run", { apply: true });
  console.log(
    `vacuum apply: removed ${applied.records.count} records, ${applied.chunks.count} chunks ` +
      `(${applied.chunks.bytes} B), complete=${applied.complete}`,
  );
  if (!applied.complete || applied.chunks.count !== 3) throw new Error("expected the 3 old chunks to go");

  // The live file is untouched; the pruned past is EPRUNED, naming what is still there.
  const now = await client.readFile("/render.raw");
  if (now[0] !== 4 || now.length !== 1024 * 1024) throw new Error("the live version changed");
  try {
    await client.asOf(firstTake).readFile("/render.raw");
    throw new Error("the pruned version is still readable");
  } catch (err) {
    if (!isStrataError(err, "EPRUNED")) throw err;
    console.log(`as of the first take: ${err.code} (oldest kept: ${JSON.stringify(err.details.oldest)})`);
  }
  console.log(`retention: ${JSON.stringify(await client.admin.call("retention.get", {}))}`);

  const scrub = await client.admin.call<{ objects: number; bytes: number; findings: unknown[] }>(
    "scrub.run",
    {},
  );
  console.log(
    `scrub: ${scrub.objects} chunk objects, ${scrub.bytes} B read, ${scrub.findings.length} findings`,
  );
  if (scrub.findings.length !== 0 || scrub.objects !== 1) throw new Error("expected 1 healthy chunk left");

  const fsck = await client.admin.call<{ ok: boolean; checked: Record<string, number> }>("fsck.run", {});
  console.log(`fsck: ok=${fsck.ok} ${JSON.stringify(fsck.checked)}`);
  if (!fsck.ok) throw new Error("fsck found problems");
} finally {
  await client.close();
  await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
}
