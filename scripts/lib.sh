# Shared by the scripts in this folder: puts a Node.js >= 22 first on PATH and makes sure
# node_modules matches package-lock.json (native addons are built against that Node).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_BIN="$("$ROOT/scripts/ensure-node.sh")"
export PATH="$NODE_BIN:$PATH"
export npm_config_nodedir="$(dirname "$NODE_BIN")"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

ensure_node_modules() {
  local stamp="$ROOT/node_modules/.install-stamp"
  local want
  want="$(node --version) $(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "==> npm ci ($(node --version))" >&2
    (cd "$ROOT" && npm ci --no-audit --no-fund)
    echo "$want" >"$stamp"
  fi
}

ensure_apt_packages() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "!!! not root: cannot install Debian packages ${missing[*]}; tiers needing them will fail" >&2
    return 1
  fi
  echo "==> apt-get install ${missing[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
