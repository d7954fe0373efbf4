"""Where the phase-12 health checks point: every target comes from an Airflow connection, nothing is hard-coded.

Kept apart from common.health so the probes stay free of Airflow imports and testable on plain endpoints.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
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
# DAGs carrying this tag let the health checks clear and re-run their failed tasks (idempotent tasks only).
SELF_HEAL_TAG = "self-heal:clear"
FAILED_TASKS_LOOKBACK = timedelta(hours=24)
RERUN_TIMEOUT_SECONDS = 420.0
TICKETS_TABLE = "ops.health_tickets"


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
        "failed_tasks": check_failed_tasks,
        "database": lambda: check_database(database_url()),
        "api": api,
        "storage": lambda: check_storage(storage_dir()),
        "queue": queue,
        "airflow": lambda: check_airflow(_http_base(conn_id=AIRFLOW_CONN) + "/api/v2/monitor/health"),
    }


# --- failed tasks of opted-in DAGs: found, cleared and re-run through Airflow's REST API ----------------------------
def _api() -> Any:
    from common.airflow_api import AirflowApi

    return AirflowApi.from_connection(conn_id=AIRFLOW_CONN)


def failed_task_instances(api: Any, now: datetime | None = None) -> dict[tuple[str, str], list[str]]:
    """(dag_id, run_id) → failed task ids, for recent failed runs of DAGs tagged SELF_HEAL_TAG."""
    since = ((now or datetime.now(UTC)) - FAILED_TASKS_LOOKBACK).isoformat()
    found: dict[tuple[str, str], list[str]] = {}
    for dag in api.paged("/api/v2/dags", "dags", tags=SELF_HEAL_TAG):
        runs = api.paged(f"/api/v2/dags/{dag['dag_id']}/dagRuns", "dag_runs", state="failed", start_date_gte=since)
        for run in runs:
            tis = api.paged(f"/api/v2/dags/{dag['dag_id']}/dagRuns/{quote(run['dag_run_id'], safe='')}/taskInstances",
                            "task_instances", state="failed")
            if tis:
                found[(dag["dag_id"], run["dag_run_id"])] = sorted({t["task_id"] for t in tis})
    return found


def check_failed_tasks() -> HealthResult:
    began = time.monotonic()
    failed = failed_task_instances(_api())
    latency = (time.monotonic() - began) * 1000
    if not failed:
        return HealthResult("failed_tasks", "healthy", latency, f"no failed tasks in DAGs tagged {SELF_HEAL_TAG}")
    listed = "; ".join(f"{dag}/{run}: {', '.join(tasks)}" for (dag, run), tasks in sorted(failed.items()))
    return HealthResult("failed_tasks", "unhealthy", latency, f"failed tasks: {listed}")


def _tries(api: Any, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
    tis = api.paged(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances", "task_instances")
    return {t["task_id"]: t for t in tis}


def _clear_and_rerun(result: HealthResult) -> str:
    """Clears each failed task instance (and resets its run) so the scheduler runs it again, then waits until every
    cleared task has finished a new try: the recheck judges the re-run, not the cleared state."""
    api = _api()
    failed = failed_task_instances(api)
    before = {(dag, run): {t: ti["try_number"] for t, ti in _tries(api, dag, run).items() if t in tasks}
              for (dag, run), tasks in failed.items()}
    for (dag_id, run_id), task_ids in failed.items():
        api.post(f"/api/v2/dags/{dag_id}/clearTaskInstances", json={
            "dag_run_id": run_id, "task_ids": task_ids, "only_failed": True, "include_downstream": True,
            "reset_dag_runs": True, "dry_run": False})
    finished = ("success", "failed", "upstream_failed", "skipped")
    deadline = time.monotonic() + RERUN_TIMEOUT_SECONDS
    outcome: dict[str, str] = {}
    while time.monotonic() < deadline:
        outcome = {}
        for (dag_id, run_id), tries in before.items():
            now = _tries(api, dag_id, run_id)
            rerun = all(now[t]["try_number"] > n and now[t]["state"] in finished for t, n in tries.items())
            settled = all(ti["state"] in finished for ti in now.values())  # the cleared downstream tasks too
            state = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")["state"]
            outcome[f"{dag_id}/{run_id}"] = state if rerun and settled and state in ("success", "failed") else "pending"
        if "pending" not in outcome.values():
            break
        time.sleep(3)
    return f"cleared and re-ran {sum(len(t) for t in before.values())} failed task(s): {json.dumps(outcome, sort_keys=True)}"


# --- tickets: escalations land in the warehouse's ops schema, where on-call tooling (and the tests) read them ------
def open_tickets(escalations: Sequence[Any], run_id: str) -> list[int]:
    """One ticket row per ticket escalation of this run (idempotent: a retried task opens no duplicates)."""
    from common.warehouse_governance import connect

    tickets = [e for e in escalations if e.action == "ticket"]
    with connect(conn_id=DATABASE_CONN) as db, db.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS ops")
        cur.execute(f"""CREATE TABLE IF NOT EXISTS {TICKETS_TABLE} (
            id BIGSERIAL PRIMARY KEY, opened_at TIMESTAMPTZ NOT NULL DEFAULT now(), run_id TEXT NOT NULL,
            component TEXT NOT NULL, severity TEXT NOT NULL, summary TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open',
            UNIQUE (run_id, component))""")
        ids = []
        for t in tickets:
            cur.execute(f"""INSERT INTO {TICKETS_TABLE} (run_id, component, severity, summary) VALUES (%s, %s, %s, %s)
                ON CONFLICT (run_id, component) DO UPDATE SET summary = EXCLUDED.summary RETURNING id""",
                        (run_id, t.component, t.severity, t.detail))
            ids.append(int(cur.fetchone()[0]))
    return ids


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


# Automatic remediation only where it is safe: a missing directory is recreated, transient faults are retried, and
# failed tasks of DAGs that opted in (their tasks are idempotent) are cleared and re-run by the scheduler.
# A broker or scheduler that is down needs a human (or the platform's own restart policy): it is escalated.
REMEDIATIONS: dict[str, Callable[[HealthResult], str]] = {
    "failed_tasks": _clear_and_rerun,
    "storage": _recreate_storage,
    "database": _wait_transient,
    "api": _wait_transient,
}
