#!/usr/bin/env bash
# Builds the Dockerfile with rootful podman (these machines have no Docker engine) and checks
# what an operator would see from the image: --help, the missing-registration error, `-r`
# writing /data/registration.yaml, the bridge serving on the published port, and a clean exit 0
# on `podman stop`. See /work/shared/container.md for why each podman detail is as it is.
#
#   sudo scripts/container-smoke.sh
#
# Environment (all optional):
#   IMAGE            tag to build (default localhost/matrix-appservice-msn:smoke; kept afterwards
#                    so the next run reuses its layers)
#   CONTAINER_TOOLS  directory holding base-images.sh and containers/containers.conf
#                    (default /work/shared/container); without it the node:24 base images must
#                    already be in podman's storage
#   NODE_VERSION NPM_VERSION COREPACK_VERSION
#                    Node release for the stand-in base images (default 24.21.0, whose bundled
#                    npm is 11.19.0 and corepack 0.36.0)
#   CA_BUNDLE        CA bundle npm inside the build must trust (default: the host's)
set -euo pipefail
source "$(dirname "$0")/lib.sh" # Node/npm on PATH (base-images.sh packs Node from npm); apt helper
cd "$ROOT"

IMAGE=${IMAGE:-localhost/matrix-appservice-msn:smoke}
CONTAINER_TOOLS=${CONTAINER_TOOLS:-/work/shared/container}
export NODE_VERSION=${NODE_VERSION:-24.21.0} NPM_VERSION=${NPM_VERSION:-11.19.0}
export COREPACK_VERSION=${COREPACK_VERSION:-0.36.0}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
if [ -z "${CONTAINERS_CONF:-}" ] && [ -f "$CONTAINER_TOOLS/containers/containers.conf" ]; then
  export CONTAINERS_CONF="$CONTAINER_TOOLS/containers/containers.conf"
fi

