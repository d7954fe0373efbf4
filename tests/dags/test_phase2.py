"""Phase 2 (scheduling, TaskFlow): schedule settings, TaskFlow XComs moving real data in dag.test(), and a TaskFlow
run without a logical date in the local platform's real Airflow (scheduler, LocalExecutor, REST API)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from airflow_live import pause, states
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
