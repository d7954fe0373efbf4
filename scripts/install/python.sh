#!/usr/bin/env bash
# The project venv (.venv) from the one Python lock: Airflow 3.3.2, mlflow, moto[server], aiosmtpd... Idempotent.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
UV_VERSION=0.13.9
if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | awk '{print $2}')" != "$UV_VERSION" ]; then
  echo "python: installing uv $UV_VERSION from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
[ -x .venv/bin/python ] || uv venv --python "$(command -v python3)" --quiet .venv
# Byte-compile what the lock installs, once per lock: uv does not by default, and PYTHONDONTWRITEBYTECODE (set on
# some machines) would leave every Python start compiling Airflow from source (4.8 s to import it, against 2.5 s).
marker=".venv/.bytecode-$(sha256sum python/requirements.lock | cut -c1-16)"
if [ -f "$marker" ]; then
  uv pip sync --quiet --python .venv/bin/python python/requirements.lock
else
  echo "python: syncing .venv with python/requirements.lock and byte-compiling it (once per lock, about a minute)"
  uv pip sync --quiet --compile-bytecode --python .venv/bin/python python/requirements.lock
  rm -f .venv/.bytecode-* && touch "$marker"
fi
