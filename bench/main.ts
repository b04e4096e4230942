/**
 * `npm run bench -- <name> [args…]`: run one benchmark. Adding one is one line in BENCHES.
 *   volumes [backend…]   put/get throughput and small-object ops of every volume backend vs its raw SDK
 *   metadata [backend…]  namespace engine ops/s on SQLite and DynamoDB Local vs the raw requests they cost
 *   vacuum [files]       records and chunks vacuumed/s; query pages per 1,000 records of a no-garbage vacuum
 *   placement            tag change → placed latency, chunks copied/s vs a raw copy, state transitions per file
 *   mirror [entries]     stream records/s, a no-op resync's requests, a 1 % delta's share of the records read
 *   http                 stat/create/unlink/readdir ops/s embedded vs over HTTP (1, 4, 16 clients), per-request breakdown
 *   s3 [keys]            the S3 gateway vs the S3 stand-in, same client: 64 MiB PUT/GET MiB/s, 1 KiB PUT/GET/HEAD/LIST ops/s, LIST of 10,000 keys
 *   mount                file ops through the FUSE mount vs s3fs and rclone mount on the S3 stand-in, and local disk
 *   jobs [files]         a sweep job's executions, history events and state bytes vs Step Functions' limits
 *   cli [runs]           strata start-up: --help, ls / against a server, --local ls / (median of 20 runs)
 */
import { installNativeCrc32c } from "../adapters/crc32c-native.ts";

const BENCHES: Record<string, () => Promise<{ run(args: string[]): Promise<void> }>> = {
  volumes: () => import("./volumes.ts"),
  metadata: () => import("./metadata.ts"),
  data: () => import("./data.ts"),
  vacuum: () => import("./vacuum.ts"),
  placement: () => import("./placement.ts"),
  mirror: () => import("./mirror.ts"),
  http: () => import("./http.ts"),
  s3: () => import("./s3.ts"),
  mount: () => import("./mount.ts"),
  jobs: () => import("./jobs.ts"),
  cli: () => import("./cli.ts"),
};

const [name, ...args] = process.argv.slice(2);
const load = name === undefined ? undefined : BENCHES[name];
if (load === undefined) {
  console.error(`usage: npm run bench -- <${Object.keys(BENCHES).join("|")}> [args…]`);
  process.exit(2);
}
// Measure what a deployment runs: the hardware CRC32C when the native module is present.
console.log(`CRC32C: ${installNativeCrc32c() ? "native (@node-rs/crc32)" : "portable TypeScript"}`);
await (await load()).run(args);
