"""Phase 7 (resilience): structure, and real dag.test() runs on the migrated metadata DB.

The backoff test measures the waits Airflow actually left between tries and compares them with Airflow's own
next_retry_datetime() and with common.resilience.backoff_window; the timeout test proves a slow task is killed.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from common.resilience import backoff_window


def _dag(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    assert dag is not None, f"{dag_id} missing; import errors: {dagbag.import_errors}"
    return dag


def _tis(run):
    return {ti.task_id: ti for ti in run.get_task_instances()}


def _history(dag_id: str, run_id: str, task_id: str):
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(TaskInstanceHistory)
            .filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id)
            .order_by(TaskInstanceHistory.try_number)
            .all()
        )
        session.expunge_all()
        return rows


def _airflow_next_retry(ti, task, try_number, end_date):
    """TaskInstance.next_retry_datetime() evaluated as it was when try `try_number` failed (nothing is saved)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        probe = session.get(TaskInstance, ti.id)
        probe.task = task
        probe.try_number, probe.end_date = try_number, end_date
        scheduled = probe.next_retry_datetime()
        session.rollback()
    return scheduled


def test_retry_dag_structure(dagbag):
    dag = _dag(dagbag, "phase7_01_retry_strategies")
    upstream = dag.get_task("call_unstable_upstream")
    assert upstream.retry_exponential_backoff == 2.0
    assert upstream.max_retry_delay == timedelta(seconds=4)
    assert upstream.retries == 4
    assert dag.get_task("bounded_slow_call").execution_timeout == timedelta(seconds=3)
    assert dag.get_task("summarize").upstream_task_ids == {"call_unstable_upstream", "bounded_slow_call"}


def test_exponential_backoff_delays_are_the_ones_airflow_computed(dagbag):
    dag = _dag(dagbag, "phase7_01_retry_strategies")
    run = dag.test(run_conf={"fail_first_tries": 3, "slow_seconds": 0})
    assert run.state == "success"
    final = _tis(run)["call_unstable_upstream"]
    assert final.try_number == 4

    failed_tries = _history(dag.dag_id, run.run_id, "call_unstable_upstream")
    assert [h.try_number for h in failed_tries] == [1, 2, 3]
    assert all(h.state in ("up_for_retry", "failed") for h in failed_tries), [h.state for h in failed_tries]
    starts = [h.start_date for h in failed_tries[1:]] + [final.start_date]
    task = dag.get_task("call_unstable_upstream")
    waits = []
    for failed, next_start in zip(failed_tries, starts, strict=True):
        # Airflow's own calculation, on a task instance carrying this try's number and end time.
        scheduled = _airflow_next_retry(final, task, failed.try_number, failed.end_date)
        low, high = backoff_window(task.retry_delay, 2.0, failed.try_number, task.max_retry_delay)
        assert low <= scheduled - failed.end_date <= high
        assert next_start >= scheduled, f"try {failed.try_number + 1} started before its backoff ended"
        waits.append((next_start - failed.end_date).total_seconds())
    # 1s, then 2-3s, then capped at 4s: every wait is at least its window's lower bound and they grow.
    assert waits[0] >= 1 and waits[1] >= 2 and waits[2] >= 4
    assert waits[0] < waits[2]


def test_execution_timeout_kills_a_slow_task(dagbag):
    dag = _dag(dagbag, "phase7_01_retry_strategies")
    started = time.monotonic()
    run = dag.test(run_conf={"fail_first_tries": 0, "slow_seconds": 60})
    elapsed = time.monotonic() - started
    slow = _tis(run)["bounded_slow_call"]
    assert slow.state == "failed"
    assert slow.try_number == 1  # retries=0: a timeout is not retried
    assert (slow.end_date - slow.start_date).total_seconds() == pytest.approx(3, abs=1.5)
    assert elapsed < 30, "the 60 s sleep was not interrupted"
    assert _tis(run)["summarize"].state == "upstream_failed"
    assert run.state == "failed"


