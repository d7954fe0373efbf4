#!/usr/bin/env bash
# The real Pulumi engine for cluster/engine.py, built from the Go module proxy (no release downloads reach here):
#   - the Pulumi CLI v3.215.0 and the kubernetes provider (pulumi-kubernetes provider/v4 at commit f47bc2d6f199,
#     which itself pins pulumi pkg/v3 v3.215.0) from ONE Go module, tools/go/pulumi (schema-embed.json is
#     generated from the provider module's schema.json the way the upstream Makefile does: `go generate`);
#   - the Node.js language host from pulumi sdk/v3 v3.68.0 (tools/go/pulumi/langhost-nodejs; newer host modules
#     are not served);
#   - TEST providers random/vault/aws/docker-build (tools/go/testproviders; their plugins are not served);
#   - Node.js 22, the project's own (scripts/install/node.sh: @pulumi/pulumi 3.270 needs Node >= 22, Debian ships 20).
# Everything is cached outside the clone, by version:
#   ${AIRFLOW_PLATFORM_TOOLS:-~/.cache/airflow-platform/tools}/pulumi/<cli>-k8s-<provider>/bin/  and  .../node/<v>/bin/node
# Each part is built in a temp dir, moved into place by rename and stamped with the hash of its inputs, so a
# second run only compares stamps. Prints the bin dir last (engine.py puts it first on PATH with node's).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="${AIRFLOW_PLATFORM_TOOLS:-$HOME/.cache/airflow-platform/tools}"

CLI_VERSION=3.215.0
K8S_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
K8S_VERSION=4.0.0-20260115033456-f47bc2d6f199
LANGHOST_VERSION=3.68.0
# The npm SDK versions the test providers report (package-lock.json).
RANDOM_VERSION=4.21.2 VAULT_VERSION=7.8.0 AWS_VERSION=7.48.0 DOCKER_BUILD_VERSION=0.0.22

DEST="$TOOLS/pulumi/$CLI_VERSION-k8s-$K8S_VERSION"
BIN="$DEST/bin"
STAMPS="$DEST/stamps"
GO_MODULES="$REPO/tools/go"
mkdir -p "$BIN" "$STAMPS"
export GOFLAGS="-buildvcs=false"

began_all=$(date +%s)
say() { printf 'pulumi: %s\n' "$*"; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }
# Hash of a part's inputs: its files' contents (not their paths: every clone, CI's included, shares the cache), this
# script's versions and the Go toolchain.
inputs_hash() {
  { go version; printf '%s\n' "$CLI_VERSION $K8S_VERSION $LANGHOST_VERSION $RANDOM_VERSION $VAULT_VERSION $AWS_VERSION $DOCKER_BUILD_VERSION";
    for f in "$@"; do printf '%s ' "${f#"$GO_MODULES"/}"; sha256sum < "$f"; done; } | sha256sum | cut -d' ' -f1
}
fresh() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ] && shift 2 && for b in "$@"; do [ -x "$BIN/$b" ] || return 1; done; }
# install_bins WORK name...: rename the built binaries into bin/ (same filesystem: each rename is atomic).
install_bins() {
  local work="$1"; shift
  for b in "$@"; do mv -f "$work/out/$b" "$BIN/$b"; done
}
stamp() { echo "$2" > "$STAMPS/.$1.tmp" && mv -f "$STAMPS/.$1.tmp" "$STAMPS/$1"; }
newwork() { mktemp -d "$TOOLS/pulumi/.build-$1.XXXXXX"; }
command -v go >/dev/null || { echo "pulumi: go is required (https://go.dev/dl)"; exit 1; }

# 1. CLI + kubernetes provider: one module, so both link the same pulumi pkg/v3.
h=$(inputs_hash "$GO_MODULES/pulumi/go.mod" "$GO_MODULES/pulumi/go.sum")
if fresh cli-k8s "$h" pulumi pulumi-resource-kubernetes; then
  say "CLI v$CLI_VERSION + kubernetes provider $K8S_VERSION: cached"
