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
uv pip sync --quiet --python .venv/bin/python python/requirements.lock
