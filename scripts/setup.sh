#!/usr/bin/env bash
# Installs the project's toolchain from its own pinned files: the Python lock into .venv (via uv) and the npm lock.
# Idempotent and quick when already done. Services (Postgres, Kafka, ...) are installed by `./platform up`.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

UV_VERSION=0.13.9
if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | awk '{print $2}')" != "$UV_VERSION" ]; then
  step "installing uv $UV_VERSION from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

if [ ! -x .venv/bin/python ]; then
  step "creating .venv"
  uv venv .venv --python "$(command -v python3)" --quiet
fi
step "syncing .venv with python/requirements.lock"
uv pip sync --quiet --python .venv/bin/python python/requirements.lock

step "installing npm packages from package-lock.json"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  echo "node_modules is up to date"
fi