say() { printf '==> %s\n' "$*" >&2; }
fail() {
  printf '!!! container smoke: %s\n' "$*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || fail "run as root (rootful podman)"
ensure_apt_packages podman runc debootstrap zstd curl ca-certificates

# Base images plus the build's layers need about 3 GiB.
for dir in /var/lib/containers /var/tmp; do
  probe=$dir
  while [ ! -d "$probe" ]; do probe=$(dirname "$probe"); done
  free_kib=$(df -Pk "$probe" | awk 'NR == 2 { print $4 }')
  [ "$free_kib" -ge $((3 * 1024 * 1024)) ] ||
    fail "$dir has $((free_kib / 1024)) MiB free; the images and build need about 3 GiB"
done

WORK=$(mktemp -d /var/tmp/msn-container-smoke.XXXXXX)
RUN_ID="msn-smoke-$$"
cleanup() {
  podman rm -f "$RUN_ID" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ -x "$CONTAINER_TOOLS/base-images.sh" ]; then
  say "base images node:${NODE_VERSION%%.*}-bookworm(-slim)"
  "$CONTAINER_TOOLS/base-images.sh"
fi
for base in "node:${NODE_VERSION%%.*}-bookworm" "node:${NODE_VERSION%%.*}-bookworm-slim"; do
  podman image exists "docker.io/library/$base" || fail "base image $base is not in podman's storage"
done

# npm in the build reaches the registry through a TLS-intercepting proxy whose CA only the host
# trusts. npm reads its global config from /usr/local/etc/npmrc, so a read-only mount there
# passes the CA to every RUN without it landing in a layer.
mkdir -p "$WORK/npm-etc"
cp "$CA_BUNDLE" "$WORK/npm-etc/ca.crt"
echo "cafile=/usr/local/etc/ca.crt" >"$WORK/npm-etc/npmrc"

say "podman build $IMAGE"
build_start=$(date +%s)
# --format docker: the OCI format silently drops HEALTHCHECK, should one be added later.
podman build --pull=never --format docker -v "$WORK/npm-etc:/usr/local/etc:ro" -t "$IMAGE" . \
  >"$WORK/build.log" 2>&1 || {
  tail -40 "$WORK/build.log" >&2
  fail "podman build failed"
}
build_secs=$(($(date +%s) - build_start))

say "check: --help prints usage and exits 0"
out=$(podman run --rm "$IMAGE" --help) || fail "--help exited $?"
grep -q '^Usage: matrix-appservice-msn' <<<"$out" || fail "--help printed: $out"

say "check: runs as the unprivileged node user"
[ "$(podman image inspect --format '{{.Config.User}}' "$IMAGE")" = node ] || fail "image user is not node"
uid=$(podman run --rm --entrypoint id "$IMAGE" -u)
[ "$uid" = 1000 ] || fail "container runs as uid $uid"

# /data as an operator would mount it: their config, writable by the image's node user (uid 1000).
DATA="$WORK/data"
mkdir "$DATA"
cat >"$DATA/config.yaml" <<'EOF'
homeserver:
  url: http://host.containers.internal:8008
  domain: example.org
appservice:
  hostname: 0.0.0.0
  port: 8090
bridge:
  permissions:
    "example.org": user
msn:
  server: host.containers.internal:1863
EOF
chown -R 1000:1000 "$DATA"

say "check: without a registration it fails and says how to make one"
set +e
err=$(podman run --rm -v "$DATA:/data" "$IMAGE" 2>&1 >/dev/null)
code=$?
set -e
[ "$code" -eq 1 ] || fail "without a registration: exit $code, want 1 ($err)"
grep -q 'cannot read the registration file /data/registration.yaml (ENOENT); generate it with -r' <<<"$err" ||
  fail "without a registration it printed: $err"

say "check: -r -u writes /data/registration.yaml"
# Arguments replace CMD (-c /data/config.yaml): the default config.yaml is found via WORKDIR /data.
podman run --rm -v "$DATA:/data" "$IMAGE" -r -u http://bridge.test:8090 >/dev/null ||
  fail "-r exited $?"
reg="$DATA/registration.yaml"
[ -f "$reg" ] || fail "-r did not write $reg"
[ "$(stat -c %u "$reg")" = 1000 ] || fail "$reg is not owned by uid 1000"
grep -qx 'url: http://bridge.test:8090' "$reg" || fail "$reg lacks the -u URL"
hs_token=$(awk '$1 == "hs_token:" { print $2 }' "$reg")
[ -n "$hs_token" ] || fail "$reg has no hs_token"

say "check: the bridge serves the published port and stops cleanly on SIGTERM"
podman run -d --name "$RUN_ID" -p 127.0.0.1::8090 -v "$DATA:/data" "$IMAGE" >/dev/null
for _ in $(seq 1 60); do
  podman logs "$RUN_ID" 2>&1 | grep -q 'appservice listening' && break
  [ "$(podman inspect --format '{{.State.Running}}' "$RUN_ID")" = true ] ||
    fail "the bridge exited: $(podman logs "$RUN_ID" 2>&1 | tail -20)"
  sleep 0.5
done
podman logs "$RUN_ID" 2>&1 | grep -q 'appservice listening' ||
  fail "the bridge did not start listening within 30 s: $(podman logs "$RUN_ID" 2>&1 | tail -20)"
hostport=$(podman port "$RUN_ID" 8090/tcp)
status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $hs_token" -d '{}' "http://$hostport/_matrix/app/v1/ping")
[ "$status" = 200 ] || fail "POST /_matrix/app/v1/ping on $hostport answered $status"
# The store opened means better-sqlite3's native addon loads in the slim image.
[ -f "$DATA/msn-bridge.db" ] || fail "the bridge did not create /data/msn-bridge.db"
say "check: the image's HEALTHCHECK passes"
podman healthcheck run "$RUN_ID" >/dev/null 2>&1 || fail "podman healthcheck run reported unhealthy"
podman image inspect "$IMAGE" | grep -q '127.0.0.1:8090/live' || fail "image has no HEALTHCHECK on /live"
stop_start=$(date +%s%N)
podman stop -t 10 "$RUN_ID" >/dev/null
stop_ms=$((($(date +%s%N) - stop_start) / 1000000))
code=$(podman inspect --format '{{.State.ExitCode}}' "$RUN_ID")
[ "$code" = 0 ] || fail "after podman stop the bridge exited $code, want 0 (137 means it ignored SIGTERM)"
podman logs "$RUN_ID" 2>&1 | grep -q 'received SIGTERM' || fail "the bridge did not log SIGTERM"

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "container smoke passed: $IMAGE $((size / 1000 / 1000)) MB, build ${build_secs} s, stop ${stop_ms} ms"
