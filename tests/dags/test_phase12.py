"""Phase 12 (observability): metrics reaching Prometheus and Deadline Alerts firing in the real scheduler,
JSON logs and OpenTelemetry traces from a dag.test() run, and health checks against the live local services."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from airflow_live import pause, trigger_at
from dag_run_helpers import get_dag, task_states, xcom_value

from common.observability import parse_exposition, read_json_lines
from common.quality import safe_file_name
from local.testing import eventually

METRICS = "phase12_01_metrics_monitoring"
TRACING = "phase12_02_logging_tracing"
HEALTH = "phase12_03_health_checks"


def test_deadline_alerts_replace_slas(dagbag) -> None:
    from airflow.sdk.definitions.deadline import DeadlineReference

    dag = get_dag(dagbag, METRICS)
    alerts = {(type(a.reference).__name__, a.interval) for a in dag.deadline}
    assert alerts == {
        (type(DeadlineReference.DAGRUN_QUEUED_AT).__name__, timedelta(minutes=30)),
        (type(DeadlineReference.DAGRUN_LOGICAL_DATE).__name__, timedelta(hours=2)),
    }
    assert {a.callback.path for a in dag.deadline} == {"common.observability.on_deadline_missed"}
    assert {a.callback.kwargs["sla"] for a in dag.deadline} == {"runtime", "freshness"}


@pytest.fixture(scope="module")
def airflow_client(airflow_service, prometheus_service, statsd_service):
    from local.airflow_client import AirflowClient

    client = AirflowClient()
    yield client
    pause(client, METRICS)


def _prometheus_value(query: str) -> float | None:
    from local import ports

    url = f"http://{ports.HOST}:{ports.port('prometheus')}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=10) as response:
        result = json.loads(response.read())["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_real_scheduler_run_exports_metrics_to_prometheus_and_fires_the_missed_deadline(airflow_client) -> None:
    """Logical date 3h ago: the 2h freshness deadline is already missed when the run is created, so the scheduler
    must record the miss and run on_deadline_missed; the 30-min runtime deadline is met and pruned."""
    from sqlalchemy import create_engine, text

    from local.services import postgres

    backlog = random.randrange(10_000, 99_999)  # a value only this run can have sent
    logical = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
    run_id = trigger_at(airflow_client, METRICS, logical, {"backlog": backlog}, prefix="metrics")
    run = airflow_client.wait(METRICS, run_id, timeout=600)
    assert run["state"] == "success"

    textfile = Path(airflow_client.xcom(METRICS, run_id, "publish_metrics")["textfile"])
    samples = parse_exposition(textfile.read_text())
    assert samples[f'airflow_pipeline_backlog_records{{dag_id="{METRICS}"}}'] == backlog
    assert samples[f'airflow_pipeline_records_processed_total{{dag_id="{METRICS}",outcome="failed"}}'] == 7

    # Airflow's StatsD client → statsd_exporter → Prometheus scrape.
    gauge = f"airflow_custom_{METRICS}_backlog"
    eventually(lambda: _prometheus_value(gauge) == backlog, 120, f"Prometheus to scrape {gauge}={backlog}")

    engine = create_engine(postgres.dsn("airflow", scheme="postgresql+psycopg2"))
    query = text(
        "SELECT d.missed, d.deadline_time, c.state FROM deadline d JOIN dag_run r ON d.dagrun_id = r.id "
        "LEFT JOIN callback c ON c.id = d.callback_id WHERE r.dag_id = :dag AND r.run_id = :run"
    )

    def fired() -> list[tuple]:
        with engine.connect() as conn:
            rows = [tuple(row) for row in conn.execute(query, {"dag": METRICS, "run": run_id})]
        return rows if rows and all(r[2] == "success" for r in rows) else []

    try:
        rows = eventually(fired, 120, "the missed-deadline callback to succeed")
    finally:
        engine.dispose()
    assert len(rows) == 1  # only the freshness deadline: the met runtime deadline was pruned on success
    missed, deadline_time, _ = rows[0]
    assert missed is True and deadline_time == logical + timedelta(hours=2)


def test_logs_and_spans_of_one_run_share_correlation_and_trace_ids(dagbag) -> None:
    run = get_dag(dagbag, TRACING).test(run_conf={"correlation_id": "req-4711"})
    assert run.state == "success", task_states(run)
    name = f"{TRACING}__{safe_file_name(run.run_id)}.jsonl"
    base = Path(os.environ["AIRFLOW_HOME"]) / "observability"
    logs, spans = read_json_lines(base / "logs" / name), read_json_lines(base / "traces" / name)

    assert [s["name"] for s in spans] == ["dag_run", "extract", "transform", "load"]
    trace_ids = {s["context"]["trace_id"] for s in spans}
    assert len(trace_ids) == 1
    for parent, child in pairwise(spans):
        assert child["parent_id"] == parent["context"]["span_id"]  # one chain across four task processes
    assert all(s["attributes"]["correlation_id"] == "req-4711" for s in spans)

    assert {line["correlation_id"] for line in logs} == {"req-4711"}
    assert {"0x" + line["trace_id"] for line in logs} == trace_ids
    assert [(line["task_id"], line["level"], line["message"]) for line in logs] == [
        ("start_trace", "INFO", "run started"),
        ("extract", "INFO", "extracted rows"),
        ("transform", "WARNING", "rejected rows"),
        ("transform", "INFO", "transformed rows"),
        ("load", "INFO", "loaded rows"),
    ]
    assert logs[1]["rows"] == 120 and logs[4]["target"] == "warehouse.orders"
    assert xcom_value(run, "load")["result"] == 117


@pytest.fixture
def live_health_services(postgres_service, http_standins_service, kafka_service, airflow_service, platform_connections):
    return platform_connections


def _storage_dir() -> Path:
    return Path(os.environ["AIRFLOW_HOME"]) / "data" / "health"


def test_health_checks_against_live_services_heal_storage_and_pass(dagbag, live_health_services) -> None:
    shutil.rmtree(_storage_dir(), ignore_errors=True)  # a lost volume mount: self-healing must recreate it
    run = get_dag(dagbag, HEALTH).test()
    assert run.state == "success", task_states(run)
    first = {r["component"]: r for r in xcom_value(run, "probe_components")}
    assert first["storage"]["status"] == "unhealthy"
    report = xcom_value(run, "escalate_and_report")
    results = {r["component"]: r for r in report["results"]}
    assert report["status"] in ("healthy", "degraded"), results
    assert {c: r["status"] for c, r in results.items() if r["status"] == "unhealthy"} == {}
    assert results["storage"]["remediated"] is True
    assert results["database"]["detail"] == "SELECT 1 ok"
    assert results["airflow"]["detail"].startswith("airflow: dag_processor=healthy")
    assert "token ok" in results["api"]["detail"] or "429" in results["api"]["detail"]


def test_airflow_down_is_escalated_as_p1_and_fails_the_run(dagbag, live_health_services, monkeypatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": closed, "schema": "http"}))
    run = get_dag(dagbag, HEALTH).test()
    states = task_states(run)
    assert run.state == "failed" and states["escalate_and_report"] == "failed", states
    healed = {r["component"]: r for r in xcom_value(run, "self_heal")}
    assert healed["airflow"]["status"] == "unhealthy" and "Connection refused" in healed["airflow"]["detail"]
    assert healed["database"]["status"] == "healthy"


def _flaky(mode: str) -> None:
    from local.services import http_standins

    request = urllib.request.Request(f"{http_standins.base_url()}/_control/flaky/default", method="POST",
                                     data=json.dumps({"mode": mode}).encode(), headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()


def test_a_failed_task_is_cleared_and_rerun_through_the_api_and_tickets_land_in_postgres(dagbag, live_health_services, monkeypatch) -> None:
    """The real repair: phase7_03 (tagged self-heal:clear) fails while its dependency is down; once it is back, the
    health checks find the failed task through the REST API, clear it, the scheduler re-runs it and it succeeds.
    Anything still wrong becomes a row in ops.health_tickets, read back here."""
    from common.warehouse_governance import connect
    from local.airflow_client import AirflowClient

    breaker = "phase7_03_circuit_breaker"
    client = AirflowClient()
    _flaky("down")
    try:
        run_id = client.trigger(breaker, {"require_success": True, "calls": 1, "failure_threshold": 50, "cooldown_seconds": 0})
        assert client.wait(breaker, run_id)["state"] == "failed"
    finally:
        _flaky("up")

    # The partner API unreachable (a closed port): a P2 component that stays down, so a ticket, not a page.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    api = json.loads(os.environ["AIRFLOW_CONN_HTTP_API_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_HTTP_API_DEFAULT", json.dumps({**api, "host": "127.0.0.1", "port": closed, "schema": "http"}))
    run = get_dag(dagbag, HEALTH).test()
    assert run.state == "success", task_states(run)
    probed = {r["component"]: r for r in xcom_value(run, "probe_components")}
    assert probed["failed_tasks"]["status"] == "unhealthy" and f"{breaker}/{run_id}" in probed["failed_tasks"]["detail"]
    healed = {r["component"]: r for r in xcom_value(run, "self_heal")}
    assert healed["failed_tasks"]["remediated"] is True, healed["failed_tasks"]
    assert client.run(breaker, run_id)["state"] == "success", "the cleared run was re-run by the scheduler and passed"
    tries = {t["task_id"]: t["try_number"] for t in client.task_instances(breaker, run_id)}
    assert tries["call_through_breaker"] > 1

    report = xcom_value(run, "escalate_and_report")
    with connect(conn_id="postgres_default") as db, db.cursor() as cur:
        cur.execute("SELECT id, component, severity, summary FROM ops.health_tickets WHERE run_id = %s ORDER BY id", (run.run_id,))
        rows = cur.fetchall()
    tickets = [e for e in report["escalations"] if e["action"] == "ticket"]
    assert ("api", "P2") in [(r[1], r[2]) for r in rows], rows
    assert [r[0] for r in rows] == report["tickets"] and [(r[1], r[2]) for r in rows] == [(t["component"], t["severity"]) for t in tickets]