else
  began=$(date +%s)
  work=$(newwork cli-k8s); trap 'rm -rf "$work"' EXIT
  cp "$GO_MODULES/pulumi/go.mod" "$GO_MODULES/pulumi/go.sum" "$work/"
  mkdir -p "$work/out"
  say "fetching $K8S_MODULE@v$K8S_VERSION"
  # (from a directory without a go.mod: the build dir's replace target does not exist yet)
  src=$(cd "$TOOLS/pulumi" && go mod download -json "$K8S_MODULE@v$K8S_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || { echo "pulumi: could not download $K8S_MODULE@v$K8S_VERSION"; exit 1; }
  # go.mod replaces the provider with ./provider-src: a writable copy that gets the generated embed files.
  cp -r "$src" "$work/provider-src"; chmod -R u+w "$work/provider-src"
  # Its own `replace .../sdk/v4 => ../sdk` points into the upstream repo (absent here); only the main module's
  # replaces count for the build, but `go generate` runs inside the provider module.
  sed -i '/^replace github.com\/pulumi\/pulumi-kubernetes\/sdk\/v4 => /d' "$work/provider-src/go.mod"
  say "generating schema-embed.json (upstream: VERSION=... go generate cmd/pulumi-resource-kubernetes/main.go)"
  (cd "$work/provider-src/cmd/pulumi-resource-kubernetes" && VERSION="$K8S_VERSION" GOFLAGS="-buildvcs=false -mod=mod" nice go generate ./main.go)
  [ -s "$work/provider-src/cmd/pulumi-resource-kubernetes/schema-embed.json" ] || { echo "pulumi: schema-embed.json was not generated"; exit 1; }
  say "building pulumi v$CLI_VERSION (slow on a busy 2-core machine)"
  (cd "$work" && nice go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$CLI_VERSION" \
     -o out/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  say "building pulumi-resource-kubernetes $K8S_VERSION"
  (cd "$work" && nice go build -trimpath -ldflags "-s -w -X $K8S_MODULE/pkg/version.Version=$K8S_VERSION" \
     -o out/pulumi-resource-kubernetes "$K8S_MODULE/cmd/pulumi-resource-kubernetes")
  install_bins "$work" pulumi pulumi-resource-kubernetes
  stamp cli-k8s "$h"
  rm -rf "$work"; trap - EXIT
  say "CLI + kubernetes provider built in $(elapsed "$began")"
fi

# 2. Node.js language host (its own module: it needs pulumi sdk/v3 v3.68.0, the CLI module v3.215.0).
h=$(inputs_hash "$GO_MODULES/pulumi/langhost-nodejs/go.mod" "$GO_MODULES/pulumi/langhost-nodejs/go.sum")
if fresh langhost "$h" pulumi-language-nodejs; then
  say "language host nodejs v$LANGHOST_VERSION: cached"
else
  began=$(date +%s)
  work=$(newwork langhost); trap 'rm -rf "$work"' EXIT
  cp "$GO_MODULES/pulumi/langhost-nodejs/go.mod" "$GO_MODULES/pulumi/langhost-nodejs/go.sum" "$work/"
  say "building pulumi-language-nodejs v$LANGHOST_VERSION"
  (cd "$work" && nice go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$LANGHOST_VERSION" \
     -o out/pulumi-language-nodejs github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs)
  install_bins "$work" pulumi-language-nodejs
  stamp langhost "$h"
  rm -rf "$work"; trap - EXIT
  say "language host built in $(elapsed "$began")"
fi

# 3. Test providers: one binary, one name per package (it picks the package from its own name).
TEST_PROVIDERS=(random vault aws docker-build)
h=$(inputs_hash "$GO_MODULES"/testproviders/go.mod "$GO_MODULES"/testproviders/go.sum "$GO_MODULES"/testproviders/*.go)
if fresh testproviders "$h" "${TEST_PROVIDERS[@]/#/pulumi-resource-}"; then
  say "test providers (${TEST_PROVIDERS[*]}): cached"
else
  began=$(date +%s)
  work=$(newwork testproviders); trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/out"
  say "building test providers (${TEST_PROVIDERS[*]})"
  (cd "$GO_MODULES/testproviders" && nice go build -trimpath -o "$work/out/testprovider" \
     -ldflags "-s -w -X main.randomVersion=$RANDOM_VERSION -X main.vaultVersion=$VAULT_VERSION -X main.awsVersion=$AWS_VERSION -X main.dockerBuildVersion=$DOCKER_BUILD_VERSION" .)
  for p in "${TEST_PROVIDERS[@]}"; do ln -f "$work/out/testprovider" "$work/out/pulumi-resource-$p"; done
  install_bins "$work" "${TEST_PROVIDERS[@]/#/pulumi-resource-}"
  stamp testproviders "$h"
  rm -rf "$work"; trap - EXIT
  say "test providers built in $(elapsed "$began")"
fi

# 3b. The Node.js policy-pack analyzer (`pulumi preview --policy-pack policy`): a shell script the CLI release ships
# beside the language host; it runs @pulumi/pulumi's cmd/run-policy-pack from the pack's node_modules. Taken from the
# CLI's own sdk/v3 module (already in the module cache after step 1).
sdk_dir=$(cd "$GO_MODULES/pulumi" && go mod download -json "github.com/pulumi/pulumi/sdk/v3@v$CLI_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
analyzer="$sdk_dir/nodejs/dist/pulumi-analyzer-policy"
[ -f "$analyzer" ] || { echo "pulumi: $analyzer not found in the module cache"; exit 1; }
if ! cmp -s "$analyzer" "$BIN/pulumi-analyzer-policy"; then
  install -m 0755 "$analyzer" "$BIN/.pulumi-analyzer-policy.tmp" && mv -f "$BIN/.pulumi-analyzer-policy.tmp" "$BIN/pulumi-analyzer-policy"
  say "policy analyzer installed from sdk/v3 v$CLI_VERSION"
fi

# 4. Node.js 22, the project's own (scripts/install/node.sh).
NODE_DIR="$(dirname "$(bash "$REPO/scripts/install/node.sh")")"

say "$("$BIN/pulumi" version) with kubernetes $K8S_VERSION, language host v$LANGHOST_VERSION, node $("$NODE_DIR/bin/node" --version); $(du -sh "$DEST" | cut -f1) in $DEST ($(elapsed "$began_all"))"
echo "$BIN"
