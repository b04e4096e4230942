/**
 * `npm run bench -- <name> [args…]`: run one benchmark. Adding one is one line in BENCHES.
 *   volumes [backend…]   put/get throughput and small-object ops of every volume backend vs its raw SDK
 */
const BENCHES: Record<string, () => Promise<{ run(args: string[]): Promise<void> }>> = {
  volumes: () => import("./volumes.ts"),
};

const [name, ...args] = process.argv.slice(2);
const load = name === undefined ? undefined : BENCHES[name];
if (load === undefined) {
  console.error(`usage: npm run bench -- <${Object.keys(BENCHES).join("|")}> [args…]`);
  process.exit(2);
}
await (await load()).run(args);
