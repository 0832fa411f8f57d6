#!/usr/bin/env bash
# A Debian sid chroot holding matrix-synapse, for the end-to-end tests (see /work/shared/homeserver.md:
# Debian stable has no Synapse and PyPI is unreachable, sid's archive is).
#
#   synapse-chroot.sh ensure   make sure the chroot exists and works (reuse → restore cache → build cold)
#   synapse-chroot.sh path     print the chroot's directory
#
# Lives outside the work tree so every checkout and CI run on the machine shares it. Nothing is ever
# half-visible at the final path: restores and builds happen in a temp dir that is renamed at the end,
# and the build runs in a private mount namespace so an interrupted debootstrap leaves no mounts behind.
# Environment: MSN_CACHE_DIR (default /var/cache/matrix-appservice-msn), MSN_SYNAPSE_ROOT (default
# $MSN_CACHE_DIR/synapse-root), MSN_DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

CACHE="${MSN_CACHE_DIR:-/var/cache/matrix-appservice-msn}"
ROOT_DIR="${MSN_SYNAPSE_ROOT:-$CACHE/synapse-root}"
MIRROR="${MSN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Bump when the recipe below changes: chroots and tarballs made by an older recipe are then rebuilt.
RECIPE=1
RECIPE_MARKER=etc/msn-synapse-chroot.recipe
TARBALL_PREFIX="synapse-chroot-r$RECIPE-"
PARENT="$(dirname "$ROOT_DIR")"
NAME="$(basename "$ROOT_DIR")"

say() { echo "synapse-chroot: $*" >&2; }
die() {
  echo "synapse-chroot: ERROR: $*" >&2
  exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

usage() {
  cat >&2 <<EOF
usage: $0 ensure | path
  ensure  make sure a Debian sid chroot with matrix-synapse exists at $ROOT_DIR
          (reuse it, else restore ${CACHE}/${TARBALL_PREFIX}*.tar.zst, else build it with debootstrap)
  path    print the chroot directory
EOF
  exit 2
}

# Built by this recipe, and Synapse imports with the chroot's own Python.
chroot_valid() {
  [ "$(cat "$1/$RECIPE_MARKER" 2>/dev/null)" = "$RECIPE" ] &&
    [ -x "$1/usr/bin/python3" ] &&
    chroot "$1" /usr/bin/env -i LANG=C.UTF-8 PATH=/usr/bin:/bin \
      /usr/bin/python3 -c 'import synapse, signedjson.key' >/dev/null 2>&1
}

synapse_version() {
  chroot "$1" dpkg-query -W -f '${Version}' matrix-synapse
}

mounts_under() {
  findmnt -rn -o TARGET | awk -v d="$1" '$0 == d || index($0, d "/") == 1' | sort -r
}

# Refuse to delete anything that is mounted on (rm -rf would walk into a bind-mounted data dir).
remove_tree() {
  local dir="$1" m
  [ -e "$dir" ] || return 0
  # Only an interrupted build can have left mounts here (everything else runs in private namespaces).
  for m in $(mounts_under "$dir"); do umount -l "$m" || true; done
  [ -z "$(mounts_under "$dir")" ] || die "$dir still has mounts under it; unmount them and retry"
  rm -rf --one-file-system -- "$dir"
}

ensure_host_packages() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local t
  t=$(now)
  say "installing host packages: ${missing[*]}"
  if [ -z "${APT_UPDATED:-}" ]; then
    apt-get update -qq || die "apt-get update failed"
    APT_UPDATED=1
  fi
  local log
  log="$(mktemp)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 || {
    cat "$log" >&2
    die "apt-get install ${missing[*]} failed"
  }
  rm -f "$log"
  say "host packages installed in $(since "$t")"
}

newest_tarball() {
  # Names carry the Synapse version; the newest file wins, whatever the version sorts like.
  ls -1t "$CACHE/$TARBALL_PREFIX"*.tar.zst 2>/dev/null | head -n 1 || true
}

restore() {
  local tarball="$1" tmp="$2" t
  t=$(now)
  say "restoring $tarball"
  mkdir -p "$tmp"
  # --numeric-owner: the host's /etc/passwd is not the chroot's (e.g. the matrix-synapse user).
  if ! zstd -dc -q -- "$tarball" | tar -x --numeric-owner -C "$tmp" -f -; then
    say "could not unpack $tarball; removing it"
    rm -f -- "$tarball"
    return 1
  fi
  if ! chroot_valid "$tmp"; then
    say "$tarball unpacked but is not a working recipe-$RECIPE chroot; removing it"
    rm -f -- "$tarball"
    return 1
  fi
  say "restored in $(since "$t")"
}

