import { defineConfig } from "vitest/config";

// Three projects, one run: `unit` (pure core, no servers), `conformance` (one suite per port,
// run against every adapter on real stand-in servers), `e2e` (a whole deployment driven as a user).
// The stand-in servers start once per run in test/setup/standins.ts and are shared by all projects.
export default defineConfig({
  test: {
    globalSetup: ["test/setup/standins.ts"],
    setupFiles: ["test/setup/accelerate.ts"],
    // Parallel files share the 2 cores with the Java and Node stand-ins; keep it modest.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 30_000 },
      },
      {
        extends: true,
        test: {
          name: "conformance",
          include: ["test/adapters/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], testTimeout: 120_000, hookTimeout: 120_000 },
      },
    ],
  },
});
