#!/usr/bin/env bash
# Builds the Dockerfile with rootful podman (these machines have no Docker engine) and checks the
# image end to end: test/container/container.test.ts — image facts, the first-run flow on an empty
# /data, then the containerised bridge against real Synapse and the MSN test server, HEALTHCHECK,
# and a clean exit 0 on `podman stop`. The same test runs in `npm test` when podman is wired in.
#
#   sudo scripts/container-smoke.sh
#
# Environment: MSN_CONTAINER_CONTEXT (build another checkout), CI_CONTAINER_CACHE (base images'
# tarball, default /var/cache/ci-containers), BRIDGE_LOG=1 (show the container's log).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

[ "$(id -u)" -eq 0 ] || {
  echo "!!! container smoke: run as root (rootful podman, Synapse's chroot)" >&2
  exit 1
}
ensure_apt_packages podman runc debootstrap zstd ca-certificates
ensure_node_modules
scripts/synapse-chroot.sh ensure
npx tsc -p tsconfig.json --outDir .build-container-smoke
node --test --test-reporter=spec .build-container-smoke/test/container/*.test.js
