"""Where the phase-12 health checks point: every target comes from an Airflow connection, nothing is hard-coded.

Kept apart from common.health so the probes stay free of Airflow imports and testable on plain endpoints.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from common.health import (
    HealthResult,
    check_airflow,
    check_database,
    check_oauth_api,
    check_queue,
    check_storage,
)

DATABASE_CONN = "postgres_default"
API_CONN = "http_api_default"
QUEUE_CONN = "kafka_default"
AIRFLOW_CONN = "airflow_api"
API_PROBE_PATH = "/api/items?page=1&page_size=1"
TRANSIENT_RETRY_WAIT_SECONDS = 2.0


def _connection(conn_id: str):
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception as exc:
        raise RuntimeError(f"health checks need connection {conn_id!r}: {exc}") from exc


def _http_base(conn_id: str) -> str:
    from common.connections import http_base_url

    _connection(conn_id)  # a missing connection is reported as the health checks' own error, naming it
    return http_base_url(conn_id, "a health-check target")


def database_url() -> str:
    conn = _connection(conn_id=DATABASE_CONN)
    auth = f"{quote(conn.login or '', safe='')}:{quote(conn.password or '', safe='')}@" if conn.login else ""
    return f"postgresql+psycopg2://{auth}{conn.host}:{conn.port or 5432}/{conn.schema or ''}"


def storage_dir() -> Path:
    """The volume pipelines write to (shared data volume on Kubernetes, $AIRFLOW_HOME/data locally)."""
    return Path(os.environ.get("AIRFLOW_HOME", ".")) / "data" / "health"


def queue_address() -> tuple[str, int]:
    servers = _connection(conn_id=QUEUE_CONN).extra_dejson.get("bootstrap.servers", "")
    if not servers:
        raise RuntimeError(f"connection {QUEUE_CONN!r} has no extra 'bootstrap.servers'")
    host, _, port = servers.split(",")[0].rpartition(":")
    return host, int(port)


def probes() -> dict[str, Callable[[], HealthResult]]:
    """component → zero-argument probe, each resolving its connection when called."""

    def api() -> HealthResult:
        conn = _connection(conn_id=API_CONN)
        token_path = conn.extra_dejson.get("token_path", "/oauth/token")
        return check_oauth_api(_http_base(conn_id=API_CONN), conn.login or "", conn.password or "", token_path, API_PROBE_PATH)

    def queue() -> HealthResult:
        host, port = queue_address()
        return check_queue(host, port)

    return {
        "database": lambda: check_database(database_url()),
        "api": api,
        "storage": lambda: check_storage(storage_dir()),
        "queue": queue,
        "airflow": lambda: check_airflow(_http_base(conn_id=AIRFLOW_CONN) + "/api/v2/monitor/health"),
    }


def _safe_probe(component: str, probe: Callable[[], HealthResult]) -> HealthResult:
    """A probe whose target cannot even be resolved (missing connection) is an unhealthy component, not a crash."""
    try:
        return probe()
    except Exception as exc:
        return HealthResult(component, "unhealthy", 0.0, f"{type(exc).__name__}: {exc}")


def run_all() -> list[HealthResult]:
    return [_safe_probe(name, probe) for name, probe in probes().items()]


def recheckers() -> dict[str, Callable[[], HealthResult]]:
    return {name: (lambda n=name, p=probe: _safe_probe(n, p)) for name, probe in probes().items()}


def _recreate_storage(result: HealthResult) -> str:
    storage_dir().mkdir(parents=True, exist_ok=True)
    return f"recreated {storage_dir()}"


def _wait_transient(result: HealthResult) -> str:
    time.sleep(TRANSIENT_RETRY_WAIT_SECONDS)
    return f"waited {TRANSIENT_RETRY_WAIT_SECONDS}s for a transient fault"


# Automatic remediation only where it is safe: a missing directory is recreated, transient faults are retried.
# A broker or scheduler that is down needs a human (or the platform's own restart policy): it is escalated.
REMEDIATIONS: dict[str, Callable[[HealthResult], str]] = {
    "storage": _recreate_storage,
    "database": _wait_transient,
    "api": _wait_transient,
}