def _forget_last_good():
    """Delete every saved last_good_rates XCom, as if no healthy run had happened yet."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(XComModel).filter_by(dag_id="phase7_02_exception_handling", key="last_good_rates").delete()


def test_exception_handling_healthy_upstream_quarantines_the_malformed_record(dagbag):
    dag = _dag(dagbag, "phase7_02_exception_handling")
    _forget_last_good()
    run = dag.test(run_conf={"primary_mode": "ok"})
    assert run.state == "success"
    result = _tis(run)["publish"].xcom_pull(task_ids="publish")
    assert result == {"source": "primary_api", "degraded": False, "quarantined": 1, "rates": 3}
    validated = _tis(run)["validate_rates"].xcom_pull(task_ids="validate_rates")
    with open(validated["quarantine_file"]) as handle:
        quarantined = [json.loads(line) for line in handle]
    assert quarantined == [
        {"record": {"currency": "CHF", "rate": "n/a"}, "reasons": ["rate: expected int|float, got str"]}
    ]
    last_good = _tis(run)["validate_rates"].xcom_pull(task_ids="validate_rates", key="last_good_rates")
    assert [r["currency"] for r in last_good] == ["EUR", "GBP", "JPY"]


def test_exception_handling_transient_outage_degrades_to_last_good(dagbag):
    dag = _dag(dagbag, "phase7_02_exception_handling")
    _forget_last_good()
    assert dag.test(run_conf={"primary_mode": "ok"}).state == "success"  # a healthy run leaves last good rates
    run = dag.test(run_conf={"primary_mode": "unavailable"})
    assert run.state == "success"
    result = _tis(run)["publish"].xcom_pull(task_ids="publish")
    assert result == {"source": "last_good_rates", "degraded": True, "quarantined": 0, "rates": 3}
    fetched = _tis(run)["fetch_rates"].xcom_pull(task_ids="fetch_rates")
    assert fetched["error"] == "TransientError: rates API answered 503 Service Unavailable"


def test_exception_handling_permanent_error_fails_without_retries(dagbag):
    dag = _dag(dagbag, "phase7_02_exception_handling")
    run = dag.test(run_conf={"primary_mode": "invalid_credentials"})
    fetch = _tis(run)["fetch_rates"]
    assert fetch.state == "failed"
    assert fetch.try_number == 1, "a PermanentError must not be retried"
    assert run.state == "failed"


def test_exception_handling_without_fallback_fails_fast(dagbag):
    dag = _dag(dagbag, "phase7_02_exception_handling")
    _forget_last_good()
    run = dag.test(run_conf={"primary_mode": "unavailable"})
    fetch = _tis(run)["fetch_rates"]
    assert fetch.state == "failed" and fetch.try_number == 1, "nothing to fall back to is permanent: no retries"
    assert run.state == "failed"


# --- circuit breaker: Postgres (real) holds the state; the flaky service is the HTTP stand-ins process (/flaky/default)


def _flaky(base_url: str, method: str = "GET", body: dict | None = None) -> dict:
    import requests

    response = requests.request(method, f"{base_url}/_control/flaky/default", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def _breaker_row():
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    row = PostgresHook(postgres_conn_id="postgres_default").get_first(
        "SELECT state::text FROM circuit_breaker_state WHERE name = 'flaky_service'"
    )
    return json.loads(row[0]) if row else None


def _reset_breaker():
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from common.circuit_breaker import STATE_TABLE_DDL

    hook = PostgresHook(postgres_conn_id="postgres_default")
    hook.run(STATE_TABLE_DDL)
    hook.run("DELETE FROM circuit_breaker_state WHERE name = 'flaky_service'")


def test_circuit_breaker_closed_open_half_open_closed_across_runs(
    dagbag, postgres_service, http_standins_service, platform_connections
):
    dag = _dag(dagbag, "phase7_03_circuit_breaker")
    base = http_standins_service.url
    _reset_breaker()

    # Run 1: the service is down. Three failures open the circuit; the last two calls never reach the service.
    _flaky(base, "POST", {"mode": "down"})
    first = dag.test(run_conf={"calls": 5, "failure_threshold": 3, "cooldown_seconds": 600})
    assert first.state == "success", "an open circuit degrades the run instead of failing it"
    result = _tis(first)["report"].xcom_pull(task_ids="report")
    assert result["outcomes"] == ["failed", "failed", "failed", "short_circuited", "short_circuited"]
    assert result["state"] == "OPEN" and result["transitions"] == ["CLOSED->OPEN"] and result["degraded"] is True
    assert _flaky(base)["calls"] == 3

    # Run 2: a new run reads the OPEN state from Postgres and, within the cooldown, does not call at all.
    _flaky(base, "POST", {"mode": "up"})
    second = dag.test(run_conf={"calls": 2, "failure_threshold": 3, "cooldown_seconds": 600})
    assert _tis(second)["report"].xcom_pull(task_ids="report")["outcomes"] == ["short_circuited", "short_circuited"]
    assert _flaky(base)["calls"] == 0, "the state survived the run boundary: no call went out"

    # Run 3: cooldown over (0 s): HALF_OPEN trial succeeds, the circuit closes, later calls flow.
    third = dag.test(run_conf={"calls": 3, "failure_threshold": 3, "cooldown_seconds": 0})
    result = _tis(third)["report"].xcom_pull(task_ids="report")
    assert result["outcomes"] == ["ok", "ok", "ok"]
    assert result["transitions"] == ["OPEN->HALF_OPEN", "HALF_OPEN->CLOSED"]
    assert result["state"] == "CLOSED" and result["degraded"] is False
    stored = _breaker_row()
    assert [(t["from"], t["to"]) for t in stored["transitions"]] == [
        ("CLOSED", "OPEN"),
        ("OPEN", "HALF_OPEN"),
        ("HALF_OPEN", "CLOSED"),
    ]
    assert _flaky(base)["calls"] == 3
