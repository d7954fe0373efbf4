"""Phase 2 (scheduling, TaskFlow): schedule settings, TaskFlow XComs moving real data in dag.test(), a TaskFlow
run without a logical date, and a backfill through the REST API (`/api/v2/backfills`), both in the local platform's
real Airflow (api-server, scheduler, LocalExecutor)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from airflow_live import backfill_body, free_weekday_window, pause, runs_between, states, wait_backfill
from dag_run_helpers import get_dag, task_states, xcom_value


def test_scheduled_dag_uses_cron_without_catchup_and_one_active_run(dagbag):
    dag = get_dag(dagbag, "phase2_01_scheduled_dag")
    assert type(dag.timetable).__name__ == "CronTriggerTimetable"
    assert dag.timetable.expression == "0 6 * * 1-5"
    assert dag.catchup is False
    assert dag.max_active_runs == 1


def test_scheduled_dag_reports_next_weekday_runs_and_presets(dagbag):
    run = get_dag(dagbag, "phase2_01_scheduled_dag").test()
    assert run.state == "success"
    report = xcom_value(run, "describe_schedule")
    next_runs = [datetime.fromisoformat(moment) for moment in report["next_runs"]]
    assert len(next_runs) == 3 and next_runs == sorted(next_runs)
    assert all(moment.weekday() < 5 and (moment.hour, moment.minute) == (6, 0) for moment in next_runs)
    assert report["presets"]["@once"] == []
    assert report["run_type"] == "manual"
    hourly = [datetime.fromisoformat(moment) for moment in report["presets"]["@hourly"]]
    assert (hourly[1] - hourly[0]).total_seconds() == 3600
    weekly = [datetime.fromisoformat(moment) for moment in report["presets"]["@weekly"]]
    assert all(moment.weekday() == 6 for moment in weekly)  # cron day 0 = Sunday


def test_taskflow_dag_is_decorator_built_with_automatic_xcom(dagbag):
    dag = get_dag(dagbag, "phase2_02_taskflow_api")
    assert set(dag.task_ids) == {"extract", "validate", "quarantine", "report"}
    assert dag.get_task("validate").multiple_outputs is True
    assert dag.get_task("report").upstream_task_ids == {"validate", "quarantine"}
    assert dag.timetable.expression == "0 0 * * *"  # @daily


def test_taskflow_run_quarantines_bad_orders_and_drops_none(dagbag, tmp_path):
    dag = get_dag(dagbag, "phase2_02_taskflow_api")
    run = dag.test(run_conf={"order_count": 50, "bad_every": 10, "quarantine_dir": str(tmp_path)})
    assert run.state == "success", task_states(run)
    # multiple_outputs split the dict into one XCom per key
    valid = xcom_value(run, "validate", key="valid")
    quarantined = xcom_value(run, "validate", key="quarantined")
    assert len(valid) == 45 and len(quarantined) == 5
    quarantine_file = tmp_path / f"orders_{run.logical_date.strftime('%Y%m%d')}.jsonl"
    lines = [json.loads(line) for line in quarantine_file.read_text().splitlines()]
    assert [line["order_id"] for line in lines] == [order["order_id"] for order in quarantined]
    assert all(line["problems"] for line in lines)
    report = xcom_value(run, "report")
    assert report["count"] + report["quarantined"] == 50
    assert report["revenue"] == round(sum(order["amount"] for order in valid), 2)


# ------------------------------------------------------------------------------------------ real scheduler
def test_taskflow_run_without_a_logical_date_uses_the_run_after_date(airflow_service, tmp_path):
    """A manual trigger with `logical_date: null` has no `ds` in its context: the batch is dated by run_after."""
    from local.airflow_client import AirflowClient

    dag_id = "phase2_02_taskflow_api"
    client = AirflowClient()
    conf = {"order_count": 20, "bad_every": 5, "quarantine_dir": str(tmp_path)}
    try:
        run_id = client.trigger(dag_id, conf, with_logical_date=False)
        run = client.wait(dag_id, run_id, timeout=300)
    finally:
        pause(client, dag_id)
    assert run["logical_date"] is None
    assert run["state"] == "success", states(client, dag_id, run_id)
    day = datetime.fromisoformat(run["run_after"].replace("Z", "+00:00")).astimezone(UTC).strftime("%Y%m%d")
    orders = client.xcom(dag_id, run_id, "extract")
    assert [order["order_id"] for order in orders] == [f"{day}-{index:04d}" for index in range(20)]
    quarantined = client.xcom(dag_id, run_id, "validate", key="quarantined")
    assert len(quarantined) == 4
    lines = [json.loads(line) for line in (tmp_path / f"orders_{day}.jsonl").read_text().splitlines()]
    assert [line["order_id"] for line in lines] == [order["order_id"] for order in quarantined]
    assert client.xcom(dag_id, run_id, "report")["quarantined"] == 4


def test_backfill_through_the_rest_api_runs_each_weekday_once(airflow_service):
    """POST /api/v2/backfills over three weekdays: three backfill runs on the 06:00 ticks, all successful; asking
    again while it runs is refused (409), and asking again afterwards (reprocess_behavior=none) creates no run."""
    from datetime import timedelta

    from local.airflow_client import AirflowClient
    from local.services.base import ServiceError

    dag_id = "phase2_01_scheduled_dag"
    client = AirflowClient()
    client.wait_for_dag(dag_id)
    start, end = free_weekday_window(client, dag_id, days=3)
    ticks = [(start + timedelta(days=offset, hours=6)).isoformat().replace("+00:00", "Z") for offset in range(3)]
    body = backfill_body(dag_id, start, end, reprocess="none", max_active_runs=1)

    planned = client.call("POST", "/backfills/dry_run", body)
    assert [entry["logical_date"] for entry in planned["backfills"]] == ticks
    client.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})  # the scheduler only runs an unpaused DAG's runs
    backfill = client.call("POST", "/backfills", body)
    try:
        with pytest.raises(ServiceError, match="HTTP 409"):
            client.call("POST", "/backfills", body)  # one active backfill per DAG
        done = wait_backfill(client, backfill["id"])
    finally:
        if not client.call("GET", f"/backfills/{backfill['id']}")["completed_at"]:
            client.call("PUT", f"/backfills/{backfill['id']}/cancel")
        pause(client, dag_id)
    assert done["dag_id"] == dag_id and done["reprocess_behavior"] == "none" and done["max_active_runs"] == 1

    runs = runs_between(client, dag_id, start, end)
    assert [run["logical_date"] for run in runs] == ticks
    assert {run["run_type"] for run in runs} == {"backfill"}
    assert [run["state"] for run in runs] == ["success"] * 3, [
        states(client, dag_id, run["dag_run_id"]) for run in runs
    ]
    for run, tick in zip(runs, ticks, strict=True):
        report = client.xcom(dag_id, run["dag_run_id"], "describe_schedule")
        assert report["run_type"] == "backfill"
        day = datetime.fromisoformat(tick.replace("Z", "+00:00"))
        assert [datetime.fromisoformat(bound) for bound in report["data_interval"]] == [day, day]

    # the same request again: every day already has a run, so nothing is planned and nothing is created
    assert client.call("POST", "/backfills/dry_run", body)["total_entries"] == 0
    client.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})
    try:
        again = client.call("POST", "/backfills", body)
        wait_backfill(client, again["id"], timeout=120)
    finally:
        pause(client, dag_id)
    assert [run["dag_run_id"] for run in runs_between(client, dag_id, start, end)] == [
        run["dag_run_id"] for run in runs
    ]


def test_the_runbook_requests_the_backfill_the_live_test_runs():
    """docs/runbooks/backfill.md's request body is the one the live backfill test sends (same fields, same values)."""
    import re
    from pathlib import Path

    runbook = (Path(__file__).resolve().parents[2] / "docs" / "runbooks" / "backfill.md").read_text()
    documented = json.loads(re.search(r"BODY='(\{.*?\})'", runbook, re.DOTALL).group(1))
    start = datetime(2026, 3, 3, tzinfo=UTC)
    end = datetime(2026, 3, 5, 23, 59, 59, tzinfo=UTC)
    expected = backfill_body("phase2_01_scheduled_dag", start, end, reprocess="none", max_active_runs=1)
    as_sent = {**expected, "from_date": "2026-03-03T00:00:00Z", "to_date": "2026-03-05T23:59:59Z"}
    assert documented == as_sent
    for path in ("/api/v2/backfills/dry_run", "/api/v2/backfills", "/auth/token", "/cancel"):
        assert path in runbook
