#!/usr/bin/env bash
# HashiCorp Vault's real server for the local platform (local/services/vault.py), built from the Go module proxy into a
# per-version cache outside the clone:
#   ${AIRFLOW_PLATFORM_TOOLS:-$HOME/.cache/airflow-platform/tools}/vault/<version>/bin/vault
#
# Why a module of our own (tools/go/vault) and not `go install`: Vault's go.mod has replace lines, which `go install`
# refuses. Ours copies the two that point at other modules, and points github.com/hashicorp/vault/sdk at ./sdk: Vault
# 1.21.4 compiles against its in-tree sdk, which differs from the published sdk v0.21.0 in two signatures. This script
# copies the published sdk out of the module cache and adapts exactly those two places (and fails if either moved):
#   framework.Backend.ActivationFunc        takes (ctx, req)            instead of (ctx, req, string)
#   keysutil.LockManager.RestorePolicy      returns (string, error)     instead of error (the restored key's name)
#
# Idempotent (a stamp of go.mod/go.sum and this script), atomic (built in a temporary folder, renamed into place), and
# one build at a time per cache. A cold build is about 10 minutes of CPU on two cores and ~7 GB of Go caches.
set -euo pipefail
cd "$(dirname "$0")/../.."
mod=tools/go/vault

say() { printf '[vault] %s\n' "$*"; }
command -v go >/dev/null || { echo "[vault] go is not installed (the machine image provides it)" >&2; exit 1; }

vault_version=$(awk '$1 == "github.com/hashicorp/vault" {print $2; exit}' "$mod/go.mod")
sdk_version=$(awk '$1 == "github.com/hashicorp/vault/sdk" && $2 ~ /^v/ {print $2; exit}' "$mod/go.mod")
[ -n "$vault_version" ] && [ -n "$sdk_version" ] || { echo "[vault] cannot read the pinned versions from $mod/go.mod" >&2; exit 1; }

tools=${AIRFLOW_PLATFORM_TOOLS:-$HOME/.cache/airflow-platform/tools}
base=$tools/vault
dest=$base/$vault_version
stamp=$(cat "$0" "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-32)

cached() {
  [ -f "$dest/.stamp" ] && [ "$(cat "$dest/.stamp")" = "$stamp" ] && [ -x "$dest/bin/vault" ]
}
if cached; then
  say "vault $vault_version is cached in $dest/bin"
  exit 0
fi

mkdir -p "$base"
exec 9>"$base/.lock"
if ! flock -n 9; then
  say "another vault.sh build holds $base/.lock; waiting for it"
  flock 9
fi
if cached; then
  say "vault $vault_version is cached in $dest/bin (built by the other run)"
  exit 0
fi

tmp=$(mktemp -d "$base/.build-$vault_version.XXXXXX")
heartbeat=""
cleanup() {
  [ -n "$heartbeat" ] && kill "$heartbeat" 2>/dev/null || true
  chmod -R u+w "$tmp" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/src" "$tmp/bin"
cp "$mod/go.mod" "$mod/go.sum" "$tmp/src/"

export GOTOOLCHAIN=local CGO_ENABLED=0
start=$(date +%s)
(while sleep 60; do say "still building ($(( ($(date +%s) - start) / 60 )) min so far)"; done) &
heartbeat=$!

say "fetching vault $vault_version and sdk $sdk_version from the module proxy"
(cd "$tmp/src" && GOFLAGS=-mod=mod go mod download "github.com/hashicorp/vault@$vault_version" "github.com/hashicorp/vault/sdk@$sdk_version")
sdk_dir=$(cd "$tmp/src" && GOFLAGS=-mod=mod go mod download -json "github.com/hashicorp/vault/sdk@$sdk_version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p' | head -1)
[ -d "$sdk_dir" ] || { echo "[vault] the module cache has no sdk $sdk_version" >&2; exit 1; }
cp -r "$sdk_dir" "$tmp/src/sdk"
chmod -R u+w "$tmp/src/sdk"

python3 - "$tmp/src/sdk" <<'PY'
import re
import sys
from pathlib import Path

sdk = Path(sys.argv[1])

backend = sdk / "framework/backend.go"
text = backend.read_text()
old = "ActivationFunc func(context.Context, *logical.Request, string) error"
if text.count(old) != 1:
    sys.exit(f"[vault] {backend}: the ActivationFunc field is not where this script expects it")
backend.write_text(text.replace(old, "ActivationFunc func(context.Context, *logical.Request) error"))

manager = sdk / "helper/keysutil/lock_manager.go"
text = manager.read_text()
head = "func (lm *LockManager) RestorePolicy(ctx context.Context, storage logical.Storage, name, backup string, force bool) error {"
start = text.find(head)
end = text.find("\n}\n", start)
if start < 0 or end < 0:
    sys.exit(f"[vault] {manager}: RestorePolicy is not where this script expects it")
body = text[start + len(head):end]
body = re.sub(r"\breturn nil\b", "return name, nil", body)
body = re.sub(r"\breturn (?!name, nil)", 'return "", ', body)
new_head = head.replace("force bool) error {", "force bool) (string, error) {")
manager.write_text(text[:start] + new_head + body + text[end:])
PY

say "building vault $vault_version (about 10 minutes of CPU on two cores; later runs are cached)"
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
(cd "$tmp/src" && GOFLAGS=-mod=mod nice go build -trimpath \
  -ldflags "-s -w -X github.com/hashicorp/vault/version.Version=${vault_version#v} -X github.com/hashicorp/vault/version.BuildDate=$build_date" \
  -o "$tmp/bin/vault" github.com/hashicorp/vault)
"$tmp/bin/vault" version | grep -q "Vault $vault_version" || { echo "[vault] the built binary does not report $vault_version: $("$tmp/bin/vault" version)" >&2; exit 1; }
rm -rf "$tmp/src"
echo "$stamp" >"$tmp/.stamp"
printf 'vault %s\nsdk %s (patched: ActivationFunc, RestorePolicy)\nbuilt %s\n' "$vault_version" "$sdk_version" "$build_date" >"$tmp/VERSIONS"
chmod 755 "$tmp"
if [ -e "$dest" ]; then mv "$dest" "$tmp.old"; fi
mv "$tmp" "$dest"
rm -rf "$tmp.old"
trap - EXIT
kill "$heartbeat" 2>/dev/null || true
say "done in $(( $(date +%s) - start ))s: $(du -sh "$dest/bin/vault" | cut -f1) $dest/bin/vault"
