#!/usr/bin/env bash
# The whole test suite: lint, type-check/build, unit, integration and end-to-end tiers.
# Installs what it needs (Node >= 22, npm packages, Debian packages, the Synapse chroot).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
start=$(date +%s)

ensure_apt_packages debootstrap zstd postgresql ca-certificates podman runc
ensure_node_modules

echo "==> lint" >&2
npx eslint . && npx prettier --check . >/dev/null
echo "==> build (tsc, strict)" >&2
rm -rf dist && npx tsc -p tsconfig.json

if [ -x scripts/synapse-chroot.sh ]; then
  echo "==> Synapse chroot" >&2
  scripts/synapse-chroot.sh ensure
fi
# The container tier builds the real Dockerfile on the node:24 base images; they are built once from
# Debian and npm and cached outside the work tree (/var/cache/ci-containers), like the chroot.
echo "==> container base images" >&2
scripts/container-base-images.sh

echo "==> tests" >&2
# One runner over every tier so its closing summary counts them all.
node --test --test-reporter=spec --test-concurrency=2 \
  "dist/test/unit/**/*.test.js" "dist/test/integration/**/*.test.js" "dist/test/e2e/**/*.test.js" \
  "dist/test/container/**/*.test.js"
echo "==> suite wall time: $(( $(date +%s) - start )) s" >&2
