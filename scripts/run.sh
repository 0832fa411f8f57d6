#!/usr/bin/env bash
# Runs a compiled entry point after making sure Node >= 22, the npm packages and the build are
# in place: `scripts/run.sh src/main.js -c config.yaml` (what `npm start` does).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
entry="$1"; shift
cd "$ROOT"
ensure_node_modules
npx tsc -p tsconfig.json --incremental --tsBuildInfoFile dist/.tsbuildinfo >&2
cd "$OLDPWD"
# The young-generation cap the bridge ships with (docs/performance.md); NODE_OPTIONS set by the
# caller come after it and win.
export NODE_OPTIONS="--max-semi-space-size=16${NODE_OPTIONS:+ $NODE_OPTIONS}"
exec node "$ROOT/dist/$entry" "$@"
