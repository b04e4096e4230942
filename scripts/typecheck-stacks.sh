#!/usr/bin/env bash
# Type-check sst.config.ts and stacks/ against the installed SST platform types, offline.
# `sst install` writes .sst/platform once (~300 MB, ~50 s); the env below stops SST from trying to
# download Pulumi/bun or send telemetry, which this environment cannot reach (shared/STANDINS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export SST_SKIP_DEPENDENCY_CHECK=1 SST_TELEMETRY_DISABLED=1 SST_NO_BUN=1
if [ ! -f .sst/platform/config.d.ts ]; then
  npx sst install --stage typecheck >/dev/null
fi
npx tsc -p tsconfig.sst.json
