/**
 * `npm run bench -- jobs [files]`: Step Functions' limits, counted by the local runner on the
 * memory store — a placement sweep job over `files` files (default 100,000; 1 % under an
 * objective that moves them) and the placement of a 1,000-chunk file on 3 volumes. Prints
 * executions, the most history events and the largest state of any execution, and the time.
 */
import { deployment, fileOfChunks } from "../test/unit/workflow-helpers.ts";

export async function run(args: string[]): Promise<void> {
  const files = Number(args[0] ?? 100_000);
  const hot = Math.max(1, Math.floor(files / 100));
  const d = await deployment({});
  let t = Date.now();
  const cold = await fileOfChunks(d, "/template", 1, 0);
  for (let dir = 0; dir * 1000 < files - hot; dir++) {
    const name = `/d${String(dir).padStart(3, "0")}`;
    await d.fs.mkdir(name);
    const n = Math.min(1000, files - hot - dir * 1000);
    for (let at = 0; at < n; at += 30) {
      const ops = [];
      for (let j = at; j < Math.min(n, at + 30); j++)
        ops.push({
          op: "create" as const,
          path: `${name}/f${String(j).padStart(4, "0")}`,
          options: { content: cold },
        });
      await d.fs.batch(ops);
    }
  }
  await d.fs.unlink("/template");
  await d.fs.mkdir("/hot");
  for (let i = 0; i < hot; i++) await fileOfChunks(d, `/hot/f${String(i).padStart(5, "0")}`, 1, i + 1);
  await d.p.placement.setObjectives("main", "/hot", "place 1 on site:eu");
  console.log(`setup: ${files} files in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  t = Date.now();
  const started = await d.p.jobs.start("placement.sweep", { pfs: "main", limit: 100, scan: 1000 });
  const job = await d.p.jobs.wait(started.id, { timeoutMs: 24 * 3_600_000, pollMs: 50 });
  const rows: string[][] = [["run", "executions", "max events", "max state bytes", "seconds"]];
  rows.push([
    `sweep job, ${files} files (${hot} to place)`,
    String(job.executions),
    String(job.maxEvents),
    String(job.maxStateBytes),
    ((Date.now() - t) / 1000).toFixed(1),
  ]);
  await fileOfChunks(d, "/big", 1000, 1_000_000);
  await d.p.placement.setObjectives("main", "/big", "place 3 on site:eu");
  t = Date.now();
  const big = await d.p.runner.run({ pfs: "main", path: "/big" });
  rows.push([
    "placement of 1,000 chunks on 3 volumes",
    "1",
    String(big.events),
    String(big.maxStateBytes),
    ((Date.now() - t) / 1000).toFixed(1),
  ]);
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(44) : c.padStart(16))).join(""));
  console.log(`(limits: 25,000 events and ${256 * 1024} bytes per execution; job ${job.status})`);
  await d.p.close();
}
