#!/usr/bin/env bash
# statsd_exporter through `go install` (Go module proxy) into .local/opt/bin. Idempotent: skipped when that version is there.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HOME_DIR="${LOCAL_PLATFORM_HOME:-$REPO/.local}"
VERSION=v0.28.0
BIN="$HOME_DIR/opt/bin"
if [ -x "$BIN/statsd_exporter" ] && [ "$(cat "$BIN/.statsd_exporter.version" 2>/dev/null)" = "$VERSION" ]; then
  echo "statsd_exporter $VERSION already installed"; exit 0
fi
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
mkdir -p "$BIN"
GOBIN="$BIN" go install "github.com/prometheus/statsd_exporter@$VERSION"
echo "$VERSION" > "$BIN/.statsd_exporter.version"
echo "statsd_exporter $VERSION installed in $BIN"
