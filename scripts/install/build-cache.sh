# Sourced by the install scripts that build a tool from the Go module proxy into the per-version cache outside the
# clone (kube.sh, vault.sh). The caller sets TOOL (the log prefix), defines `cached` (true when $dest is complete and
# stamped) and calls, in order:
#   build_start <base> <dest> <what>   exits 0 when cached (also after waiting for another run's build of the same
#                                      cache); else holds the cache's lock, makes $tmp (removed on any exit) and starts
#                                      a heartbeat line every minute
#   build_finish <dest>                renames $tmp into place atomically: an interrupted build never looks cached
# shellcheck shell=bash

say() { printf '[%s] %s\n' "$TOOL" "$*"; }

TOOLS_ROOT=${AIRFLOW_PLATFORM_TOOLS:-$HOME/.cache/airflow-platform/tools}
command -v go >/dev/null || { echo "[$TOOL] go is not installed (the machine image provides it)" >&2; exit 1; }

# module_version GO_MOD MODULE: the version GO_MOD requires of MODULE; fails naming both when it pins none.
module_version() {
  local v
  v=$(awk -v m="$2" '$1 == m && $2 ~ /^v/ {print $2; exit} $1 == "require" && $2 == m {print $3; exit}' "$1")
  [ -n "$v" ] || { echo "[$TOOL] $1 does not pin $2" >&2; return 1; }
  echo "$v"
}

build_start() {
  local base=$1 dest=$2 what=$3
  if cached; then
    say "$what is cached in $dest"
    exit 0
  fi
  mkdir -p "$base"
  exec 9>"$base/.lock"
  if ! flock -n 9; then
    say "another $TOOL build holds $base/.lock; waiting for it"
    flock 9
  fi
  if cached; then
    say "$what is cached in $dest (built by the other run)"
    exit 0
  fi
  tmp=$(mktemp -d "$base/.build-$(basename "$dest").XXXXXX")
  heartbeat=""
  trap '_build_cleanup' EXIT
  build_began=$(date +%s)
  (while sleep 60; do say "still building ($(( ($(date +%s) - build_began) / 60 )) min so far)"; done) &
  heartbeat=$!
}

_build_cleanup() {
  [ -n "$heartbeat" ] && kill "$heartbeat" 2>/dev/null || true
  chmod -R u+w "$tmp" 2>/dev/null || true
  rm -rf "$tmp" "$tmp.old"
}

build_finish() {
  local dest=$1
  chmod 755 "$tmp"
  if [ -e "$dest" ]; then mv "$dest" "$tmp.old"; fi
  mv "$tmp" "$dest"
  rm -rf "$tmp.old"
  say "done in $(( $(date +%s) - build_began ))s: $(du -sh "$dest" | cut -f1) in $dest"
}
