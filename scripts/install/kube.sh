#!/usr/bin/env bash
# Builds the binaries of the local Kubernetes control plane (cluster/controlplane.py) from the Go module proxy:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes, module tools/go/kube)
#   etcd                                                             (go.etcd.io/etcd/server/v3 etcdmain, tools/go/kube/cmd/etcd)
#   kwok                                                             (sigs.k8s.io/kwok, module tools/go/kwok: it pins older k8s.io libraries)
# into a per-version cache outside the clone:
#   ${AIRFLOW_PLATFORM_TOOLS:-$HOME/.cache/airflow-platform/tools}/kube/<k8s-version>/bin/
# Idempotent: a stamp (hash of both modules' go.mod/go.sum and the etcd main) makes a second run a no-op.
# Atomic: the binaries are built into a temporary directory that is renamed into place only when all of them built, so
# an interrupted build never looks cached (scripts/install/build-cache.sh). A cold build takes ~8 minutes on two cores (more while other builds run).
set -euo pipefail
cd "$(dirname "$0")/../.."
TOOL=kube
# shellcheck source=build-cache.sh
. scripts/install/build-cache.sh

kube_mod=tools/go/kube
kwok_mod=tools/go/kwok
k8s_version=$(module_version "$kube_mod/go.mod" k8s.io/kubernetes) || exit 1
kwok_version=$(module_version "$kwok_mod/go.mod" sigs.k8s.io/kwok) || exit 1
base=$TOOLS_ROOT/kube
dest=$base/$k8s_version
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

# What the binaries are built from (not this script's prose): both modules, the etcd main, the version flags' recipe.
stamp=$({ cat "$kube_mod/go.mod" "$kube_mod/go.sum" "$kube_mod/cmd/etcd/main.go" "$kwok_mod/go.mod" "$kwok_mod/go.sum"; echo "ldflags v1"; } \
  | sha256sum | cut -c1-32)

cached() {
  [ -f "$dest/.stamp" ] && [ "$(cat "$dest/.stamp")" = "$stamp" ] || return 1
  local b
  for b in "${binaries[@]}"; do [ -x "$dest/bin/$b" ] || return 1; done
  [ -f "$dest/stages/pod-ready.yaml" ]
}

build_start "$base" "$dest" "kubernetes $k8s_version + kwok $kwok_version"
mkdir -p "$tmp/bin"

export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0
start=$build_began

say "building kubernetes $k8s_version (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl) into $dest/bin"
say "a cold build takes ~8 minutes on two cores; later runs are cached"
(cd "$kube_mod" && go mod download k8s.io/kubernetes)
k8s_commit=$(cd "$kube_mod" && go mod download -json "k8s.io/kubernetes@$k8s_version" | sed -n 's/.*"Hash": "\([0-9a-f]*\)".*/\1/p' | head -1)
minor=${k8s_version#v1.}; minor=${minor%%.*}
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitCommit=${k8s_commit:-unknown} -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done
(cd "$kube_mod" && go build -trimpath -ldflags "$ldflags" -o "$tmp/bin/" \
  ./cmd/etcd \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl)
say "kubernetes binaries built in $(( $(date +%s) - start ))s"

say "building kwok $kwok_version"
(cd "$kwok_mod" && go build -trimpath -ldflags "-s -w" -o "$tmp/bin/kwok" sigs.k8s.io/kwok/cmd/kwok)

for b in "${binaries[@]}"; do
  [ -x "$tmp/bin/$b" ] || { echo "[kube] build finished without $b" >&2; exit 1; }
done

# kwok's own Stage rules (what its fast node/pod/volume simulation does), from the same pinned module.
kwok_dir=$(cd "$kwok_mod" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
mkdir -p "$tmp/stages"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml \
  volume/fast/pvc-provision.yaml volume/fast/pv-bind.yaml volume/fast/pvc-delete.yaml volume/fast/pv-delete.yaml; do
  cp "$kwok_dir/kustomize/stage/$f" "$tmp/stages/"
done
chmod -R u+w "$tmp/stages"
"$tmp/bin/kube-apiserver" --version
echo "$stamp" >"$tmp/.stamp"
printf 'kubernetes %s\nkwok %s\netcd %s\nbuilt %s\n' "$k8s_version" "$kwok_version" \
  "$(module_version "$kube_mod/go.mod" go.etcd.io/etcd/server/v3)" "$build_date" >"$tmp/VERSIONS"
build_finish "$dest"
