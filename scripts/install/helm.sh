#!/usr/bin/env bash
# helm v4 from the Go module proxy into a per-version cache outside the clone, for the render tests (cluster/render.py):
#   ${AIRFLOW_PLATFORM_TOOLS:-$HOME/.cache/airflow-platform/tools}/helm/<version>/bin/helm
# Idempotent (a cached binary that reports its version is kept) and atomic (built into a temporary folder, then renamed).
set -euo pipefail
HELM_VERSION=v4.3.2
tools=${AIRFLOW_PLATFORM_TOOLS:-$HOME/.cache/airflow-platform/tools}
dest=$tools/helm/$HELM_VERSION
if [ -x "$dest/bin/helm" ] && "$dest/bin/helm" version --short 2>/dev/null | grep -q "^$HELM_VERSION"; then
  echo "[helm] $HELM_VERSION cached at $dest/bin/helm"
  exit 0
fi
command -v go >/dev/null || { echo "[helm] go is not installed" >&2; exit 1; }
mkdir -p "$tools/helm"
tmp=$(mktemp -d "$tools/helm/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "[helm] building helm $HELM_VERSION from the Go module proxy (about 2 minutes cold)"
began=$(date +%s)
# go install leaves helm's version at its minor ("v4.3"); stamp the full one, as helm's own release build does.
GOBIN="$tmp/bin" GOFLAGS=-buildvcs=false nice go install -ldflags "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
"$tmp/bin/helm" version --short | grep -q "^$HELM_VERSION" || { echo "[helm] the built binary does not report $HELM_VERSION" >&2; exit 1; }
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "[helm] built $HELM_VERSION in $(( $(date +%s) - began ))s: $dest/bin/helm"
