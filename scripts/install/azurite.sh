#!/usr/bin/env bash
# Azurite (Azure Blob stand-in) from npm into .local/opt/azurite, per local/node/azurite/package.json. Idempotent.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HOME_DIR="${LOCAL_PLATFORM_HOME:-$REPO/.local}"
DEST="$HOME_DIR/opt/azurite"
SRC="$REPO/local/node/azurite/package.json"
if [ -x "$DEST/node_modules/.bin/azurite-blob" ] && cmp -s "$SRC" "$DEST/package.json"; then
  echo "azurite already installed"; exit 0
fi
mkdir -p "$DEST"
cp "$SRC" "$DEST/package.json"
npm install --prefix "$DEST" --no-audit --no-fund --omit=dev --loglevel=error
echo "azurite installed in $DEST"
