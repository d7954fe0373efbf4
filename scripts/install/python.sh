#!/usr/bin/env bash
# The project venv (.venv) from the one Python lock: Airflow 3.3.2, mlflow, moto[server], aiosmtpd... Idempotent.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
[ -x .venv/bin/python ] || uv venv --python 3.11 .venv
uv pip sync --python .venv/bin/python python/requirements.lock
