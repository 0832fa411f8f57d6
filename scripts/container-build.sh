#!/usr/bin/env bash
# Builds the project's Dockerfile with rootful podman, as CI does on machines with no Docker
# engine and no reachable container registry (see scripts/container-base-images.sh for the
# stand-in node base images). The last stdout line is JSON for test/container/container.test.ts:
#   {"image":"…","baseSeconds":N,"buildSeconds":N,"sizeBytes":N}
#
#   sudo scripts/container-build.sh
#
# Environment (all optional):
#   IMAGE       tag to build (default localhost/matrix-appservice-msn:test); kept, so the next
#               build reuses its layers (warm build)
#   CONTEXT     build context holding the Dockerfile (default: this checkout)
#   CA_BUNDLE   CA bundle npm inside the build must trust (default: the host's)
#   CI_CONTAINER_CACHE  where the base images' tarball is cached (default /var/cache/ci-containers)
set -euo pipefail
source "$(dirname "$0")/lib.sh" # Node/npm on PATH (the base images pack Node from npm); apt helper

IMAGE=${IMAGE:-localhost/matrix-appservice-msn:test}
CONTEXT=${CONTEXT:-$ROOT}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$ROOT/scripts/container-base/containers.conf}

say() { printf '==> %s\n' "$*" >&2; }
fail() {
  printf '!!! container build: %s\n' "$*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || fail "run as root (rootful podman)"
ensure_apt_packages podman runc debootstrap zstd ca-certificates || fail "cannot install podman and its tools"

# Base images plus the build's layers need about 3 GiB.
for dir in /var/lib/containers /var/tmp; do
  probe=$dir
  while [ ! -d "$probe" ]; do probe=$(dirname "$probe"); done
  free_kib=$(df -Pk "$probe" | awk 'NR == 2 { print $4 }')
  [ "$free_kib" -ge $((3 * 1024 * 1024)) ] ||
    fail "$dir has $((free_kib / 1024)) MiB free; the images and build need about 3 GiB"
done

WORK=$(mktemp -d /var/tmp/msn-container-build.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

base_start=$(date +%s)
"$ROOT/scripts/container-base-images.sh" || fail "could not provide the node base images"
base_secs=$(($(date +%s) - base_start))

# npm in the build reaches the registry through a TLS-intercepting proxy whose CA only the host
# trusts. npm reads its global config from /usr/local/etc/npmrc, so a read-only mount there
# passes the CA to every RUN without it landing in a layer (never bake a CA into the image).
mkdir -p "$WORK/npm-etc"
cp "$CA_BUNDLE" "$WORK/npm-etc/ca.crt"
echo "cafile=/usr/local/etc/ca.crt" >"$WORK/npm-etc/npmrc"

build() {
  # --format docker: the OCI format silently drops HEALTHCHECK.
  podman build --pull=never --format docker -v "$WORK/npm-etc:/usr/local/etc:ro" "$@" "$CONTEXT" \
    >>"$WORK/build.log" 2>&1 || {
    tail -60 "$WORK/build.log" >&2
    fail "podman build failed"
  }
}
say "podman build $IMAGE from $CONTEXT"
build_start=$(date +%s)
# The build stage gets a tag of its own: untagged, its layers (npm ci above all) would count as
# dangling and the prune below would throw away the next build's cache with the old images.
build --target build -t "$IMAGE-build-stage"
build -t "$IMAGE"
build_secs=$(($(date +%s) - build_start))
# Every rebuild leaves the previous image and build stage untagged (≈1.5 GB apparent each).
podman image prune -f >/dev/null || true
# npm warnings in the build are worth seeing (unknown config keys, deprecated packages...).
grep -i 'npm warn' "$WORK/build.log" >&2 || true

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "built $IMAGE: $((size / 1000 / 1000)) MB in ${build_secs} s (base images ${base_secs} s)"
printf '{"image":"%s","baseSeconds":%d,"buildSeconds":%d,"sizeBytes":%d}\n' \
  "$IMAGE" "$base_secs" "$build_secs" "$size"
