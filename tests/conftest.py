"""Session set-up shared by every pytest suite: an isolated Airflow home with a migrated metadata DB.

Environment must be set before anything imports airflow, so it happens at conftest import time.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "dags"

_home = Path(os.environ.get("AIRFLOW_TEST_HOME") or tempfile.mkdtemp(prefix="airflow-test-home-"))
os.environ["AIRFLOW_HOME"] = str(_home)
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(DAGS))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_home}/airflow.db")
os.environ.setdefault("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
os.environ.setdefault("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(_home / "logs"))
for importable in (REPO, DAGS):  # the repo root for local/ and contract/, dags/ for common/ as Airflow does
    if str(importable) not in sys.path:
        sys.path.insert(0, str(importable))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """Migrate the metadata DB once per session; returns its SQLAlchemy URL."""
    from airflow.utils import db

    db.initdb()
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


@pytest.fixture(scope="session")
def dagbag(airflow_db: str):
    """A DagBag of the whole dags/ folder, parsed the way the dag-processor parses it."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


# The local platform's session fixtures (local/testing.py): `local_platform`, `platform_connections` and one
# `<service>_service` per service (postgres_service, kafka_service, ...), which start the service through the
# same harness as `./platform up` and fail the test naming the service if it cannot start.
from local.testing import (  # noqa: E402, F401
    airflow_service,
    azure_blob_service,
    bigquery_service,
    http_standins_service,
    kafka_service,
    local_platform,
    marquez_service,
    mlflow_service,
    platform_connections,
    postgres_service,
    prometheus_service,
    redis_service,
    s3_service,
    smtp_service,
    statsd_service,
    vault_service,
)