# Runs inside a private mount namespace (see build_cold); $1 is the target dir.
build_inside_namespace() {
  local dir="$1" t
  t=$(now)
  say "debootstrap --variant=minbase sid ($MIRROR)"
  debootstrap --variant=minbase sid "$dir" "$MIRROR" >"$dir.debootstrap.log" 2>&1 || {
    tail -n 30 "$dir.debootstrap.log" >&2
    die "debootstrap failed (full log: $dir.debootstrap.log)"
  }
  rm -f "$dir.debootstrap.log"
  say "debootstrap done in $(since "$t")"

  # Maintainer scripts must not start daemons.
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
  chmod 755 "$dir/usr/sbin/policy-rc.d"
  # The sid Release file served here can be past its Valid-Until; signatures are still checked.
  echo 'Acquire::Check-Valid-Until "false";' >"$dir/etc/apt/apt.conf.d/99no-check-valid-until"
  cat >"$dir/etc/dpkg/dpkg.cfg.d/99msn-lean" <<'EOF'
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/info/*
EOF
  printf '%s\n' \
    'matrix-synapse matrix-synapse/server-name string localhost' \
    'matrix-synapse matrix-synapse/report-stats boolean false' |
    chroot "$dir" debconf-set-selections

  t=$(now)
  say "apt-get install matrix-synapse (inside the chroot)"
  local log="$dir.apt.log"
  {
    chroot "$dir" /usr/bin/env -i LANG=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin apt-get update &&
      chroot "$dir" /usr/bin/env -i LANG=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends matrix-synapse &&
      chroot "$dir" apt-get clean
  } >"$log" 2>&1 || {
    tail -n 30 "$log" >&2
    die "installing matrix-synapse in the chroot failed (full log: $log)"
  }
  rm -f "$log"
  # Nothing runs apt in the chroot later; the package lists (~100 MB) and the docs debootstrap unpacked
  # before the path-excludes existed only slow down every save and restore.
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/usr/share/{doc,man,locale,info}/*
  echo "$RECIPE" >"$dir/$RECIPE_MARKER"
  say "matrix-synapse installed in $(since "$t")"
}

build_cold() {
  local tmp="$1"
  ensure_host_packages debootstrap zstd
  # A private mount namespace: whatever debootstrap mounts (proc, sys) vanishes with it, even if killed.
  unshare --mount --propagation private -- "$SELF" __build "$tmp"
  chroot_valid "$tmp" || die "the fresh chroot in $tmp does not import synapse"
}

save_tarball() {
  local dir="$1" version t out part
  version="$(synapse_version "$dir")" || die "cannot read the matrix-synapse version in $dir"
  out="$CACHE/$TARBALL_PREFIX$version.tar.zst"
  part="$out.part.$$"
  t=$(now)
  say "saving $out"
  if tar -c --numeric-owner -C "$dir" -f - . | zstd -3 -T0 -q -o "$part"; then
    mv -f -- "$part" "$out"
    # Older tarballs of this recipe are superseded.
    local f
    for f in "$CACHE/$TARBALL_PREFIX"*.tar.zst; do [ "$f" = "$out" ] || rm -f -- "$f"; done
    say "saved $(du -h "$out" | cut -f1) in $(since "$t")"
  else
    rm -f -- "$part"
    say "WARNING: could not save the tarball (the chroot itself is fine)"
  fi
}

ensure() {
  local t0 tmp tarball
  t0=$(now)
  [ "$(id -u)" -eq 0 ] ||
    die "must run as root (debootstrap, chroot and the mounts Synapse needs all require it); try: sudo $0 ensure"
  mkdir -p "$CACHE" "$PARENT"

  # Several checkouts may run the test suite at once; one ensure at a time.
  exec 9>"$CACHE/.synapse-chroot.lock"
  if ! flock -n 9; then
    say "another ensure is running; waiting for it"
    flock 9
  fi

  if chroot_valid "$ROOT_DIR"; then
    say "ready: $ROOT_DIR (Synapse $(synapse_version "$ROOT_DIR"), checked in $(since "$t0"))"
    return 0
  fi
  if [ -e "$ROOT_DIR" ]; then
    say "$ROOT_DIR exists but is not a working recipe-$RECIPE chroot (Synapse does not import, or an older recipe); replacing it"
    remove_tree "$ROOT_DIR"
  fi
  # Leftovers of interrupted runs (we hold the lock, so nobody is using them).
  local stale
  for stale in "$PARENT/.$NAME.tmp."*; do
    [ -e "$stale" ] || continue
    say "removing leftover $stale"
    remove_tree "$stale"
  done
  rm -f -- "$CACHE/$TARBALL_PREFIX"*.part.* 2>/dev/null || true

  tmp="$PARENT/.$NAME.tmp.$$"
  tarball="$(newest_tarball)"
  if [ -n "$tarball" ]; then
    command -v zstd >/dev/null 2>&1 || ensure_host_packages zstd
    if ! restore "$tarball" "$tmp"; then
      remove_tree "$tmp"
      tarball=""
    fi
  fi
  if [ -z "$tarball" ]; then
    local t
    t=$(now)
    say "no usable cached tarball; building the chroot cold (1-3 minutes)"
    build_cold "$tmp"
    say "cold build done in $(since "$t")"
    save_tarball "$tmp"
  fi
  mv -T -- "$tmp" "$ROOT_DIR"
  say "ready: $ROOT_DIR (Synapse $(synapse_version "$ROOT_DIR"), total $(since "$t0"))"
}

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

case "${1:-}" in
  ensure) ensure ;;
  path) echo "$ROOT_DIR" ;;
  __build)
    [ -n "${2:-}" ] || usage
    build_inside_namespace "$2"
    ;;
  *) usage ;;
esac
