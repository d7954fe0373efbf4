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
# Idempotent (a stamp of go.mod/go.sum, the sdk patch and the link flags), atomic (built in a temporary folder, renamed into place), and
# one build at a time per cache. A cold build is about 10 minutes of CPU on two cores and ~7 GB of Go caches.
set -euo pipefail
cd "$(dirname "$0")/../.."
mod=tools/go/vault
TOOL=vault
# shellcheck source=build-cache.sh
. scripts/install/build-cache.sh

vault_version=$(module_version "$mod/go.mod" github.com/hashicorp/vault) || exit 1
sdk_version=$(module_version "$mod/go.mod" github.com/hashicorp/vault/sdk) || exit 1
base=$TOOLS_ROOT/vault
dest=$base/$vault_version
# What the binary is built from: the module, the sdk patch and the link flags (not this script's prose).
ldflags_version() { echo "-s -w -X github.com/hashicorp/vault/version.Version=${vault_version#v}"; }
stamp=$({ cat "$mod/go.mod" "$mod/go.sum" scripts/install/vault-sdk-patch.py; ldflags_version; } | sha256sum | cut -c1-32)

cached() {
  [ -f "$dest/.stamp" ] && [ "$(cat "$dest/.stamp")" = "$stamp" ] && [ -x "$dest/bin/vault" ]
}
build_start "$base" "$dest" "vault $vault_version"
mkdir -p "$tmp/src" "$tmp/bin"
cp "$mod/go.mod" "$mod/go.sum" "$tmp/src/"

export GOTOOLCHAIN=local CGO_ENABLED=0

say "fetching vault $vault_version and sdk $sdk_version from the module proxy"
(cd "$tmp/src" && GOFLAGS=-mod=mod go mod download "github.com/hashicorp/vault@$vault_version" "github.com/hashicorp/vault/sdk@$sdk_version")
sdk_dir=$(cd "$tmp/src" && GOFLAGS=-mod=mod go mod download -json "github.com/hashicorp/vault/sdk@$sdk_version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p' | head -1)
[ -d "$sdk_dir" ] || { echo "[vault] the module cache has no sdk $sdk_version" >&2; exit 1; }
cp -r "$sdk_dir" "$tmp/src/sdk"
chmod -R u+w "$tmp/src/sdk"

python3 scripts/install/vault-sdk-patch.py "$tmp/src/sdk"

say "building vault $vault_version (about 10 minutes of CPU on two cores; later runs are cached)"
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
(cd "$tmp/src" && GOFLAGS=-mod=mod nice go build -trimpath \
  -ldflags "$(ldflags_version) -X github.com/hashicorp/vault/version.BuildDate=$build_date" \
  -o "$tmp/bin/vault" github.com/hashicorp/vault)
"$tmp/bin/vault" version | grep -q "Vault $vault_version" || { echo "[vault] the built binary does not report $vault_version: $("$tmp/bin/vault" version)" >&2; exit 1; }
rm -rf "$tmp/src"
echo "$stamp" >"$tmp/.stamp"
printf 'vault %s\nsdk %s (patched: ActivationFunc, RestorePolicy)\nbuilt %s\n' "$vault_version" "$sdk_version" "$build_date" >"$tmp/VERSIONS"
build_finish "$dest"
